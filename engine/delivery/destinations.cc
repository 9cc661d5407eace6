// destinations.cc: destinations (route or MX domain × source pool) and their
// pump: DNS resolution, the checks before any connection (pool, family,
// DNS expiry), giving up on messages no host can take any more, and
// failing a whole destination.
#include <algorithm>

#include "common/log.h"
#include "engine/delivery/engine_impl.h"
#include "engine/delivery/route_match.h"
#include "engine/net/address.h"
#include "engine/net/mx_resolver.h"

namespace postino::delivery {

Destination* Engine::Impl::DestinationFor(const std::string& domain, const std::string& pool) {
  const Route* route = MatchRoute(config_.routes, domain);
  Route effective;
  std::string key;
  if (route != nullptr) effective = *route;
  if (route != nullptr && route->kind == Route::Kind::kStatic) {
    key = "static|" + route->host + "|" + std::to_string(route->port) + "|" +
          route->domain_pattern + "|" + pool;
    if (route->site_per_domain) key += "|" + domain;
  } else {
    effective.kind = Route::Kind::kMx;
    key = "mx|" + domain + "|" + (route ? route->domain_pattern : std::string("-")) + "|" + pool;
  }
  auto& slot = destinations_[key];
  if (!slot) {
    slot = std::make_unique<Destination>();
    slot->key = key;
    slot->domain = effective.kind == Route::Kind::kStatic && !effective.site_per_domain
                       ? effective.host
                       : domain;
    slot->pool = pool;
    slot->route = std::move(effective);
  }
  return slot.get();
}

// ---- The pump ----------------------------------------------------------------

void Engine::Impl::Pump(Destination* dest) {
  if (shutting_down_) {
    FailAll(dest, Disposition::kDeferred, LocalReply(451, "4.3.2", "postino is shutting down"),
            smtp::Phase::kConnect);
    return;
  }
  if (dest->empty()) return;
  MonoTime now = Now();
  dest->last_used = now;
  if (dest->site != nullptr) dest->site->last_used = now;
  if (dest->pool_generation != pool_generation_) RebuildMembers(dest);
  if (dest->members.empty()) {
    FailAll(dest, Disposition::kDeferred,
            LocalReply(451, "4.3.5",
                       "no usable source address configured (pool '" + dest->pool + "')"),
            smtp::Phase::kConnect);
    return;
  }
  switch (dest->state) {
    case Destination::State::kUnresolved:
      Resolve(dest);
      return;
    case Destination::State::kResolving:
      return;
    case Destination::State::kFailed:
      FailAll(dest, dest->resolve_disposition, dest->resolve_failure, smtp::Phase::kConnect);
      dest->state = Destination::State::kUnresolved;  // the resolver caches negative answers
      return;
    case Destination::State::kReady:
      break;
  }
  if (dest->connections.empty() && now > dest->hosts_expire) {
    if (dest == slots_.serving()) dest->keeps_slot_turn = true;
    dest->state = Destination::State::kUnresolved;
    Resolve(dest);
    return;
  }
  // A pool none of whose sources has the IP family of any host.
  bool any_family = false;
  for (const HostEntry& h : dest->hosts) {
    for (const SourceEntry* s : dest->members) any_family |= s->family == h.family;
  }
  if (!any_family && dest->connections.empty()) {
    FailAll(dest, Disposition::kDeferred,
            LocalReply(451, "4.4.4",
                       "no source address of a matching IP family (or pool '" + dest->pool +
                           "') can reach " + dest->domain),
            smtp::Phase::kConnect);
    return;
  }
  GiveUpUnreachable(dest);
  AssignSources(dest, now);
  // Idle connections take what they can.
  for (Connection* c : std::vector<Connection*>(dest->connections)) {
    if (c->ready() && !c->closed()) FeedConnection(dest, c, now);
  }
  // At the total connection cap, a connection with nothing left to send
  // gives its slot to a destination that waits for one.
  if (slots_.AnyWaiting()) {
    for (Connection* c : std::vector<Connection*>(dest->connections)) {
      if (c->ready() && !c->closed() && LaneEmpty(dest, c)) c->Quit();
    }
  }
  OpenConnections(dest, now);
}

void Engine::Impl::GiveUpUnreachable(Destination* dest) {
  // Messages that no host can take any more get their Outcome now (only
  // possible after a host failed or a message was sent on to the next MX).
  bool all_usable = std::all_of(dest->hosts.begin(), dest->hosts.end(),
                                [&](const HostEntry& h) { return hosts_.Usable(h); });
  if (dest->empty()) dest->has_tried_messages = false;
  if (all_usable && !dest->has_tried_messages && !dest->hosts.empty()) return;
  // Collected first and reported after: the Outcome handler may Submit,
  // which appends to these very queues.
  std::vector<std::unique_ptr<Pending>> unreachable;
  auto give_up = [&](MessageQueue& q, Path* path) {
    for (auto it = q.begin(); it != q.end();) {
      if (CanStillTry(dest, **it)) {
        ++it;
        continue;
      }
      unreachable.push_back(std::move(*it));
      it = q.erase(it);
      if (path != nullptr) {
        --dest->lane_messages;
        --path->waiting;
      }
    }
  };
  give_up(dest->queue, nullptr);
  for (auto& [source, lane] : dest->lanes) {
    give_up(lane, dest->site != nullptr ? PathFor(dest->site, source) : nullptr);
  }
  if (unreachable.empty()) return;
  smtp::Reply reply = dest->last_failure
                          ? *dest->last_failure
                          : LocalReply(451, "4.4.1", "no reachable host for " + dest->domain);
  smtp::Phase phase = dest->last_failure ? dest->last_failure_phase : smtp::Phase::kConnect;
  policy::Decision d = Classify(dest->site, phase, reply);
  const std::string mx_host = dest->hosts.empty() ? dest->domain : dest->hosts[0].name;
  for (auto& p : unreachable) {
    EmitAll(std::move(p),
            d.recipient == policy::RecipientAction::kBounce ? Disposition::kBounced
                                                            : Disposition::kDeferred,
            reply, phase, d, nullptr, mx_host);
  }
}

bool Engine::Impl::CanStillTry(Destination* dest, const Pending& p) const {
  for (size_t i = 0; i < dest->hosts.size() && i < 64; ++i) {
    if (p.tried_hosts & (uint64_t{1} << i)) continue;
    if (hosts_.Usable(dest->hosts[i])) return true;
    // A live connection to a failed host may still carry it.
    for (Connection* c : dest->connections) {
      if (!c->closed() && c->target().host_index == i && c->was_ready()) return true;
    }
  }
  return false;
}

void Engine::Impl::FailAll(Destination* dest, Disposition d, const smtp::Reply& reply,
                           smtp::Phase phase) {
  for (auto& [source, lane] : dest->lanes) {
    if (!lane.empty()) ReturnLane(dest, source);
  }
  // Messages the Outcome handler submits meanwhile wait for the next pump.
  MessageQueue failed;
  failed.swap(dest->queue);
  const std::string domain = dest->domain;
  // One decision for all (suppress, category) from the policy, the
  // disposition from the caller (a DNS answer, shutdown, no source).
  const policy::Decision decision = Classify(dest->site, phase, reply);
  for (auto& p : failed) EmitAll(std::move(p), d, reply, phase, decision, nullptr, domain);
}

// ---- DNS ----------------------------------------------------------------------

void Engine::Impl::Resolve(Destination* dest) {
  if (resolver_ == nullptr) {
    dest->state = Destination::State::kFailed;
    dest->resolve_failure = LocalReply(451, "4.4.3", "DNS resolver unavailable");
    dest->resolve_disposition = Disposition::kDeferred;
    SchedulePump(dest);
    return;
  }
  dest->state = Destination::State::kResolving;
  std::weak_ptr<bool> alive = alive_;
  auto finish = [this, alive, dest](std::vector<HostEntry> hosts) {
    if (alive.expired()) return;
    dest->hosts = std::move(hosts);
    dest->hosts_expire = Now() + std::chrono::seconds(60);
    dest->state = Destination::State::kReady;
    AttachSite(dest);
    SchedulePump(dest);
  };
  auto fail = [this, alive, dest](Disposition d, smtp::Reply reply) {
    if (alive.expired()) return;
    dest->state = Destination::State::kFailed;
    dest->resolve_failure = std::move(reply);
    dest->resolve_disposition = d;
    SchedulePump(dest);
  };
  auto make_entries = [](const std::string& name, const std::vector<std::string>& ips,
                         uint16_t port, std::vector<HostEntry>* out) {
    for (const std::string& ip : ips) {
      HostEntry e;
      e.name = name;
      e.ip = ip;
      e.port = port;
      if (!net::MakeSockaddr(ip, port, &e.address).ok()) continue;
      e.family = e.address.ss_family;
      out->push_back(std::move(e));
    }
  };
  if (dest->route.kind == Route::Kind::kStatic) {
    const std::string host = dest->route.host;
    const uint16_t port = dest->route.port;
    resolver_->ResolveAddresses(
        host, [finish, fail, make_entries, host, port](Result<std::vector<std::string>> r) {
          if (!r.ok()) {
            fail(Disposition::kDeferred,
                 LocalReply(451, "4.4.3", "cannot resolve route host: " + r.status().message()));
            return;
          }
          std::vector<HostEntry> hosts;
          make_entries(host, *r, port, &hosts);
          finish(std::move(hosts));
        });
    return;
  }
  const uint16_t port = config_.mx_port;
  resolver_->ResolveMx(dest->domain, [finish, fail, make_entries, port](
                                         const net::MxAnswer& answer) {
    using E = net::MxAnswer::Error;
    switch (answer.error) {
      case E::kNone: {
        std::vector<HostEntry> hosts;
        for (const net::MxHost& h : answer.hosts) make_entries(h.name, h.addresses, port, &hosts);
        finish(std::move(hosts));
        return;
      }
      case E::kNullMx:
        fail(Disposition::kBounced, LocalReply(556, "5.1.10", answer.detail));
        return;
      case E::kNxDomain:
      case E::kNoAddress:
        fail(Disposition::kBounced, LocalReply(550, "5.1.2", answer.detail));
        return;
      case E::kTemporary:
        fail(Disposition::kDeferred, LocalReply(451, "4.4.3", answer.detail));
        return;
    }
  });
}

}  // namespace postino::delivery
