// sources_command.cc: source states from the configuration (sources, pools,
// warm-up plans) and PostgreSQL (today's deliveries per source address, and
// egress_events written by every running node).
#include "cli/sources_command.h"

#include <fmt/format.h>

#include <chrono>
#include <ctime>
#include <map>
#include <nlohmann/json.hpp>

#include "common/clock.h"
#include "common/log.h"
#include "common/strings.h"
#include "engine/shaping/warmup.h"
#include "scheduler/engine_config.h"

namespace postino::cli {

int RunSources(Context& ctx, int events, const std::string& format) {
  bool json = format == "json";
  nlohmann::json out = {{"sources", nlohmann::json::array()}, {"events", nlohmann::json::array()}};
  Result<const config::Config*> cfg = ctx.Config();
  if (!cfg.ok()) return ctx.SetupFailure(cfg.status());
  Result<db::Database*> db = ctx.Database();
  if (!db.ok()) return ctx.SetupFailure(db.status());

  Result<std::vector<std::pair<std::string, int64_t>>> today = (*db)->DeliveredTodayBySource();
  if (!today.ok()) return Fail(today.status());
  std::map<std::string, int64_t> by_address(today->begin(), today->end());

  // Paths whose latest event is a suspension or slow-down still in force
  // (the same states a starting `postino run` honours).
  Result<std::vector<db::Database::EgressEvent>> active = (*db)->ActivePathStates();
  if (!active.ok()) return Fail(active.status());
  std::map<std::string, std::vector<std::string>> limited;  // source -> descriptions
  std::map<std::string, nlohmann::json> limited_json;        // source -> [path]
  for (const auto& e : *active) {
    if (!e.until) continue;
    limited[e.source_name].push_back(fmt::format(
        "{} {}{} until {} ({})", e.site, e.action, e.action == "slowed" ? " to " + e.rate : "",
        log::IsoTime(*e.until), EscapeControl(e.reply.substr(0, 60))));
    limited_json[e.source_name].push_back({{"site", e.site},
                                           {"action", e.action},
                                           {"rate", e.rate.empty() ? nlohmann::json(nullptr)
                                                                   : nlohmann::json(e.rate)},
                                           {"until", log::IsoTime(*e.until)},
                                           {"reply", e.reply}});
  }

  shaping::WarmupTracker warmup(SystemClock::Instance(), scheduler::MakeWarmupPlans(**cfg));
  if (!json) {
    fmt::print("{:<12} {:<24} {:<10} {:>9} {:>9}  {}\n", "SOURCE", "ADDRESS", "STATE", "TODAY",
               "CAP", "WARM-UP");
  }
  for (const auto& s : (*cfg)->sources) {
    int64_t sent = by_address.count(s.address) ? by_address[s.address] : 0;
    for (int64_t i = 0; i < sent; ++i) warmup.RecordSent(s.name, "");
    shaping::SourceState w = warmup.State(s.name);
    bool capped = w.cap && static_cast<uint64_t>(sent) >= *w.cap;
    std::string state = capped ? "capped" : limited.count(s.name) ? "limited" : "ok";
    std::string plan = w.status == shaping::WarmupStatus::kNotWarming
                           ? "-"
                           : fmt::format("{} (day {})", shaping::WarmupStatusName(w.status),
                                         w.day + 1);
    if (json) {
      nlohmann::json warm = nullptr;
      if (w.status != shaping::WarmupStatus::kNotWarming) {
        warm = {{"status", shaping::WarmupStatusName(w.status)}, {"day", w.day + 1}};
      }
      out["sources"].push_back(
          {{"name", s.name},
           {"address", s.address},
           {"state", state},
           {"today", sent},
           {"cap", w.cap ? nlohmann::json(*w.cap) : nlohmann::json(nullptr)},
           {"warmup", warm},
           {"paths", limited_json.count(s.name) ? limited_json[s.name] : nlohmann::json::array()}});
      continue;
    }
    fmt::print("{:<12} {:<24} {:<10} {:>9} {:>9}  {}\n", s.name, s.address, state, sent,
               w.cap ? std::to_string(*w.cap) : "-", plan);
    for (const auto& d : limited[s.name]) fmt::print("{:<12}   path {}\n", "", d);
  }
  if (events > 0) {
    Result<db::Database::Table> recent = (*db)->Query(
        "SELECT to_char(at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), source_name, site, "
        "action, coalesce(rate, ''), coalesce(reply, '') FROM egress_events ORDER BY at DESC, id "
        "DESC LIMIT $1",
        {std::to_string(events)});
    if (!recent.ok()) return Fail(recent.status());
    if (!json && !recent->rows.empty()) {
      fmt::print("\nRecent path events (`postino sources resume SOURCE` lifts a suspension)\n");
    }
    for (const auto& row : recent->rows) {
      if (json) {
        out["events"].push_back({{"at", row[0].value_or("")},
                                 {"source", row[1].value_or("")},
                                 {"site", row[2].value_or("")},
                                 {"action", row[3].value_or("")},
                                 {"rate", row[4].value_or("")},
                                 {"reply", row[5].value_or("")}});
        continue;
      }
      fmt::print("{}  {:<12} {:<10} {:<28} {} {}\n", row[0].value_or(""), row[1].value_or(""),
                 row[3].value_or(""), row[2].value_or("").substr(0, 28), row[4].value_or(""),
                 EscapeControl(row[5].value_or("").substr(0, 80)));
    }
  }
  if (json) {
    // Peer replies may hold bytes that are not UTF-8: replaced, never fatal.
    fmt::print("{}\n", out.dump(2, ' ', false, nlohmann::json::error_handler_t::replace));
  }
  return kExitOk;
}

}  // namespace postino::cli
