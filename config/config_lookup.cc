// config_lookup.cc: queries over a loaded Config — sources, pools, the route
// for a domain and the effective limits for a destination.
#include <algorithm>

#include "config/config.h"
#include "common/host_pattern.h"

namespace postino::config {

const SourceConfig* Config::FindSource(std::string_view name) const {
  for (const SourceConfig& s : sources) {
    if (s.name == name) return &s;
  }
  return nullptr;
}

const PoolConfig* Config::FindPool(std::string_view name) const {
  for (const PoolConfig& p : pools) {
    if (p.name == name) return &p;
  }
  return nullptr;
}

const RouteConfig* Config::FindRoute(std::string_view domain) const {
  const RouteConfig* best = nullptr;
  int best_score = -1;
  for (const RouteConfig& r : routes) {
    if (!HostMatches(r.domain, domain)) continue;
    int score = PatternSpecificity(r.domain);
    if (score > best_score) {  // first of equals wins
      best = &r;
      best_score = score;
    }
  }
  return best;
}

namespace {

void Apply(const LimitValues& v, EffectiveLimits* out) {
  if (v.max_connections) out->max_connections = *v.max_connections;
  if (v.max_site_connections) out->max_site_connections = *v.max_site_connections;
  if (v.max_messages_per_connection) {
    out->max_messages_per_connection = *v.max_messages_per_connection;
  }
  if (v.max_recipients_per_message) {
    out->max_recipients_per_message = *v.max_recipients_per_message;
  }
  if (v.max_message_rate) out->max_message_rate = v.max_message_rate;
  if (v.max_connection_rate) out->max_connection_rate = v.max_connection_rate;
  if (v.tls) out->tls = v.tls;
  if (v.retry_schedule) out->retry_schedule = *v.retry_schedule;
  if (v.max_age) out->max_age = *v.max_age;
}

}  // namespace

EffectiveLimits Config::LimitsFor(std::string_view domain,
                                  const std::vector<std::string>& mx_hosts) const {
  EffectiveLimits out;
  out.retry_schedule = retry.schedule;
  out.max_age = retry.max_age;
  Apply(limits.defaults, &out);
  // (specificity, index): domain rules rank above every MX rule.
  std::vector<std::pair<int, size_t>> matching;
  for (size_t i = 0; i < limits.rules.size(); ++i) {
    const LimitRule& r = limits.rules[i];
    if (!r.match.empty()) {
      if (HostMatches(r.match, domain)) {
        matching.emplace_back(1'000'000 + PatternSpecificity(r.match), i);
      }
    } else if (!r.mx.empty()) {
      bool any = std::any_of(mx_hosts.begin(), mx_hosts.end(),
                             [&](const std::string& h) { return HostMatches(r.mx, h); });
      if (any) matching.emplace_back(PatternSpecificity(r.mx), i);
    }
  }
  // Least specific first, so the most specific rule is applied last; among
  // equals the rule written later wins.
  std::stable_sort(matching.begin(), matching.end(),
                   [](const auto& a, const auto& b) { return a.first < b.first; });
  for (const auto& m : matching) Apply(limits.rules[m.second].values, &out);
  return out;
}

}  // namespace postino::config
