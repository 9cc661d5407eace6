// status_eta.cc: the ETA of `campaign status` (see status_eta.h).
#include "cli/status_eta.h"

#include <fmt/chrono.h>
#include <fmt/format.h>

#include <algorithm>

#include "cli/output.h"

namespace postino::cli {
namespace {

std::string HourMinute(db::TimePoint t) {
  return fmt::format("{:%H:%M} UTC", fmt::gmtime(std::chrono::system_clock::to_time_t(t)));
}

}  // namespace

Eta ComputeEta(db::Database& db, const db::CampaignRow& c, const db::CampaignProgress& p,
               const BuiltPlan* plan) {
  if (p.status == "paused") return {std::nullopt, "paused: no ETA until resumed"};
  if (p.status == "draft") return {std::nullopt, "draft: not launched"};
  if (p.status == "scheduled") {
    return {std::nullopt, c.scheduled_at ? "scheduled for " + IsoTime(*c.scheduled_at)
                                         : std::string("scheduled")};
  }
  if (p.status != "running") return {std::nullopt, ""};
  int64_t remaining = p.pending + p.deferred;
  if (remaining == 0) return {0.0, ""};
  auto now = std::chrono::system_clock::now();
  Result<db::Database::WaitInfo> w = db.CampaignWaits(c.id);
  if (!w.ok()) return {std::nullopt, ""};
  double rate = w->recent_rate;
  if (rate <= 0 && p.elapsed_seconds > 0) {
    rate = static_cast<double>(p.done() - p.suppressed - p.cancelled) / p.elapsed_seconds;
  }
  Eta eta;
  double t = -1;  // seconds from now
  int64_t ready = w->due_now + w->leased;
  if (rate > 0) t = static_cast<double>(ready) / rate;
  // Retries scheduled later: the campaign cannot end before the last one.
  if (w->last_attempt_at && *w->last_attempt_at > now) {
    double last = std::chrono::duration<double>(*w->last_attempt_at - now).count();
    if (last > t) {
      t = last;
      eta.note = ready == 0 ? fmt::format("waiting for retries: next at {}, last at {}",
                                          HourMinute(*w->next_attempt_at),
                                          HourMinute(*w->last_attempt_at))
                            : fmt::format("{} retries due until {}", w->waiting,
                                          HourMinute(*w->last_attempt_at));
    }
  }
  // Suspended or capped sources: the run estimate knows how long they hold.
  if (plan != nullptr && !plan->input.sites.empty()) {
    const scheduler::PlanSiteResult& last = plan->result.sites[plan->result.last_site];
    const std::string& site = plan->input.sites[plan->result.last_site].key;
    bool holding = last.held_until || last.bound == "warm-up cap" ||
                   last.bound.find("no source") != std::string::npos;
    if (!plan->result.finish) {
      return {std::nullopt, fmt::format("no ETA: site {}: {}", site, last.bound)};
    }
    double until = std::chrono::duration<double>(*plan->result.finish - now).count();
    if (holding && until > t) {
      t = until;
      eta.note = fmt::format("site {}: {}", site, last.bound);
      if (last.bound == "warm-up cap" && last.cap_today && *last.cap_today == 0) {
        eta.note += " (reached for today; resumes 00:00 UTC)";
      }
    } else if (t < 0) {
      t = until;  // nothing measured yet: the estimate's rates
      eta.note = "estimated from the configured limits";
    }
  }
  if (t >= 0) eta.seconds = t;
  return eta;
}

}  // namespace postino::cli
