// scheduler_mapping.cc: Config -> scheduler objects.
#include "config/scheduler_mapping.h"

#include <fmt/format.h>

namespace postino::config {

Result<scheduler::BackoffPolicy> MakeBackoffPolicy(const Config& config) {
  std::vector<scheduler::BackoffRuleSpec> specs;
  for (size_t i = 0; i < config.backoff.size(); ++i) {
    const BackoffRuleConfig& b = config.backoff[i];
    scheduler::BackoffRuleSpec s;
    s.name = fmt::format("backoff[{}]", i);
    s.pattern = b.match;
    s.site = b.site;
    switch (b.action) {
      case BackoffRuleConfig::Action::kSuspend:
        s.action = scheduler::BackoffAction::kSuspend;
        break;
      case BackoffRuleConfig::Action::kSlow:
        s.action = scheduler::BackoffAction::kSlow;
        break;
      case BackoffRuleConfig::Action::kBounce:
        s.action = scheduler::BackoffAction::kBounce;
        break;
    }
    s.duration = b.duration;
    s.rate = b.rate;
    s.recovery_interval = b.recovery_interval;
    specs.push_back(std::move(s));
  }
  return scheduler::BackoffPolicy::Create(std::move(specs), config.use_default_backoff);
}

std::vector<scheduler::WarmupPlan> MakeWarmupPlans(const Config& config) {
  std::vector<scheduler::WarmupPlan> plans;
  for (const WarmupConfig& w : config.warmup) {
    scheduler::WarmupPlan p;
    p.source = w.source;
    p.start = w.start;
    p.caps = w.caps;
    for (const WarmupSiteConfig& s : w.sites) p.sites.push_back({s.site, s.caps});
    plans.push_back(std::move(p));
  }
  return plans;
}

scheduler::RetrySchedule MakeRetrySchedule(const Config& config, uint64_t seed) {
  return scheduler::RetrySchedule(config.retry.schedule, config.retry.max_age, config.retry.jitter,
                                  seed);
}

scheduler::RetrySchedule MakeRetrySchedule(const Config& config, const EffectiveLimits& limits,
                                           uint64_t seed) {
  return scheduler::RetrySchedule(limits.retry_schedule, limits.max_age, config.retry.jitter, seed);
}

Result<scheduler::SourcePool> MakeSourcePool(const Config& config, std::string_view name) {
  if (name.empty()) name = config.default_pool;
  std::vector<scheduler::PoolEntry> entries;
  if (name.empty()) {
    for (const SourceConfig& s : config.sources) entries.push_back({s.name, 1});
    return scheduler::SourcePool::Create("all", std::move(entries));
  }
  const PoolConfig* pool = config.FindPool(name);
  if (pool == nullptr) {
    return Status::NotFound(fmt::format("no source pool named \"{}\" in {}", name, config.file));
  }
  for (const PoolEntryConfig& e : pool->entries) entries.push_back({e.source, e.weight});
  return scheduler::SourcePool::Create(pool->name, std::move(entries));
}

}  // namespace postino::config
