// config_mapping.h: fills the shaping part of an EngineConfig from a loaded
// postino.toml Config ([limits] defaults and rules, the reply policy from the
// [[backoff]] rules and the built-in ones, [[warmup]] plans). Sources, pools
// and routes are mapped by the caller (cli/run_command.cc).
#pragma once

#include <memory>

#include "common/status.h"
#include "config/config.h"
#include "engine/delivery/engine.h"

namespace postino::delivery {

// config::TlsMode -> smtp::TlsMode.
smtp::TlsMode ToSmtpTlsMode(config::TlsMode mode);

// PathLimits from a Config's resolved limits for one destination.
PathLimits ToPathLimits(const config::EffectiveLimits& limits);

// Sets `engine->limits_for` (Config::LimitsFor on a shared copy of `config`),
// `policy` (config::MakePolicy), `warmup` (MakeWarmupPlans) and the defaults
// `max_connections_per_destination` / `max_messages_per_connection`. Fails,
// changing nothing, when a [[backoff]] rule does not compile; on SIGHUP the
// caller keeps the running configuration then.
Status ApplyShapingConfig(const config::Config& config, EngineConfig* engine);

}  // namespace postino::delivery
