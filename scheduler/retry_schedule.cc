// retry_schedule.cc: next attempt time and expiry of a deferred recipient.
#include "scheduler/retry_schedule.h"

#include <algorithm>

namespace postino::scheduler {

using std::chrono::hours;
using std::chrono::minutes;

std::vector<Nanos> RetrySchedule::DefaultSchedule() {
  return {minutes(5), minutes(10), minutes(20), minutes(40), hours(1), hours(2), hours(4)};
}

RetrySchedule::RetrySchedule(const config::Config& config, uint64_t seed)
    : config_(config), jitter_(std::clamp(config.retry.jitter, 0.0, 0.9)), rng_(seed) {}

const RetrySchedule::DomainPolicy& RetrySchedule::For(const std::string& domain) {
  auto it = by_domain_.find(domain);
  if (it != by_domain_.end()) return it->second;
  if (by_domain_.size() > 100000) by_domain_.clear();  // bounded cache
  config::EffectiveLimits limits = config_.LimitsFor(domain, {});
  DomainPolicy p;
  p.schedule = !limits.retry_schedule.empty() ? limits.retry_schedule
               : !config_.retry.schedule.empty() ? config_.retry.schedule
                                                 : DefaultSchedule();
  if (limits.max_age != config_.retry.max_age) p.max_age = limits.max_age;
  return by_domain_.emplace(domain, std::move(p)).first->second;
}

Nanos RetrySchedule::BaseDelay(const std::string& domain, int attempts_before) {
  const std::vector<Nanos>& s = For(domain).schedule;
  size_t i = attempts_before <= 0 ? 0 : static_cast<size_t>(attempts_before);
  return s[std::min(i, s.size() - 1)];
}

Nanos RetrySchedule::MaxAge(const std::string& domain, std::chrono::seconds campaign_max_age) {
  const DomainPolicy& p = For(domain);
  return p.max_age ? *p.max_age : Nanos(campaign_max_age);
}

RetryDecision RetrySchedule::Next(const std::string& domain, int attempts_before,
                                  WallTime first_attempt_at, WallTime failed_at,
                                  std::chrono::seconds campaign_max_age) {
  if (failed_at - first_attempt_at >= MaxAge(domain, campaign_max_age)) return {true, {}};
  double factor = 1.0;
  if (jitter_ > 0) factor = std::uniform_real_distribution<double>(1.0 - jitter_, 1.0 + jitter_)(rng_);
  auto wait = std::chrono::duration<double, std::nano>(
      static_cast<double>(BaseDelay(domain, attempts_before).count()) * factor);
  return {false, failed_at + std::chrono::duration_cast<WallTime::duration>(wait)};
}

}  // namespace postino::scheduler
