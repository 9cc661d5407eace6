// reconfigure.cc: Reconfigure (SIGHUP) without dropping connections, and the
// per-source and per-path snapshot for `postino sources`.
#include <algorithm>

#include "common/log.h"
#include "engine/delivery/engine_impl.h"
#include "engine/net/address.h"

namespace postino::delivery {

// ---- Reconfigure and snapshots --------------------------------------------------------

Status Engine::Impl::Reconfigure(EngineConfig config) {
  bool any = false;
  for (const Source& s : config.sources) {
    sockaddr_storage ss{};
    any |= net::MakeSockaddr(s.address, 0, &ss).ok();
  }
  if (!any) return Status::InvalidArgument("reconfigure: no usable source address; kept the running configuration");
  // The resolver, TLS context and DNS servers stay as they are.
  config_ = std::move(config);
  ApplySources(config_.sources);
  policy_ = config_.policy;
  hosts_.set_ttl(config_.host_failure_ttl);
  slots_.set_cap(config_.max_total_connections);
  warmup_.SetPlans(config_.warmup);
  for (auto& [key, site] : sites_) {
    site->limits = LimitsFor(site->domain, site->mx_hosts);
    for (auto& [source, path] : site->paths) {
      ConfigurePath(path.get());
      if (!source->active) {
        for (Connection* c : std::vector<Connection*>(path->connections)) {
          if (!c->closed()) c->Quit();  // after the current transaction
        }
      }
    }
  }
  for (auto& [key, dest] : destinations_) {
    if (!dest->empty()) SchedulePump(dest.get());
  }
  log::Info("delivery: reconfigured: {} sources, {} sites", config_.sources.size(), sites_.size());
  return Status::Ok();
}

std::vector<SourceSnapshot> Engine::Impl::SourceStates() const {
  std::vector<SourceSnapshot> out;
  MonoTime now = Now();
  std::map<std::string, uint64_t> sent = warmup_.SentTodayBySource();
  for (const auto& entry : sources_) {
    SourceSnapshot s;
    s.name = entry->config.name;
    s.address = entry->config.address;
    s.active = entry->active;
    s.sent_today = sent[s.name];
    for (const auto& [key, site] : sites_) {
      auto it = site->paths.find(entry.get());
      if (it == site->paths.end()) continue;
      const Path& p = *it->second;
      PathSnapshot ps;
      ps.site = site->key;
      ps.state = p.egress.State(now);
      if (ps.state == shaping::PathState::kSuspended) {
        ps.until = ToWall(p.egress.suspended_until());
        ++s.suspended_sites;
      }
      ps.rate = p.egress.CurrentRate(now);
      ps.open_connections = p.open;
      ps.waiting = p.waiting;
      s.paths.push_back(std::move(ps));
    }
    if (!entry->active && s.paths.empty()) continue;
    shaping::SourceState ws = warmup_.State(s.name);
    s.warmup = ws.status;
    if (ws.status != shaping::WarmupStatus::kNotWarming) s.cap_today = ws.cap;
    if (ws.status == shaping::WarmupStatus::kCapped ||
        ws.status == shaping::WarmupStatus::kPending) {
      s.state = SourceSnapshot::State::kCapped;
    } else if (s.suspended_sites > 0) {
      s.state = SourceSnapshot::State::kSuspended;
    }
    out.push_back(std::move(s));
  }
  return out;
}

}  // namespace postino::delivery

