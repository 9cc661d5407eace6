// retry.h: when to try a temporarily failed delivery again. The default
// schedule waits 5m, 10m, 20m, 40m, 1h, 2h, then every 4h; each wait gets
// ±jitter (default 10%) from a seeded RNG so retries of one campaign do not
// arrive together. A message older than max_age (default 3 days) expires.
#pragma once

#include <cstdint>
#include <random>
#include <vector>

#include "common/clock.h"

namespace postino::shaping {

struct RetryDecision {
  bool expired = false;
  WallTime at{};  // when !expired: the next attempt
};

class RetrySchedule {
 public:
  // `intervals`: wait after the 1st, 2nd, ... failure; the last repeats.
  // Empty = the default schedule.
  explicit RetrySchedule(std::vector<Nanos> intervals = {}, Nanos max_age = std::chrono::hours(72),
                         double jitter = 0.1, uint64_t seed = 0x5eed);

  static std::vector<Nanos> DefaultIntervals();

  // The un-jittered wait after `attempts` failed attempts (>= 1).
  Nanos Interval(int attempts) const;
  // After `attempts` failures (>= 1), the last one at `now`, of a message
  // first queued at `first_queued`: the next attempt time, or expired when
  // `now` or that next attempt would be past first_queued + max_age.
  RetryDecision NextAttempt(int attempts, WallTime now, WallTime first_queued);

  Nanos max_age() const { return max_age_; }
  double jitter() const { return jitter_; }

 private:
  std::vector<Nanos> intervals_;
  Nanos max_age_;
  double jitter_;
  std::mt19937_64 rng_;
};

}  // namespace postino::shaping
