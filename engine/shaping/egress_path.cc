// egress_path.cc: suspension, slow-down and gradual recovery of a path.
#include "engine/shaping/egress_path.h"

#include <algorithm>

namespace postino::shaping {

const char* PathStateName(PathState s) {
  switch (s) {
    case PathState::kOpen:
      return "open";
    case PathState::kSlowed:
      return "slowed";
    case PathState::kRecovering:
      return "recovering";
    case PathState::kSuspended:
      return "suspended";
  }
  return "?";
}

EgressPath::EgressPath(std::optional<Rate> rate, uint32_t burst)
    : configured_(rate), burst_(burst) {
  if (configured_) throttle_.emplace(*configured_, burst_);
}

std::optional<Rate> EgressPath::CurrentRate(MonoTime now) const {
  if (!slow_rate_) return configured_;
  if (now < slow_until_) return slow_rate_;
  int64_t steps = 1;
  if (recovery_interval_.count() > 0) steps += (now - slow_until_) / recovery_interval_;
  if (!configured_ && steps > kMaxRecoverySteps) return std::nullopt;
  steps = std::min<int64_t>(steps, 40);
  Rate r = slow_rate_->Scaled(static_cast<double>(int64_t{1} << steps));
  if (configured_ && r.PerSecond() >= configured_->PerSecond()) return configured_;
  return r;
}

PathState EgressPath::State(MonoTime now) const {
  if (Suspended(now)) return PathState::kSuspended;
  if (!slow_rate_) return PathState::kOpen;
  if (now < slow_until_) return PathState::kSlowed;
  std::optional<Rate> r = CurrentRate(now);
  if (r == configured_) return PathState::kOpen;
  return PathState::kRecovering;
}

void EgressPath::Sync(MonoTime now) {
  std::optional<Rate> want = CurrentRate(now);
  if (slow_rate_ && now >= slow_until_ && want == configured_) slow_rate_.reset();  // recovered
  if (!want) {
    throttle_.reset();
  } else if (!throttle_) {
    throttle_.emplace(*want, burst_);
  } else if (!(throttle_->rate() == *want)) {
    throttle_->SetRate(*want);
  }
}

ThrottleDecision EgressPath::Check(MonoTime now) {
  if (Suspended(now)) return {false, suspended_until_ - now};
  Sync(now);
  if (!throttle_) return {true, Nanos(0)};
  return throttle_->Check(now);
}

ThrottleDecision EgressPath::TryAcquire(MonoTime now) {
  if (Suspended(now)) return {false, suspended_until_ - now};
  Sync(now);
  if (!throttle_) return {true, Nanos(0)};
  return throttle_->TryAcquire(now);
}

void EgressPath::Suspend(MonoTime until) { suspended_until_ = std::max(suspended_until_, until); }

void EgressPath::Slow(Rate rate, MonoTime until, Nanos recovery_interval) {
  // Never speed up by "slowing": keep the lower of the new and configured rate.
  slow_rate_ = rate;
  slow_until_ = until;
  recovery_interval_ = recovery_interval;
  if (configured_ && configured_->PerSecond() < rate.PerSecond()) slow_rate_ = configured_;
}

void EgressPath::Lift() {
  suspended_until_ = MonoTime{};
  slow_rate_.reset();
  slow_until_ = MonoTime{};
  SetConfiguredRate(configured_);
}

void EgressPath::SetConfiguredRate(std::optional<Rate> rate) {
  configured_ = rate;
  if (!rate)
    throttle_.reset();
  else if (!throttle_)
    throttle_.emplace(*rate, burst_);
  else
    throttle_->SetRate(*rate);
}

}  // namespace postino::shaping
