// egress_path.h: the shaping state of one egress path (source × MX site):
// its message-rate throttle, a suspension, and a temporary slow-down that
// recovers gradually. Pure state on caller-given times.
#pragma once

#include <cstdint>
#include <optional>

#include "common/clock.h"
#include "common/rate.h"
#include "engine/shaping/throttle.h"

namespace postino::shaping {

enum class PathState { kOpen, kSlowed, kRecovering, kSuspended };
const char* PathStateName(PathState s);

class EgressPath {
 public:
  // `rate`: the configured message rate (nullopt = unlimited).
  explicit EgressPath(std::optional<Rate> rate = std::nullopt, uint32_t burst = 1);

  // May one message go now? If not, retry_after says when to come back
  // (end of a suspension, or the throttle's next slot).
  ThrottleDecision TryAcquire(MonoTime now);
  ThrottleDecision Check(MonoTime now);
  bool Suspended(MonoTime now) const { return now < suspended_until_; }

  // Stop all sending until `until`.
  void Suspend(MonoTime until);
  // Send at most `rate` until `until`; afterwards the rate doubles every
  // `recovery_interval` until it reaches the configured rate (or, when the
  // configured rate is unlimited, for kMaxRecoverySteps steps, then
  // unlimited). A slow-down never raises the rate above the configured one.
  void Slow(Rate rate, MonoTime until, Nanos recovery_interval);
  // Ends a suspension and a slow-down now (an operator's `postino sources
  // resume`): the configured rate applies again at once.
  void Lift();
  // New configured rate (config reload); ends nothing in progress.
  void SetConfiguredRate(std::optional<Rate> rate);

  PathState State(MonoTime now) const;
  // The rate in force at `now` (nullopt = unlimited).
  std::optional<Rate> CurrentRate(MonoTime now) const;
  MonoTime suspended_until() const { return suspended_until_; }

  static constexpr int kMaxRecoverySteps = 6;

 private:
  void Sync(MonoTime now);

  std::optional<Rate> configured_;
  uint32_t burst_;
  std::optional<Throttle> throttle_;  // present when some rate applies
  MonoTime suspended_until_{};
  std::optional<Rate> slow_rate_;  // present while slowed or recovering
  MonoTime slow_until_{};
  Nanos recovery_interval_{0};
};

}  // namespace postino::shaping
