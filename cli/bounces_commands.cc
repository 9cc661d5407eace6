// bounces_commands.cc: `postino bounces parse|import` (see bounces_commands.h).
#include "cli/bounces_commands.h"

#include <fmt/format.h>

#include <cstdio>
#include <map>
#include <nlohmann/json.hpp>

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
    if (!st.ok()) rc = Fail(st);
  }
  return rc;
}

}  // namespace postino::cli
namespace postino::cli {
int RunBouncesImport(Context& ctx, const std::vector<std::string>& paths, bool json) {
  return Fail(Status::Internal("not yet"));
}
}  // namespace postino::cli
