// bounces_commands.cc: `postino bounces parse|import` (see bounces_commands.h).
#include "cli/bounces_commands.h"

#include <fmt/format.h>

#include <cstdio>
#include <map>
#include <nlohmann/json.hpp>

#include "inbound/returns/intake.h"
#include "inbound/returns/mailbox.h"
#include "inbound/returns/report.h"

namespace postino::cli {

namespace returns = inbound::returns;

int RunBouncesParse(const std::vector<std::string>& paths) {
  int rc = kExitOk;
  returns::MailboxLimits limits;
  for (const std::string& path : paths) {
    Status st = returns::ForEachMessage(path, limits, [&](const std::string& name, std::string_view bytes) {
      returns::ReturnReport report = returns::ParseReturn(bytes);
      for (const returns::RecipientReport& r : report.recipients) {
        nlohmann::json j;
        j["file"] = name;
        j["address"] = r.address;
        j["status"] = r.status.empty() ? nlohmann::json() : nlohmann::json(r.status);
        j["reply_code"] =
            r.reply_code ? nlohmann::json(std::to_string(r.reply_code)) : nlohmann::json();
        j["reason"] = r.reason;
        j["hard_bounce"] = r.hard_bounce;
        j["feedback_type"] = r.feedback_type.empty() ? nlohmann::json() : nlohmann::json(r.feedback_type);
        j["kind"] = returns::ReportKindName(report.kind);
        j["action"] = r.action.empty() ? nlohmann::json() : nlohmann::json(r.action);
        j["diagnostic"] = r.diagnostic.substr(0, 300);
        std::string line = j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
        std::fwrite(line.data(), 1, line.size(), stdout);
        std::fputc('\n', stdout);
      }
      if (report.recipients.empty()) {
        fmt::print(stderr, "postino: {}: no report recognised\n", name);
      }
    });
    if (!st.ok()) {
      Fail(st);
      rc = kExitFailure;
    }
  }
  return rc;
}

}  // namespace postino::cli
namespace postino::cli {

inbound::returns::ReturnsConfig IntakeConfigFrom(const config::Config& c) {
  inbound::returns::ReturnsConfig r;
  r.verp_domains = c.returns.verp_domains;
  if (r.verp_domains.empty() && !c.campaign_defaults.verp_domain.empty())
    r.verp_domains.push_back(c.campaign_defaults.verp_domain);
  r.feedback_addresses = c.returns.feedback_addresses;
  if (!c.unsubscribe.mailto.empty()) r.feedback_addresses.push_back(c.unsubscribe.mailto);
  r.secret = c.unsubscribe.secret;
  r.max_message_size = c.returns.max_message_size;
  r.auto_suppress_hard_bounces = c.suppression.auto_suppress_hard_bounces;
  r.node = c.node.id.empty() ? "returns" : c.node.id;
  return r;
}

int RunBouncesImport(Context& ctx, const std::vector<std::string>& paths, bool json) {
  Result<const config::Config*> cfg = ctx.Config();
  if (!cfg.ok()) return ctx.SetupFailure(cfg.status());
  Result<db::Database*> db = ctx.Database();
  if (!db.ok()) return ctx.SetupFailure(db.status());
  returns::ReturnsConfig rc = IntakeConfigFrom(**cfg);
  returns::IntakeSummary total;
  returns::MailboxLimits limits;
  int rc_exit = kExitOk;
  Status db_error;
  for (const std::string& path : paths) {
    Status st = returns::ForEachMessage(path, limits, [&](const std::string& name, std::string_view bytes) {
      if (!db_error.ok()) return;
      Result<returns::IntakeSummary> one =
          returns::ProcessReturnedMessage(**db, rc, "", {}, bytes);
      if (!one.ok()) {
        db_error = Status(one.status().code(), name + ": " + one.status().message());
        return;
      }
      if (one->oversized) fmt::print(stderr, "postino: {}: larger than returns.max_message_size, skipped\n", name);
      total.Add(*one);
    });
    if (!db_error.ok()) {
      Fail(db_error);
      return kExitDatabase;
    }
    if (!st.ok()) {
      Fail(st);
      rc_exit = kExitFailure;
    }
  }
  if (json) {
    nlohmann::json j = {{"messages", total.messages},   {"duplicates", total.duplicates},
                        {"oversized", total.oversized}, {"recipients", total.recipients},
                        {"matched", total.matched},     {"unmatched", total.unmatched},
                        {"ignored", total.ignored},     {"hard_bounces", total.hard_bounces},
                        {"permanent_bounces", total.permanent_bounces},
                        {"soft_bounces", total.soft_bounces}, {"complaints", total.complaints},
                        {"unsubscribes", total.unsubscribes}, {"reasons", total.reasons}};
    fmt::print("{}\n", j.dump());
  } else {
    fmt::print("messages     {} ({} already imported, {} too large)\n", total.messages,
               total.duplicates, total.oversized);
    fmt::print("recipients   {}: matched {}, unmatched {}, no action {}\n", total.recipients,
               total.matched, total.unmatched, total.ignored);
    fmt::print("bounces      {} permanent ({} suppressed as hard), {} soft\n",
               total.permanent_bounces, total.hard_bounces, total.soft_bounces);
    fmt::print("complaints   {}, unsubscribes {}\n", total.complaints, total.unsubscribes);
    for (const auto& [reason, n] : total.reasons) fmt::print("  {:<16} {}\n", reason, n);
  }
  return rc_exit;
}

}  // namespace postino::cli
