// retry_schedule.h: the one retry schedule of postino. After a temporary
// failure it says when a recipient is tried again, or that it has expired:
//
//  - wait: the [retry] schedule (default 5m, 10m, 20m, 40m, 1h, 2h, 4h; the
//    last step repeats), or the schedule of the most specific
//    [[limits.rules]] entry for the recipient domain that sets one; the wait
//    after the n-th failed attempt is step n (1-based), times a factor drawn
//    uniformly from [1 - jitter, 1 + jitter] by a seeded RNG.
//  - expiry: a recipient whose failed attempt ends max_age or more after its
//    first attempt expires. max_age is the campaign's (`--max-age`, default
//    [retry] max_age), unless a [[limits.rules]] entry for the domain sets
//    its own, which then wins. A next attempt planned past the deadline is
//    still made (the recipient expires then, if it fails again).
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <random>
#include <string>
#include <unordered_map>
#include <vector>

#include "common/clock.h"
#include "config/config.h"

namespace postino::scheduler {

struct RetryDecision {
  bool expired = false;
  WallTime next_attempt_at{};  // when !expired
};

class RetrySchedule {
 public:
  // Reads [retry] and, per domain, [[limits.rules]] from `config` (a copy
  // is kept). `seed` drives the jitter (tests pass a fixed one).
  RetrySchedule(const config::Config& config, uint64_t seed);

  // `attempts_before`: attempts made before the one that just failed at
  // `failed_at`; `first_attempt_at`: when the recipient was first tried;
  // `campaign_max_age`: the campaign's max_age.
  RetryDecision Next(const std::string& domain, int attempts_before, WallTime first_attempt_at,
                     WallTime failed_at, std::chrono::seconds campaign_max_age);

  // The un-jittered wait after `attempts_before` + 1 failed attempts.
  Nanos BaseDelay(const std::string& domain, int attempts_before);
  // The max_age that applies to the domain, given the campaign's.
  Nanos MaxAge(const std::string& domain, std::chrono::seconds campaign_max_age);

  static std::vector<Nanos> DefaultSchedule();

 private:
  struct DomainPolicy {
    std::vector<Nanos> schedule;
    std::optional<Nanos> max_age;  // set only by a rule for the domain
  };
  const DomainPolicy& For(const std::string& domain);

  config::Config config_;
  double jitter_;
  std::mt19937_64 rng_;
  std::unordered_map<std::string, DomainPolicy> by_domain_;
};

}  // namespace postino::scheduler
