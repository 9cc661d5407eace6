// dkim_commands.cc: generating DKIM keys.
#include "cli/dkim_commands.h"

#include <fmt/format.h>

#include "cli/context.h"
#include "templates/dkim.h"

namespace postino::cli {

int RunDkimKeygen(const DkimKeygenOptions& o) {
  templates::DkimAlgorithm algo;
  if (!templates::ParseDkimAlgorithm(o.algo, &algo)) {
    return Fail(Status::InvalidArgument(
        fmt::format("--algo \"{}\": expected rsa or ed25519", o.algo)));
  }
  std::string path = o.out.empty() ? fmt::format("{}.{}.{}.pem", o.selector, o.domain,
                                                 algo == templates::DkimAlgorithm::kRsaSha256
                                                     ? "rsa"
                                                     : "ed25519")
                                   : o.out;
  Result<std::string> record =
      templates::GenerateDkimKey(o.domain, o.selector, algo, path, o.bits);
  if (!record.ok()) return Fail(record.status());
  fmt::print(stderr, "private key written to {} (mode 0600)\n", path);
  fmt::print("{}\n", *record);
  fmt::print(stderr,
             "\nPublish the TXT record above, then add to postino.toml:\n\n"
             "[[dkim.keys]]\ndomain = \"{}\"\nselector = \"{}\"\nalgorithm = \"{}\"\n"
             "key_file = \"{}\"\n",
             o.domain, o.selector, templates::DkimAlgorithmName(algo), path);
  return kExitOk;
}

}  // namespace postino::cli
