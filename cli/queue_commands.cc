// queue_commands.cc: `postino queue …` and `postino sources resume` (see
// queue_commands.h); the SQL is in db/queue.cc.
#include "cli/queue_commands.h"

#include <fmt/format.h>

#include <nlohmann/json.hpp>

#include "common/log.h"
#include "common/strings.h"
#include "common/utf8.h"

namespace postino::cli {
namespace {

// Opens the database and checks that a named campaign exists (exit 6).
int Open(Context& ctx, const QueueOptions& o, db::Database** out) {
  Result<db::Database*> db = ctx.Database();
  if (!db.ok()) return ctx.SetupFailure(db.status());
  if (!o.campaign.empty()) {
    Result<bool> exists = (*db)->CampaignExists(o.campaign);
    if (!exists.ok()) return Fail(exists.status());
    if (!*exists) return Fail(Status::NotFound(fmt::format("no campaign named \"{}\"", o.campaign)));
  }
  *out = *db;
  return kExitOk;
}

db::Database::QueueFilter Filter(const QueueOptions& o) { return {o.campaign, AsciiLower(o.domain)}; }

// "campaign \"x\", domain y" for messages; "" when unfiltered.
std::string Scope(const QueueOptions& o) {
  std::string s;
  if (!o.campaign.empty()) s += fmt::format(" of campaign \"{}\"", o.campaign);
  if (!o.domain.empty()) s += fmt::format(" for {}", AsciiLower(o.domain));
  return s;
}

std::string When(const std::optional<db::TimePoint>& t) {
  return t ? log::IsoTime(*t) : std::string("-");
}

}  // namespace

int RunQueueLs(Context& ctx, const QueueOptions& o) {
  db::Database* db = nullptr;
  if (int rc = Open(ctx, o, &db); rc != kExitOk) return rc;
  Result<std::vector<db::Database::QueueRow>> rows = db->QueueSummary(Filter(o));
  if (!rows.ok()) return Fail(rows.status());
  if (o.format == "json") {
    nlohmann::json out = nlohmann::json::array();
    for (const auto& r : *rows) {
      nlohmann::json j = {{"campaign", r.campaign},
                          {"campaign_status", r.campaign_status},
                          {"domain", r.domain},
                          {"due", r.due},
                          {"waiting", r.waiting},
                          {"deferred", r.deferred},
                          {"held", r.held},
                          {"in_flight", r.in_flight},
                          {"next_attempt", nullptr},
                          {"last_attempt", nullptr},
                          {"last_reply", SanitizeUtf8(r.last_reply)}};
      if (r.next_attempt) j["next_attempt"] = log::IsoTime(*r.next_attempt);
      if (r.last_attempt) j["last_attempt"] = log::IsoTime(*r.last_attempt);
      out.push_back(std::move(j));
    }
    fmt::print("{}\n", out.dump(2));
    return kExitOk;
  }
  if (rows->empty()) {
    fmt::print("nothing queued{}\n", Scope(o));
    return kExitOk;
  }
  fmt::print("{:<20} {:<9} {:<24} {:>7} {:>7} {:>8} {:>6} {:>7}  {:<20}  {}\n", "CAMPAIGN",
             "STATUS", "DOMAIN", "DUE", "WAITING", "DEFERRED", "HELD", "SENDING", "NEXT ATTEMPT (UTC)",
             "LAST REPLY");
  int64_t due = 0, waiting = 0, deferred = 0, held = 0, sending = 0;
  for (const auto& r : *rows) {
    fmt::print("{:<20} {:<9} {:<24} {:>7} {:>7} {:>8} {:>6} {:>7}  {:<20}  {}\n",
               r.campaign.empty() ? "(submitted)" : r.campaign, r.campaign_status, r.domain, r.due,
               r.waiting, r.deferred, r.held, r.in_flight, When(r.next_attempt),
               EscapeControl(r.last_reply.substr(0, 80)));
    due += r.due;
    waiting += r.waiting;
    deferred += r.deferred;
    held += r.held;
    sending += r.in_flight;
  }
  fmt::print("total: {} due now, {} waiting for a later attempt ({} deferred after a try), {} "
             "held, {} being sent\n",
             due, waiting, deferred, held, sending);
  return kExitOk;
}

int RunQueueRetryNow(Context& ctx, const QueueOptions& o) {
  db::Database* db = nullptr;
  if (int rc = Open(ctx, o, &db); rc != kExitOk) return rc;
  Result<int64_t> n = db->RetryNow(Filter(o));
  if (!n.ok()) return Fail(n.status());
  fmt::print("{} recipient(s){} made due now; a running `postino run` picks them up at its next "
             "claim (held recipients stay held: `postino queue release`)\n",
             *n, Scope(o));
  return kExitOk;
}

int RunQueueHold(Context& ctx, const QueueOptions& o) {
  db::Database* db = nullptr;
  if (int rc = Open(ctx, o, &db); rc != kExitOk) return rc;
  int64_t leased = 0;
  Result<int64_t> n = db->HoldQueue(Filter(o), &leased);
  if (!n.ok()) return Fail(n.status());
  fmt::print("{} recipient(s){} held: no node sends them until `postino queue release`\n", *n,
             Scope(o));
  if (leased > 0) {
    fmt::print("{} recipient(s) are being sent right now and were not held\n", leased);
  }
  return kExitOk;
}

int RunQueueRelease(Context& ctx, const QueueOptions& o) {
  db::Database* db = nullptr;
  if (int rc = Open(ctx, o, &db); rc != kExitOk) return rc;
  Result<int64_t> n = db->ReleaseQueue(Filter(o));
  if (!n.ok()) return Fail(n.status());
  fmt::print("{} held recipient(s){} released: due now\n", *n, Scope(o));
  return kExitOk;
}

int RunSourcesResume(Context& ctx, const std::string& source, const std::string& site) {
  Result<const config::Config*> cfg = ctx.Config();
  if (!cfg.ok()) return ctx.SetupFailure(cfg.status());
  if ((*cfg)->FindSource(source) == nullptr) {
    std::string names;
    for (const auto& s : (*cfg)->sources) names += (names.empty() ? "" : ", ") + s.name;
    return Fail(Status::NotFound(fmt::format("no source named \"{}\" in {} (sources: {})", source,
                                             (*cfg)->file, names.empty() ? "none" : names)));
  }
  Result<db::Database*> db = ctx.Database();
  if (!db.ok()) return ctx.SetupFailure(db.status());
  Result<std::vector<db::Database::EgressEvent>> lifted =
      (*db)->ResumePaths(db::kOperatorNode, source, site);
  if (!lifted.ok()) return Fail(lifted.status());
  if (lifted->empty()) {
    fmt::print("source {} has no suspension or slow-down in force{}; nothing to resume\n", source,
               site.empty() ? "" : fmt::format(" on a site matching \"{}\"", site));
    return kExitOk;
  }
  for (const auto& e : *lifted) {
    fmt::print("resumed {} -> {} (was {}{})\n", source, e.site, e.action,
               e.until ? " until " + log::IsoTime(*e.until) : std::string());
  }
  fmt::print("{} path(s) resumed: a running `postino run` applies this within a second, a new "
             "one at start\n",
             lifted->size());
  return kExitOk;
}

}  // namespace postino::cli
