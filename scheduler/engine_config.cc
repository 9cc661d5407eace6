// engine_config.cc: postino.toml -> EngineConfig.
#include "scheduler/engine_config.h"

#include <fmt/format.h>

#include <memory>
#include <set>

namespace postino::scheduler {

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

delivery::PathLimits ToPathLimits(const config::EffectiveLimits& limits) {
  delivery::PathLimits out;
  out.max_connections = limits.max_connections;
  out.max_site_connections = limits.max_site_connections;
  out.max_messages_per_connection = limits.max_messages_per_connection;
  out.max_recipients_per_message = limits.max_recipients_per_message;
  out.max_message_rate = limits.max_message_rate;
  out.max_connection_rate = limits.max_connection_rate;
  if (limits.tls) out.tls = ToSmtpTlsMode(*limits.tls);
  return out;
}

Result<std::shared_ptr<const policy::Policy>> MakePolicy(const config::Config& config) {
  std::vector<policy::RuleSpec> specs;
  for (size_t i = 0; i < config.backoff.size(); ++i) {
    const config::BackoffRuleConfig& b = config.backoff[i];
    policy::RuleSpec s;
    s.name = fmt::format("backoff[{}]", i);
    s.pattern = b.match;
    s.site = b.site;
    switch (b.action) {
      case config::BackoffRuleConfig::Action::kSuspend:
        s.action = policy::RuleSpec::Action::kSuspend;
        break;
      case config::BackoffRuleConfig::Action::kSlow:
        s.action = policy::RuleSpec::Action::kSlowDown;
        break;
      case config::BackoffRuleConfig::Action::kBounce:
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

std::vector<shaping::WarmupPlan> MakeWarmupPlans(const config::Config& config) {
  std::vector<shaping::WarmupPlan> plans;
  for (const config::WarmupConfig& w : config.warmup) {
    shaping::WarmupPlan p;
    p.source = w.source;
    p.start = w.start;
    p.caps = w.caps;
    for (const config::WarmupSiteConfig& s : w.sites) p.sites.push_back({s.site, s.caps});
    plans.push_back(std::move(p));
  }
  return plans;
}

Status ApplyShapingConfig(const config::Config& config, delivery::EngineConfig* engine) {
  auto policy = MakePolicy(config);
  if (!policy.ok()) return policy.status();
  auto shared = std::make_shared<const config::Config>(config);
  engine->limits_for = [shared](const std::string& domain,
                                const std::vector<std::string>& mx_hosts) {
    return ToPathLimits(shared->LimitsFor(domain, mx_hosts));
  };
  engine->policy = std::move(policy).value();
  engine->warmup = MakeWarmupPlans(config);
  config::EffectiveLimits defaults = config.LimitsFor("", {});
  engine->max_connections_per_destination = defaults.max_connections;
  engine->max_messages_per_connection = defaults.max_messages_per_connection;
  engine->max_total_connections = config.node.max_connections;
  return Status::Ok();
}

Result<delivery::EngineConfig> MakeEngineConfig(const config::Config& cfg,
                                                const std::string& node) {
  delivery::EngineConfig ec;
  // A source appears once per pool that lists it, with that pool's weight;
  // sources in no pool are reachable by their own name (and by "").
  std::set<std::string> pooled;
  for (const auto& p : cfg.pools) {
    for (const auto& e : p.entries) {
      const config::SourceConfig* s = cfg.FindSource(e.source);
      if (!s || e.weight == 0) continue;
      ec.sources.push_back({s->name, s->address, s->ehlo.empty() ? node : s->ehlo,
                            static_cast<int>(e.weight), p.name});
      pooled.insert(s->name);
    }
  }
  for (const auto& s : cfg.sources) {
    if (pooled.count(s.name)) continue;
    ec.sources.push_back({s.name, s.address, s.ehlo.empty() ? node : s.ehlo, 1, ""});
  }
  if (ec.sources.empty()) {
    return Status::InvalidArgument(fmt::format(
        "{}: no [[sources]]: postino needs at least one source address (name, address, ehlo) to "
        "send from",
        cfg.file));
  }
  for (const auto& r : cfg.routes) {
    delivery::Route route;
    route.domain_pattern = r.domain;
    route.kind = r.kind == config::RouteConfig::Kind::kStatic ? delivery::Route::Kind::kStatic
                                                               : delivery::Route::Kind::kMx;
    route.host = r.host;
    route.port = r.port;
    route.tls = ToSmtpTlsMode(r.tls);
    if (r.auth) route.auth = smtp::AuthCredentials{r.auth->username, r.auth->password};
    route.auth_requires_tls = r.auth_requires_tls;
    route.auth_without_verified_tls = r.auth_without_verified_tls;
    ec.routes.push_back(std::move(route));
  }
  ec.dns_servers = cfg.dns.servers;
  ec.mx_port = cfg.dns.mx_port;
  if (cfg.limits.defaults.max_connections) {
    ec.max_connections_per_destination = *cfg.limits.defaults.max_connections;
  }
  if (cfg.limits.defaults.max_messages_per_connection) {
    ec.max_messages_per_connection = *cfg.limits.defaults.max_messages_per_connection;
  }
  const auto& t = cfg.timeouts;
  ec.timeouts.connect = t.connect;
  ec.timeouts.banner = t.banner;
  ec.timeouts.ehlo = t.ehlo;
  ec.timeouts.starttls = t.starttls;
  ec.timeouts.mail = t.mail;
  ec.timeouts.rcpt = t.rcpt;
  ec.timeouts.data = t.data;
  ec.timeouts.body = t.body;
  ec.timeouts.end_of_data = t.end_of_data;
  ec.timeouts.quit = t.quit;
  Status shaping = ApplyShapingConfig(cfg, &ec);
  if (!shaping.ok()) return shaping;
  return ec;
}

}  // namespace postino::scheduler
