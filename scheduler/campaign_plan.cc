// campaign_plan.cc: the campaign run estimate (see campaign_plan.h).
#include "scheduler/campaign_plan.h"

#include <fmt/chrono.h>
#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <numeric>
#include <set>

#include "common/clock.h"
#include "common/strings.h"

namespace postino::scheduler {
namespace {

using Seconds = std::chrono::duration<double>;
constexpr double kInf = std::numeric_limits<double>::infinity();
constexpr int kMaxDays = 400;

double Secs(PlanTime t) { return Seconds(t.time_since_epoch()).count(); }
PlanTime At(double s) {
  return PlanTime(std::chrono::duration_cast<PlanTime::duration>(Seconds(s)));
}
double PerSecond(const Rate& r) {
  double period = std::chrono::duration<double>(r.period).count();
  return period > 0 ? static_cast<double>(r.count) / period : kInf;
}

// One source's sending rate towards one site over time: nothing before a
// suspension ends, the reduced rate while slowed, then the full rate.
struct Lane {
  std::string source;
  double rate = 0;          // full rate, messages per second
  double held_until = 0;    // epoch seconds (0 = not suspended)
  double slow_until = 0;
  double slow_rate = 0;
  bool message_rate_bound = false;  // the rate is max_message_rate, not connections

  // Messages this lane can send in [a, b].
  double Capacity(double a, double b) const {
    a = std::max(a, held_until);
    if (b <= a) return 0;
    double slow_end = std::clamp(slow_until, a, b);
    return (slow_end - a) * slow_rate + (b - slow_end) * rate;
  }
};

std::string RateText(double per_second) {
  if (per_second >= 1) return fmt::format("{:.1f}/s", per_second);
  return fmt::format("{:.1f}/min", per_second * 60);
}

std::string DayTime(PlanTime t) {
  return fmt::format("{:%Y-%m-%d %H:%M} UTC",
                     fmt::gmtime(std::chrono::system_clock::to_time_t(t)));
}

std::vector<Lane> Lanes(const PlanInput& in, const PlanSite& site, double now) {
  std::vector<Lane> lanes;
  const delivery::PathLimits& l = site.limits;
  int conns = l.max_connections > 0 ? l.max_connections : 100;
  for (const delivery::Source& s : in.sources) {
    Lane lane;
    lane.source = s.name;
    double by_connections = conns * in.per_connection_rate;
    double by_rate = l.max_message_rate ? PerSecond(*l.max_message_rate) : kInf;
    lane.rate = std::min(by_connections, by_rate);
    lane.message_rate_bound = by_rate <= by_connections;
    for (const delivery::PathEvent& e : in.active) {
      if (e.source_name != s.name || e.site != site.key || Secs(e.until) <= now) continue;
      if (e.action == delivery::PathEvent::Action::kSuspended) {
        lane.held_until = std::max(lane.held_until, Secs(e.until));
      } else if (e.action == delivery::PathEvent::Action::kSlowed) {
        lane.slow_until = Secs(e.until);
        lane.slow_rate = std::min(lane.rate, e.rate ? PerSecond(*e.rate) : lane.rate);
      }
    }
    lanes.push_back(lane);
  }
  // All sources together may not exceed the site's connection limit.
  if (l.max_site_connections > 0) {
    double cap = l.max_site_connections * in.per_connection_rate;
    double sum = 0;
    for (const Lane& lane : lanes) sum += lane.rate;
    if (sum > cap && sum > 0) {
      for (Lane& lane : lanes) {
        lane.rate *= cap / sum;
        lane.slow_rate = std::min(lane.slow_rate, lane.rate);
      }
    }
  }
  return lanes;
}

}  // namespace

std::vector<delivery::Source> PoolSources(const std::vector<delivery::Source>& all,
                                          const std::string& pool) {
  std::vector<delivery::Source> out;
  std::set<std::string> seen;
  for (const delivery::Source& s : all) {
    bool member = pool.empty() || s.pool == pool || s.name == pool;
    if (member && seen.insert(s.name).second) out.push_back(s);
  }
  return out;
}

PlanResult EstimatePlan(const PlanInput& in) {
  PlanResult out;
  out.sites.resize(in.sites.size());
  double now = Secs(in.now);
  double begin = std::max(now, Secs(in.start));
  std::vector<std::vector<Lane>> lanes;
  std::vector<double> remaining;
  for (size_t i = 0; i < in.sites.size(); ++i) {
    lanes.push_back(Lanes(in, in.sites[i], now));
    remaining.push_back(static_cast<double>(in.sites[i].recipients));
    PlanSiteResult& r = out.sites[i];
    double held = kInf;
    for (const Lane& lane : lanes.back()) {
      r.rate += lane.held_until > now ? 0 : (lane.slow_until > now ? lane.slow_rate : lane.rate);
      held = std::min(held, std::max(lane.held_until, 0.0));
    }
    if (!lanes.back().empty() && held > now) r.held_until = At(held);
    if (in.sources.empty()) r.bound = "no source address in the campaign's pool";
  }
  std::set<std::string> planned;
  for (const auto& p : in.warmup) planned.insert(p.source);
  // Sites by size: the largest take the shared (per-source) caps first.
  std::vector<size_t> order(in.sites.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    return in.sites[a].recipients > in.sites[b].recipients;
  });
  double day_start = begin;
  double day_end = std::floor(begin / 86400) * 86400 + 86400;
  bool same_day_as_now = std::floor(begin / 86400) == std::floor(now / 86400);
  for (int day = 0; day < kMaxDays && !in.sources.empty(); ++day) {
    bool left = false;
    for (size_t i : order) left = left || remaining[i] > 0;
    if (!left) break;
    FakeClock clock(At(day_start));
    shaping::WarmupTracker tracker(clock, in.warmup);
    if (day == 0 && same_day_as_now) {
      for (const delivery::WarmupCount& c : in.sent_today) {
        for (uint64_t k = 0; k < c.count; ++k) tracker.RecordSent(c.source, c.site);
      }
    }
    for (size_t i : order) {
      PlanSiteResult& r = out.sites[i];
      const std::string& key = in.sites[i].key;
      std::vector<double> caps;
      std::optional<uint64_t> cap_sum = 0;
      for (const Lane& lane : lanes[i]) {
        std::optional<uint64_t> c = tracker.Remaining(lane.source, key);
        caps.push_back(c ? static_cast<double>(*c) : kInf);
        cap_sum = c && cap_sum ? std::optional<uint64_t>(*cap_sum + *c) : std::nullopt;
      }
      if (day == 0) r.cap_today = cap_sum;
      if (day == 1) r.cap_tomorrow = cap_sum;
      if (remaining[i] <= 0) continue;
      auto sendable = [&](double until) {
        double sum = 0;
        for (size_t j = 0; j < lanes[i].size(); ++j) {
          sum += std::min(caps[j], lanes[i][j].Capacity(day_start, until));
        }
        return sum;
      };
      double possible = sendable(day_end);
      double rate_only = 0;
      for (const Lane& lane : lanes[i]) rate_only += lane.Capacity(day_start, day_end);
      double sent = std::min(possible, remaining[i]);
      double until = day_end;
      if (possible >= remaining[i]) {
        double lo = day_start, hi = day_end;
        for (int k = 0; k < 60; ++k) {
          double mid = (lo + hi) / 2;
          (sendable(mid) >= remaining[i] ? hi : lo) = mid;
        }
        until = hi;
        r.finish = At(until);
        r.days = day + 1;
      }
      // What decides the time: caps, a suspension, or the rate.
      if (possible < rate_only - 0.5 && possible < remaining[i]) {
        r.bound = "warm-up cap";
      } else if (r.bound.empty()) {
        bool by_rate = !lanes[i].empty() && lanes[i][0].message_rate_bound;
        r.bound = r.held_until ? "every source suspended until " + DayTime(*r.held_until)
                  : by_rate     ? "max_message_rate " + RateText(r.rate)
                                : fmt::format("connections (assumed {:g} msg/s each)",
                                              in.per_connection_rate);
      }
      // Count what was sent against the caps (shared by the source's sites).
      double total = 0;
      for (size_t j = 0; j < lanes[i].size(); ++j) {
        double share = std::min(caps[j], lanes[i][j].Capacity(day_start, until));
        if (total + share > sent) share = std::max(0.0, sent - total);
        total += share;
        if (planned.count(lanes[i][j].source)) {
          auto n = static_cast<uint64_t>(share);
          for (uint64_t k = 0; k < n; ++k) tracker.RecordSent(lanes[i][j].source, key);
        }
      }
      remaining[i] -= sent;
      if (remaining[i] < 0.5) remaining[i] = 0;
    }
    day_start = day_end;
    day_end += 86400;
  }
  // The campaign ends with its last site; never, if one never finishes.
  bool all = true;
  for (size_t i = 0; i < out.sites.size(); ++i) {
    PlanSiteResult& r = out.sites[i];
    if (in.sites[i].recipients == 0) r.finish = At(begin);
    if (!r.finish) {
      if (r.bound.empty()) r.bound = "more than a year";
      if (all) out.last_site = i;
      all = false;
    } else if (all && (!out.finish || *r.finish > *out.finish)) {
      out.finish = r.finish;
      out.last_site = i;
    }
  }
  if (!all) out.finish.reset();
  if (in.sites.empty()) out.finish = At(begin);
  return out;
}

}  // namespace postino::scheduler
