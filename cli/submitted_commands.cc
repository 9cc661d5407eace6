// submitted_commands.cc: `postino submitted ls|show` (docs/dsn.md).
#include "cli/submitted_commands.h"

#include <fmt/format.h>

#include <ctime>
#include <nlohmann/json.hpp>

#include "cli/time_parse.h"
#include "common/strings.h"

namespace postino::cli {
namespace {

std::string Utc(std::optional<db::TimePoint> t) {
  if (!t) return "";
  std::time_t s = std::chrono::system_clock::to_time_t(*t);
  std::tm tm{};
  gmtime_r(&s, &tm);
  return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z", tm.tm_year + 1900, tm.tm_mon + 1,
                     tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
}

nlohmann::json TimeJson(std::optional<db::TimePoint> t) {
  return t ? nlohmann::json(Utc(t)) : nlohmann::json(nullptr);
}

// "24h"/"7d" ago, or a UTC date "YYYY-MM-DD[ HH:MM[:SS]]" (also with 'T'/'Z').
Result<db::TimePoint> ParseSince(const std::string& text) {
  int y = 0, mo = 0, d = 0, h = 0, mi = 0, s = 0;
  char sep = ' ';
  int n = std::sscanf(text.c_str(), "%4d-%2d-%2d%c%2d:%2d:%2d", &y, &mo, &d, &sep, &h, &mi, &s);
  if (n >= 3 && text.size() >= 10 && text[4] == '-') {
    if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || s > 60 ||
        (n > 3 && sep != ' ' && sep != 'T')) {
      return Status::InvalidArgument(fmt::format(
          "--since \"{}\": expected \"YYYY-MM-DD[ HH:MM[:SS]]\" (UTC) or a duration such as 24h",
          text));
    }
    std::tm tm{};
    tm.tm_year = y - 1900;
    tm.tm_mon = mo - 1;
    tm.tm_mday = d;
    tm.tm_hour = h;
    tm.tm_min = mi;
    tm.tm_sec = s;
    return std::chrono::system_clock::from_time_t(timegm(&tm));
  }
  Result<Nanos> ago = ParseCliDuration("--since", text, std::chrono::hours(24 * 3650));
  if (!ago.ok()) return ago.status();
  return std::chrono::system_clock::now() -
         std::chrono::duration_cast<std::chrono::system_clock::duration>(*ago);
}

Status CheckFormat(const std::string& format) {
  if (format == "table" || format == "json") return Status::Ok();
  return Status::InvalidArgument(fmt::format("--format \"{}\": expected table or json", format));
}

}  // namespace

int RunSubmittedLs(Context& ctx, const SubmittedLsOptions& o) {
  if (Status st = CheckFormat(o.format); !st.ok()) return Fail(st);
  db::SubmissionFilter f;
  f.user = o.user;
  f.status = o.status;
  f.limit = o.limit;
  if (!o.since.empty()) {
    Result<db::TimePoint> since = ParseSince(o.since);
    if (!since.ok()) return Fail(since.status());
    f.since = *since;
  }
  Result<db::Database*> db = ctx.Database();
  if (!db.ok()) return ctx.SetupFailure(db.status());
  Result<std::vector<db::SubmissionListRow>> rows = (*db)->ListSubmissions(f);
  if (!rows.ok()) return Fail(rows.status());
  if (o.format == "json") {
    nlohmann::json out = nlohmann::json::array();
    for (const auto& r : *rows) {
      out.push_back({{"id", r.id},
                     {"received_at", Utc(r.received_at)},
                     {"user", r.user},
                     {"mail_from", r.mail_from},
                     {"message_id", r.message_id},
                     {"size", r.size},
                     {"status", r.status},
                     {"recipients", r.recipients},
                     {"delivered", r.delivered},
                     {"queued", r.queued},
                     {"failed", r.failed},
                     {"dsn", r.is_dsn}});
    }
    fmt::print("{}\n", out.dump(2, ' ', false, nlohmann::json::error_handler_t::replace));
    return kExitOk;
  }
  fmt::print("{:>8} {:<20} {:<12} {:<32} {:<9} {:>5} {:>5} {:>5} {:>5}\n", "ID",
             "RECEIVED (UTC)", "USER", "FROM", "STATUS", "RCPTS", "SENT", "QUEUE", "FAIL");
  for (const auto& r : *rows) {
    std::string from = r.mail_from.empty() ? "<>" : EscapeControl(r.mail_from);
    if (r.is_dsn) from += " (DSN)";
    fmt::print("{:>8} {:<20} {:<12} {:<32} {:<9} {:>5} {:>5} {:>5} {:>5}\n", r.id,
               Utc(r.received_at), EscapeControl(r.user), from, r.status, r.recipients,
               r.delivered, r.queued, r.failed);
  }
  return kExitOk;
}

int RunSubmittedShow(Context& ctx, int64_t id, const std::string& format) {
  if (Status st = CheckFormat(format); !st.ok()) return Fail(st);
  Result<db::Database*> db = ctx.Database();
  if (!db.ok()) return ctx.SetupFailure(db.status());
  Result<db::SubmissionDetail> d = (*db)->GetSubmission(id);
  if (!d.ok()) return Fail(d.status());
  if (format == "json") {
    nlohmann::json out = {{"id", d->id},
                          {"received_at", Utc(d->received_at)},
                          {"user", d->user},
                          {"mail_from", d->mail_from},
                          {"envid", d->envid},
                          {"ret", d->ret},
                          {"message_id", d->message_id},
                          {"client_ip", d->client_ip},
                          {"size", d->size},
                          {"body_8bitmime", d->body_8bitmime},
                          {"smtputf8", d->smtputf8},
                          {"dsn_for", d->dsn_for ? nlohmann::json(d->dsn_for) : nlohmann::json()},
                          {"dsn_action", d->dsn_action}};
    out["recipients"] = nlohmann::json::array();
    for (const auto& r : d->recipients) {
      out["recipients"].push_back({{"delivery_id", r.delivery_id},
                                   {"address", r.address},
                                   {"domain", r.domain},
                                   {"status", r.status},
                                   {"attempts", r.attempts},
                                   {"notify", r.notify},
                                   {"orcpt", r.orcpt},
                                   {"last_code", r.code ? nlohmann::json(r.code) : nlohmann::json()},
                                   {"last_enhanced", r.enhanced},
                                   {"last_reply", r.reply},
                                   {"mx_host", r.mx_host},
                                   {"source_ip", r.source_ip},
                                   {"next_attempt_at", TimeJson(r.next_attempt_at)},
                                   {"last_attempt_at", TimeJson(r.last_attempt_at)},
                                   {"finished_at", TimeJson(r.finished_at)},
                                   {"delay_warned", r.delay_warned}});
    }
    out["dsns"] = nlohmann::json::array();
    for (const auto& n : d->dsns) {
      out["dsns"].push_back({{"id", n.id}, {"action", n.action}, {"status", n.status},
                             {"created_at", Utc(n.created_at)}});
    }
    fmt::print("{}\n", out.dump(2, ' ', false, nlohmann::json::error_handler_t::replace));
    return kExitOk;
  }
  fmt::print("message {}\n", d->id);
  fmt::print("  received    {} from {} (user {})\n", Utc(d->received_at),
             d->client_ip.empty() ? "-" : d->client_ip, EscapeControl(d->user));
  fmt::print("  envelope    MAIL FROM:<{}>{}{}\n", EscapeControl(d->mail_from),
             d->ret.empty() ? "" : " RET=" + d->ret,
             d->envid.empty() ? "" : " ENVID=" + EscapeControl(d->envid));
  fmt::print("  message-id  <{}>, {} bytes{}{}\n", EscapeControl(d->message_id), d->size,
             d->body_8bitmime ? ", 8BITMIME" : "", d->smtputf8 ? ", SMTPUTF8" : "");
  if (d->dsn_for) fmt::print("  a {} DSN about message {}\n", d->dsn_action, d->dsn_for);
  fmt::print("recipients\n");
  for (const auto& r : d->recipients) {
    fmt::print("  {:<40} {:<9} attempts {}{}{}\n", EscapeControl(r.address), r.status, r.attempts,
               r.notify.empty() ? "" : " NOTIFY=" + r.notify,
               r.orcpt.empty() ? "" : " ORCPT=" + EscapeControl(r.orcpt));
    if (r.code) {
      fmt::print("    last reply  {} {}{}\n", r.code, EscapeControl(r.reply),
                 r.mx_host.empty() ? "" : " (" + EscapeControl(r.mx_host) + ")");
    } else if (!r.reply.empty()) {
      fmt::print("    last reply  {}\n", EscapeControl(r.reply));
    }
    if (r.next_attempt_at) fmt::print("    next try    {}\n", Utc(r.next_attempt_at));
  }
  fmt::print("DSNs sent\n");
  if (d->dsns.empty()) fmt::print("  none\n");
  for (const auto& n : d->dsns) {
    fmt::print("  message {} ({}) at {}: {}\n", n.id, n.action, Utc(n.created_at),
               n.status.empty() ? "-" : n.status);
  }
  return kExitOk;
}

void AddSubmittedCommands(CLI::App& app, std::function<int(Context&)>& action) {
  static SubmittedLsOptions ls_opts;
  static int64_t show_id = 0;
  static std::string show_format = "table";
  CLI::App* sub =
      app.add_subcommand("submitted", "mail handed over by SMTP submission, and its DSNs");
  sub->require_subcommand(1);
  CLI::App* ls = sub->add_subcommand("ls", "submitted messages, newest first");
  ls->add_option("--user", ls_opts.user, "only this user's messages");
  ls->add_option("--status", ls_opts.status, "queued, delivered, failed or partial");
  ls->add_option("--since", ls_opts.since,
                 "received since a UTC time (\"2026-12-01 08:00\") or for a duration (\"24h\")");
  ls->add_option("--format", ls_opts.format, "table or json");
  ls->add_option("--limit", ls_opts.limit, "rows to show (default 100)");
  ls->callback([&action] { action = [](Context& ctx) { return RunSubmittedLs(ctx, ls_opts); }; });
  CLI::App* show = sub->add_subcommand("show", "one message: envelope, recipients, DSNs sent");
  show->add_option("id", show_id, "message id (from `submitted ls`)")->required();
  show->add_option("--format", show_format, "table or json");
  show->callback([&action] {
    action = [](Context& ctx) { return RunSubmittedShow(ctx, show_id, show_format); };
  });
}

}  // namespace postino::cli
