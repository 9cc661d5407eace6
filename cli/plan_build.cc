// plan_build.cc: wiring for the run estimate (see plan_build.h).
#include "cli/plan_build.h"

#include <fmt/format.h>
#include <uv.h>

#include <map>

#include "common/rate.h"
#include "engine/delivery/route_match.h"
#include "engine/net/mx_resolver.h"
#include "engine/shaping/site.h"
#include "scheduler/engine_config.h"

namespace postino::cli {
namespace {

struct Resolved {
  std::vector<std::string> hosts;  // MX host names, empty when the lookup failed
  std::string problem;
};

// Looks the domains up with the configured resolver, all at once, on a
// loop of our own (bounded by the resolver's timeout and tries).
std::map<std::string, Resolved> ResolveAll(const config::Config& cfg,
                                           const std::vector<std::string>& domains) {
  std::map<std::string, Resolved> out;
  if (domains.empty()) return out;
  uv_loop_t loop;
  uv_loop_init(&loop);
  {
    net::ResolverOptions options;
    options.servers = cfg.dns.servers;
    Result<std::unique_ptr<net::MxResolver>> resolver = net::MxResolver::Create(&loop, options);
    if (!resolver.ok()) {
      for (const auto& d : domains) out[d].problem = resolver.status().message();
    } else {
      for (const auto& d : domains) {
        (*resolver)->ResolveMx(d, [&out, d](const net::MxAnswer& a) {
          Resolved& r = out[d];
          if (a.error != net::MxAnswer::Error::kNone) {
            r.problem = a.detail.empty() ? "DNS lookup failed" : a.detail;
            return;
          }
          for (const auto& h : a.hosts) r.hosts.push_back(h.name);
        });
      }
      uv_run(&loop, UV_RUN_DEFAULT);
      resolver->reset();
    }
    uv_run(&loop, UV_RUN_NOWAIT);
  }
  uv_loop_close(&loop);
  return out;
}

delivery::PathEvent ToPathEvent(const db::Database::EgressEvent& e) {
  delivery::PathEvent p;
  p.source_name = e.source_name;
  p.source_address = e.source_ip;
  p.site = e.site;
  p.domain = e.domain;
  p.action = e.action == "slowed" ? delivery::PathEvent::Action::kSlowed
                                  : delivery::PathEvent::Action::kSuspended;
  p.reply = e.reply;
  p.until = e.until.value_or(e.at);
  p.at = e.at;
  if (!e.rate.empty()) {
    Result<Rate> r = ParseRate(e.rate);
    if (r.ok()) p.rate = *r;
  }
  return p;
}

}  // namespace

Result<BuiltPlan> BuildPlan(const config::Config& cfg, db::Database& db,
                            const db::CampaignRow& campaign) {
  Result<delivery::EngineConfig> ec = scheduler::MakeEngineConfig(cfg, cfg.node.id);
  if (!ec.ok()) return ec.status();
  Result<std::vector<db::Database::DomainRecipients>> domains = db.RemainingByDomain(campaign);
  if (!domains.ok()) return domains.status();

  BuiltPlan plan;
  scheduler::PlanInput& in = plan.input;
  in.now = std::chrono::system_clock::now();
  in.start = campaign.scheduled_at && *campaign.scheduled_at > in.now ? *campaign.scheduled_at
                                                                       : in.now;
  // Domains routed by MX are looked up (the largest first, up to a bound).
  std::vector<std::string> to_resolve;
  for (const auto& d : *domains) {
    const delivery::Route* route = delivery::MatchRoute(ec->routes, d.domain);
    bool is_static = route != nullptr && route->kind == delivery::Route::Kind::kStatic;
    if (!is_static && to_resolve.size() < kMaxResolvedDomains) to_resolve.push_back(d.domain);
  }
  std::map<std::string, Resolved> resolved = ResolveAll(cfg, to_resolve);

  std::map<std::string, size_t> site_index;
  for (const auto& d : *domains) {
    const delivery::Route* route = delivery::MatchRoute(ec->routes, d.domain);
    std::vector<std::string> names;
    std::string problem;
    std::string key;
    // The site as the engine forms it (Engine::Impl::AttachSite): a static
    // route's site is its host and port.
    if (route != nullptr && route->kind == delivery::Route::Kind::kStatic) {
      names.push_back(route->site_per_domain ? d.domain : route->host);
      if (!route->site_per_domain) key = shaping::MakeStaticSiteKey(route->host, route->port);
    } else {
      auto it = resolved.find(d.domain);
      if (it == resolved.end()) {
        problem = fmt::format("not looked up (only the {} largest domains are)",
                              kMaxResolvedDomains);
      } else {
        names = it->second.hosts;
        problem = it->second.problem;
      }
      if (names.empty()) names.push_back(d.domain);
    }
    if (key.empty()) key = shaping::MakeSiteKey(names);
    auto [it, fresh] = site_index.emplace(key, in.sites.size());
    if (fresh) {
      scheduler::PlanSite site;
      site.key = key;
      site.limits = ec->limits_for(d.domain, names);
      in.sites.push_back(std::move(site));
    }
    scheduler::PlanSite& site = in.sites[it->second];
    site.domains.push_back(d.domain);
    site.recipients += d.recipients;
    if (!problem.empty() && site.problem.empty()) site.problem = d.domain + ": " + problem;
  }

  plan.pool = campaign.pool.empty() ? cfg.default_pool : campaign.pool;
  in.sources = scheduler::PoolSources(ec->sources, plan.pool);
  in.warmup = ec->warmup;
  Result<std::vector<db::Database::SentCount>> sent = db.DeliveredTodayBySourceAndSite();
  if (!sent.ok()) return sent.status();
  for (const auto& c : *sent) {
    for (const auto& s : in.sources) {
      if (s.address == c.source_ip) {
        in.sent_today.push_back({s.name, c.site, static_cast<uint64_t>(c.count)});
      }
    }
  }
  Result<std::vector<db::Database::EgressEvent>> active = db.ActivePathStates();
  if (!active.ok()) return active.status();
  for (const auto& e : *active) in.active.push_back(ToPathEvent(e));
  plan.result = scheduler::EstimatePlan(in);
  return plan;
}

}  // namespace postino::cli
