// dkim_commands.h: `postino dkim keygen`.
#pragma once

#include <string>

namespace postino::cli {

struct DkimKeygenOptions {
  std::string domain, selector, algo = "rsa", out;
  int bits = 2048;
};

// Writes the private key (mode 0600, never overwriting) and prints the DNS
// TXT record to publish and the [[dkim.keys]] entry for postino.toml.
int RunDkimKeygen(const DkimKeygenOptions& options);

}  // namespace postino::cli
