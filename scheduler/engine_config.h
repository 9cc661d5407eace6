// engine_config.h: postino.toml (config::Config) -> delivery::EngineConfig,
// done once, here: sources and pools, routes, DNS, timeouts, the TLS mode,
// [limits] defaults and rules, [[backoff]] rules with the built-in ones, and
// [[warmup]] plans. engine/ knows nothing of postino.toml.
#pragma once

#include <string>
#include <vector>

#include "common/status.h"
#include "config/config.h"
#include "engine/delivery/engine.h"
#include "engine/policy/policy.h"
#include "engine/shaping/warmup.h"

namespace postino::scheduler {

// The whole engine configuration; `node` is the default EHLO name.
Result<delivery::EngineConfig> MakeEngineConfig(const config::Config& config,
                                                const std::string& node);

// config::TlsMode -> smtp::TlsMode (the one mapping).
smtp::TlsMode ToSmtpTlsMode(config::TlsMode mode);

// PathLimits from a Config's resolved limits for one destination.
delivery::PathLimits ToPathLimits(const config::EffectiveLimits& limits);

// Sets `engine->limits_for` (Config::LimitsFor on a shared copy of `config`),
// `policy` (MakePolicy), `warmup` (MakeWarmupPlans) and the defaults
// `max_connections_per_destination` / `max_messages_per_connection`. Fails,
// changing nothing, when a backoff rule does not compile; on SIGHUP the
// caller keeps the running configuration then.
Status ApplyShapingConfig(const config::Config& config, delivery::EngineConfig* engine);

// The reply policy: [[backoff]] rules in order (named "backoff[i]"), then
// the built-in provider rules when use_default_backoff.
Result<std::shared_ptr<const policy::Policy>> MakePolicy(const config::Config& config);

std::vector<shaping::WarmupPlan> MakeWarmupPlans(const config::Config& config);

}  // namespace postino::scheduler
