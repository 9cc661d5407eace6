// throttle.h: a GCRA (generic cell rate algorithm) throttle with burst. It
// never waits: TryAcquire says yes, or when to come back.
#pragma once

#include <cstdint>

#include "common/clock.h"
#include "common/rate.h"

namespace postino::shaping {

struct ThrottleDecision {
  bool allowed = false;
  Nanos retry_after{0};  // when !allowed: wait at least this long
};

// GCRA keeps one "theoretical arrival time" (TAT). A request at `now` is
// allowed when TAT - now <= burst * T, where T = period / count; each
// allowed request moves TAT forward by T. So at most `burst` requests pass
// back to back, then one every T. Memory: two integers; no timers.
class Throttle {
 public:
  // `rate` must be valid; burst >= 1 (1 = perfectly evenly spaced).
  explicit Throttle(Rate rate, uint32_t burst = 1);

  ThrottleDecision TryAcquire(MonoTime now);
  // Peek without consuming.
  ThrottleDecision Check(MonoTime now) const;

  // Changes the rate (slow-down or recovery). Credit already earned is kept
  // in time units, so a slower rate takes effect from the next request.
  void SetRate(Rate rate);
  const Rate& rate() const { return rate_; }
  uint32_t burst() const { return burst_; }

 private:
  Rate rate_;
  uint32_t burst_;
  Nanos interval_;   // T
  Nanos tolerance_;  // burst * T
  MonoTime tat_{};   // theoretical arrival time of the next request
};

}  // namespace postino::shaping
