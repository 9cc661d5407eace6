// shaping_mapping.h: builds the shaping objects (backoff policy,
// warm-up plans, retry schedule, source pools) from a loaded Config, so the
// caller does not repeat the mapping.
#pragma once

#include <string_view>
#include <vector>

#include "common/status.h"
#include "config/config.h"
#include "engine/shaping/backoff.h"
#include "engine/shaping/retry.h"
#include "engine/shaping/source_pool.h"
#include "engine/shaping/warmup.h"

namespace postino::config {

// [[backoff]] rules in order, then the defaults when use_default_backoff.
Result<shaping::BackoffPolicy> MakeBackoffPolicy(const Config& config);

std::vector<shaping::WarmupPlan> MakeWarmupPlans(const Config& config);

// [retry] or, for a destination, its EffectiveLimits' schedule and max_age.
shaping::RetrySchedule MakeRetrySchedule(const Config& config, uint64_t seed);
shaping::RetrySchedule MakeRetrySchedule(const Config& config, const EffectiveLimits& limits,
                                           uint64_t seed);

// The pool called `name`; "" = default_pool, or when that is unset too, a
// pool of every source with weight 1 (named "all").
Result<shaping::SourcePool> MakeSourcePool(const Config& config, std::string_view name);

}  // namespace postino::config
