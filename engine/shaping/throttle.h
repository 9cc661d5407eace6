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
//
// The tolerance is never below kMinTolerance. A caller that waits out
// retry_after with a timer wakes at best about once a millisecond (libuv's
// timers count whole milliseconds), so with T under that and a burst of one,
// each wake-up would let one request through and the rate would stop near
// 1,000/s whatever was configured (measured: "4000/s" on one egress path
// sent 870 messages/s). With the floor, a rate above 1,000/s passes up to
// rate x 2 ms requests back to back per wake-up; the long-run rate stays
// exact, and rates of 500/s or less (T >= 2 ms) are not affected.
class Throttle {
 public:
  static constexpr Nanos kMinTolerance = std::chrono::milliseconds(2);

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
