// throttle.cc: GCRA.
#include "engine/shaping/throttle.h"

#include <algorithm>

namespace postino::shaping {

Throttle::Throttle(Rate rate, uint32_t burst) : burst_(std::max<uint32_t>(burst, 1)) {
  SetRate(rate);
}

void Throttle::SetRate(Rate rate) {
  rate_ = rate;
  interval_ = rate.EmissionInterval();
  if (interval_.count() <= 0) interval_ = Nanos(1);
  tolerance_ = std::max(interval_ * static_cast<Nanos::rep>(burst_), kMinTolerance);
}

ThrottleDecision Throttle::Check(MonoTime now) const {
  MonoTime tat = std::max(tat_, now);
  Nanos ahead = (tat + interval_) - now;
  if (ahead <= tolerance_) return {true, Nanos(0)};
  return {false, ahead - tolerance_};
}

ThrottleDecision Throttle::TryAcquire(MonoTime now) {
  ThrottleDecision d = Check(now);
  if (d.allowed) tat_ = std::max(tat_, now) + interval_;
  return d;
}

}  // namespace postino::shaping
