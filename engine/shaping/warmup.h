// warmup.h: IP warm-up. Each source may have a start date and a schedule of
// daily caps (overall, and optionally per site). The day index counts UTC
// days from the start date on the clock's WallNow(); after the last cap
// the source is unlimited. A source at its cap is skipped until the next
// UTC day; before its start date it may not send at all.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "common/clock.h"

namespace postino::shaping {

struct WarmupSitePlan {
  std::string site;  // domain / MX pattern ("*.google.com"), matched with SiteMatches
  std::vector<uint64_t> caps;
};

struct WarmupPlan {
  std::string source;
  std::chrono::sys_days start;
  std::vector<uint64_t> caps;
  std::vector<WarmupSitePlan> sites;
};

enum class WarmupStatus { kNotWarming, kPending, kWarming, kCapped, kDone };
const char* WarmupStatusName(WarmupStatus s);

// What `postino sources` shows for one source.
struct SourceState {
  std::string source;
  WarmupStatus status = WarmupStatus::kNotWarming;
  int64_t day = 0;  // day index from start (negative before)
  uint64_t sent_today = 0;
  std::optional<uint64_t> cap;  // today's overall cap; nullopt = unlimited
  WallTime next_day{};          // when today's count resets (UTC midnight)
};

class WarmupTracker {
 public:
  WarmupTracker(const Clock& clock, std::vector<WarmupPlan> plans);

  // True iff `source` may send one more message to `site_key` today.
  bool MaySend(std::string_view source, std::string_view site_key);
  // How many more messages `source` may send to `site_key` today (nullopt =
  // no cap applies).
  std::optional<uint64_t> Remaining(std::string_view source, std::string_view site_key);
  // Counts a message sent (call once per message handed to the site).
  void RecordSent(std::string_view source, std::string_view site_key);
  SourceState State(std::string_view source);
  // All sources with a plan, in plan order.
  std::vector<SourceState> States();

 private:
  struct Tracked {
    WarmupPlan plan;
    int64_t counted_day = INT64_MIN;
    uint64_t sent = 0;
    std::vector<uint64_t> site_sent;  // parallel to plan.sites
  };
  Tracked* Find(std::string_view source);
  int64_t Today(const Tracked& t) const;
  void Roll(Tracked& t);
  static std::optional<uint64_t> CapFor(const std::vector<uint64_t>& caps, int64_t day);

  const Clock& clock_;
  std::vector<Tracked> tracked_;
  std::unordered_map<std::string, size_t> index_;
};

}  // namespace postino::shaping
