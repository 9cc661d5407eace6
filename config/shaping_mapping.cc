// shaping_mapping.cc: Config -> shaping objects.
#include "config/shaping_mapping.h"

#include <fmt/format.h>

namespace postino::config {

Result<std::shared_ptr<const policy::Policy>> MakePolicy(const Config& config) {
  std::vector<policy::RuleSpec> specs;
  for (size_t i = 0; i < config.backoff.size(); ++i) {
    const BackoffRuleConfig& b = config.backoff[i];
    policy::RuleSpec s;
    s.name = fmt::format("backoff[{}]", i);
    s.pattern = b.match;
    s.site = b.site;
    switch (b.action) {
      case BackoffRuleConfig::Action::kSuspend:
        s.action = policy::RuleSpec::Action::kSuspend;
        break;
      case BackoffRuleConfig::Action::kSlow:
        s.action = policy::RuleSpec::Action::kSlowDown;
        break;
      case BackoffRuleConfig::Action::kBounce:
        s.action = policy::RuleSpec::Action::kBounce;
        break;
    }
    s.duration = b.duration;
    s.rate = b.rate;
    s.recovery_interval = b.recovery_interval;
    specs.push_back(std::move(s));
  }
  return policy::Policy::Create(std::move(specs), config.use_default_backoff);
}

std::vector<shaping::WarmupPlan> MakeWarmupPlans(const Config& config) {
  std::vector<shaping::WarmupPlan> plans;
  for (const WarmupConfig& w : config.warmup) {
    shaping::WarmupPlan p;
    p.source = w.source;
    p.start = w.start;
    p.caps = w.caps;
    for (const WarmupSiteConfig& s : w.sites) p.sites.push_back({s.site, s.caps});
    plans.push_back(std::move(p));
  }
  return plans;
}

shaping::RetrySchedule MakeRetrySchedule(const Config& config, uint64_t seed) {
  return shaping::RetrySchedule(config.retry.schedule, config.retry.max_age, config.retry.jitter,
                                  seed);
}

shaping::RetrySchedule MakeRetrySchedule(const Config& config, const EffectiveLimits& limits,
                                           uint64_t seed) {
  return shaping::RetrySchedule(limits.retry_schedule, limits.max_age, config.retry.jitter, seed);
}

Result<shaping::SourcePool> MakeSourcePool(const Config& config, std::string_view name) {
  if (name.empty()) name = config.default_pool;
  std::vector<shaping::PoolEntry> entries;
  if (name.empty()) {
    for (const SourceConfig& s : config.sources) entries.push_back({s.name, 1});
    return shaping::SourcePool::Create("all", std::move(entries));
  }
  const PoolConfig* pool = config.FindPool(name);
  if (pool == nullptr) {
    return Status::NotFound(fmt::format("no source pool named \"{}\" in {}", name, config.file));
  }
  for (const PoolEntryConfig& e : pool->entries) entries.push_back({e.source, e.weight});
  return shaping::SourcePool::Create(pool->name, std::move(entries));
}

}  // namespace postino::config
