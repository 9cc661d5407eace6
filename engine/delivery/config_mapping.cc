// config_mapping.cc: postino.toml shaping settings -> EngineConfig.
#include "engine/delivery/config_mapping.h"

#include "config/shaping_mapping.h"

namespace postino::delivery {

smtp::TlsMode ToSmtpTlsMode(config::TlsMode mode) {
  switch (mode) {
    case config::TlsMode::kNone:
      return smtp::TlsMode::kNone;
    case config::TlsMode::kOpportunistic:
      return smtp::TlsMode::kOpportunistic;
    case config::TlsMode::kRequired:
      return smtp::TlsMode::kRequired;
    case config::TlsMode::kImplicit:
      return smtp::TlsMode::kImplicit;
  }
  return smtp::TlsMode::kOpportunistic;
}

PathLimits ToPathLimits(const config::EffectiveLimits& limits) {
  PathLimits out;
  out.max_connections = limits.max_connections;
  out.max_site_connections = limits.max_site_connections;
  out.max_messages_per_connection = limits.max_messages_per_connection;
  out.max_recipients_per_message = limits.max_recipients_per_message;
  out.max_message_rate = limits.max_message_rate;
  out.max_connection_rate = limits.max_connection_rate;
  if (limits.tls) out.tls = ToSmtpTlsMode(*limits.tls);
  return out;
}

Status ApplyShapingConfig(const config::Config& config, EngineConfig* engine) {
  auto policy = config::MakePolicy(config);
  if (!policy.ok()) return policy.status();
  auto shared = std::make_shared<const config::Config>(config);
  engine->limits_for = [shared](const std::string& domain,
                                const std::vector<std::string>& mx_hosts) {
    return ToPathLimits(shared->LimitsFor(domain, mx_hosts));
  };
  engine->policy = std::move(*policy);
  engine->warmup = config::MakeWarmupPlans(config);
  config::EffectiveLimits defaults = config.LimitsFor("", {});
  engine->max_connections_per_destination = defaults.max_connections;
  engine->max_messages_per_connection = defaults.max_messages_per_connection;
  engine->max_total_connections = config.node.max_connections;
  return Status::Ok();
}

}  // namespace postino::delivery
