// dns_check_command.cc: `postino dns check` (see dns_check_command.h):
// resolver set-up and printing; the checks are in dns_record_checks.cc.
#include "cli/dns_check_command.h"

#include <fmt/format.h>

#include <nlohmann/json.hpp>

#include "cli/dns_record_checks.h"
#include "common/strings.h"
#include "common/utf8.h"
#include "engine/net/dns_query.h"

namespace postino::cli {

int RunDnsCheck(Context& ctx, const DnsCheckOptions& o) {
  Result<const config::Config*> cfg = ctx.Config();
  if (!cfg.ok()) return ctx.SetupFailure(cfg.status());
  std::vector<std::string> servers = o.servers.empty() ? (*cfg)->dns.servers : o.servers;
  Result<std::unique_ptr<net::DnsClient>> dns = net::DnsClient::Create(servers);
  if (!dns.ok()) {
    fmt::print(stderr, "postino: {}\n", dns.status().message());
    return kExitUsage;
  }
  std::vector<DnsCheckRow> rows = CheckDomainDns(**dns, **cfg, o.domain);
  int fails = 0, warns = 0;
  for (const auto& r : rows) {
    fails += r.result == "fail";
    warns += r.result == "warn";
  }
  if (o.format == "json") {
    nlohmann::json checks = nlohmann::json::array();
    for (const auto& r : rows) {
      checks.push_back({{"check", r.check},
                        {"subject", SanitizeUtf8(r.subject)},
                        {"result", r.result},
                        {"detail", SanitizeUtf8(r.detail)},
                        {"fix", SanitizeUtf8(r.fix)}});
    }
    nlohmann::json out = {{"domain", AsciiLower(o.domain)},
                          {"checks", checks},
                          {"fail", fails},
                          {"warn", warns},
                          {"pass", static_cast<int>(rows.size()) - fails - warns}};
    fmt::print("{}\n", out.dump(2));
  } else {
    fmt::print("{:<16} {:<44} {:<5} {}\n", "CHECK", "SUBJECT", "RESULT", "DETAIL / FIX");
    for (const auto& r : rows) {
      fmt::print("{:<16} {:<44} {:<6} {}\n", r.check, EscapeControl(r.subject), r.result,
                 EscapeControl(r.detail));
      if (!r.fix.empty()) fmt::print("{:<16} {:<44} {:<6} fix: {}\n", "", "", "", EscapeControl(r.fix));
    }
    fmt::print("{}: {} passed, {} warning(s), {} failed\n", AsciiLower(o.domain),
               rows.size() - static_cast<size_t>(fails + warns), warns, fails);
  }
  return fails > 0 ? kExitFailure : kExitOk;
}

}  // namespace postino::cli
