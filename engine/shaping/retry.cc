// retry.cc: retry intervals with jitter and expiry.
#include "engine/shaping/retry.h"

#include <algorithm>

namespace postino::shaping {

using std::chrono::hours;
using std::chrono::minutes;

std::vector<Nanos> RetrySchedule::DefaultIntervals() {
  return {minutes(5), minutes(10), minutes(20), minutes(40), hours(1), hours(2), hours(4)};
}

RetrySchedule::RetrySchedule(std::vector<Nanos> intervals, Nanos max_age, double jitter,
                             uint64_t seed)
    : intervals_(intervals.empty() ? DefaultIntervals() : std::move(intervals)),
      max_age_(max_age),
      jitter_(std::clamp(jitter, 0.0, 0.9)),
      rng_(seed) {}

Nanos RetrySchedule::Interval(int attempts) const {
  size_t i = attempts <= 1 ? 0 : static_cast<size_t>(attempts - 1);
  return intervals_[std::min(i, intervals_.size() - 1)];
}

RetryDecision RetrySchedule::NextAttempt(int attempts, WallTime now, WallTime first_queued) {
  WallTime deadline = first_queued + std::chrono::duration_cast<WallTime::duration>(max_age_);
  if (now >= deadline) return {true, {}};
  double factor = 1.0;
  if (jitter_ > 0) factor += std::uniform_real_distribution<double>(-jitter_, jitter_)(rng_);
  Nanos wait(static_cast<Nanos::rep>(static_cast<double>(Interval(attempts).count()) * factor));
  WallTime at = now + std::chrono::duration_cast<WallTime::duration>(wait);
  if (at > deadline) return {true, {}};
  return {false, at};
}

}  // namespace postino::shaping
