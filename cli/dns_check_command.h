// dns_check_command.h: `postino dns check --domain D`: the DNS a sending
// domain needs, checked against this configuration (sources, DKIM keys,
// VERP domain) — a table with pass/warn/fail and the fix, or JSON.
#pragma once

#include <string>
#include <vector>

#include "cli/context.h"

namespace postino::cli {

struct DnsCheckOptions {
  std::string domain;
  std::vector<std::string> servers;  // --dns-server; empty = [dns] servers, else resolv.conf
  std::string format = "table";
};

// Exit 0 when no check failed (warnings allowed), 1 when one did, 3 for a
// bad configuration, 2 for a bad --dns-server.
int RunDnsCheck(Context& ctx, const DnsCheckOptions& options);

}  // namespace postino::cli
