// shaping_mapping.h: builds the shaping objects (the reply policy with the
// [[backoff]] rules, warm-up plans, retry schedule, source pools) from a
// loaded Config, so the caller does not repeat the mapping.
#pragma once

#include <string_view>
#include <vector>

#include "common/status.h"
#include "config/config.h"
#include <memory>

#include "engine/policy/policy.h"
#include "engine/shaping/retry.h"
#include "engine/shaping/source_pool.h"
#include "engine/shaping/warmup.h"

namespace postino::config {

// The reply policy: the [[backoff]] rules in order (named "backoff[i]"),
// then the built-in provider rules when use_default_backoff.
Result<std::shared_ptr<const policy::Policy>> MakePolicy(const Config& config);

std::vector<shaping::WarmupPlan> MakeWarmupPlans(const Config& config);

// [retry] or, for a destination, its EffectiveLimits' schedule and max_age.
shaping::RetrySchedule MakeRetrySchedule(const Config& config, uint64_t seed);
shaping::RetrySchedule MakeRetrySchedule(const Config& config, const EffectiveLimits& limits,
                                           uint64_t seed);

// The pool called `name`; "" = default_pool, or when that is unset too, a
// pool of every source with weight 1 (named "all").
Result<shaping::SourcePool> MakeSourcePool(const Config& config, std::string_view name);

}  // namespace postino::config
