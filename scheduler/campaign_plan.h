// campaign_plan.h: how long a campaign will take, before it runs or while
// it does (`campaign plan`, `campaign check`, the ETA of `campaign status`).
// Recipients are grouped into MX sites as the engine groups them (route,
// MX host set); each site gets the limits the engine would apply
// (Config::LimitsFor through engine_config.h) and the warm-up caps of the
// pool's sources (shaping::WarmupTracker), and suspended or slowed paths
// wait until their state ends. The estimate walks UTC day by day: what the
// rates allow within the day, cut by today's remaining caps, then the next
// day's caps from midnight. A path without a message rate is assumed to
// sustain `per_connection_rate` messages per second per connection (a
// figure, not a measurement: callers show it).
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "engine/delivery/engine.h"
#include "engine/shaping/warmup.h"

namespace postino::scheduler {

using PlanTime = std::chrono::system_clock::time_point;

struct PlanSite {
  std::string key;                   // site key (shaping::MakeSiteKey or the route's)
  std::vector<std::string> domains;  // recipient domains that go there
  int64_t recipients = 0;
  delivery::PathLimits limits;       // what the engine applies to the site
  std::string problem;               // e.g. a DNS failure ("" = none)
};

struct PlanInput {
  std::vector<PlanSite> sites;
  std::vector<delivery::Source> sources;  // the campaign pool's sources
  std::vector<shaping::WarmupPlan> warmup;
  std::vector<delivery::WarmupCount> sent_today;  // per source name and site
  // Path states in force (kSuspended / kSlowed with `until` and `rate`).
  std::vector<delivery::PathEvent> active;
  PlanTime now;
  PlanTime start;  // when sending starts (scheduled time, or now)
  double per_connection_rate = 5.0;
};

struct PlanSiteResult {
  double rate = 0;                     // messages per second over all sources, now
  std::optional<uint64_t> cap_today;   // warm-up messages left today over all sources
  std::optional<uint64_t> cap_tomorrow;
  std::optional<PlanTime> held_until;  // every source suspended until then
  int days = 1;                        // UTC days the site needs (1 = today)
  std::optional<PlanTime> finish;      // nullopt = never (no source; over a year)
  std::string bound;                   // what decides the time, in words
};

struct PlanResult {
  std::vector<PlanSiteResult> sites;  // parallel to PlanInput::sites
  std::optional<PlanTime> finish;     // the last site's finish
  size_t last_site = 0;               // the site that finishes last
};

// The sources a campaign of `pool` uses ("" = every source once), as the
// engine picks them (Source::pool or Source::name).
std::vector<delivery::Source> PoolSources(const std::vector<delivery::Source>& all,
                                          const std::string& pool);

PlanResult EstimatePlan(const PlanInput& input);

}  // namespace postino::scheduler
