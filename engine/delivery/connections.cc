// connections.cc: connections per egress path: how many to open for a
// destination's lanes (path, site and total limits, connection rate, host
// choice), feeding an idle connection the next transaction, the FIFO of
// destinations waiting for a slot under max_total_connections, and the
// connection callbacks (ready, closed: host failures, STARTTLS fallback).
#include <algorithm>

#include "common/log.h"
#include "engine/delivery/engine_impl.h"

namespace postino::delivery {

void Engine::Impl::ReclaimIdleConnections() {
  if (!slots_.AnyWaiting()) return;
  std::vector<Connection*> idle;
  for (auto& [raw, conn] : connections_) {
    if (!raw->ready() || raw->closed()) continue;
    if (LaneEmpty(static_cast<Destination*>(raw->destination), raw)) idle.push_back(raw);
  }
  for (Connection* c : idle) c->Quit();
}

void Engine::Impl::FeedConnection(Destination* dest, Connection* conn, MonoTime now) {
  auto* path = static_cast<Path*>(conn->path);
  if (!path->source->active || path->egress.Suspended(now) ||
      conn->transactions_started() >= std::max(1, path->site->limits.max_messages_per_connection)) {
    conn->Quit();
    return;
  }
  if (LaneEmpty(dest, conn)) return;  // idle
  shaping::ThrottleDecision d = path->egress.Check(now);
  if (!d.allowed) {
    ArmWake(dest, now + d.retry_after);
    return;
  }
  std::unique_ptr<Pending> p = LaneTake(dest, path->source, conn->target().host_index);
  if (!p) {
    // Every waiting message already failed on this connection's host (next
    // MX): it is of no use to them, and a new connection to another host
    // should not wait for its idle timeout.
    conn->Quit();
    return;
  }
  size_t limit = RcptLimit(path->site);
  if (p->rcpts.size() > limit) {
    // The rest goes first in the lane: the next transaction (on this
    // connection or another) carries it.
    LanePush(dest, path->source, SplitOff(p.get(), limit), /*front=*/true);
  }
  path->egress.TryAcquire(now);
  conn->Send(std::move(p));
}

std::unique_ptr<Pending> Engine::Impl::SameMessage(const Pending& p) {
  auto out = std::make_unique<Pending>();
  out->seq = next_seq_++;
  out->mail_from = p.mail_from;
  out->domain = p.domain;
  out->data = p.data;
  out->tried_hosts = p.tried_hosts;
  out->warmup_counted = p.warmup_counted;
  return out;
}

std::unique_ptr<Pending> Engine::Impl::SplitOff(Pending* p, size_t keep) {
  std::unique_ptr<Pending> rest = SameMessage(*p);
  rest->rcpts.assign(std::make_move_iterator(p->rcpts.begin() + static_cast<std::ptrdiff_t>(keep)),
                     std::make_move_iterator(p->rcpts.end()));
  p->rcpts.resize(keep);
  return rest;
}

bool Engine::Impl::LaneEmpty(const Destination* dest, const Connection* conn) {
  auto lane = dest->lanes.find(static_cast<const Path*>(conn->path)->source);
  return lane == dest->lanes.end() || lane->second.empty();
}

size_t Engine::Impl::RcptLimit(const Site* site) const {
  size_t limit = static_cast<size_t>(std::max(1, site->limits.max_recipients_per_message));
  if (site->learned_rcpt_limit > 0 &&
      Now() < site->learned_rcpt_limit_until) {
    limit = std::min(limit, site->learned_rcpt_limit);
  }
  return limit;
}

void Engine::Impl::OpenConnections(Destination* dest, MonoTime now) {
  if (dest->lane_messages == 0 || dest->site == nullptr) return;
  Site* site = dest->site;
  std::vector<SourceEntry*> order;
  for (auto& [source, lane] : dest->lanes) {
    if (!lane.empty()) order.push_back(source);
  }
  std::sort(order.begin(), order.end(), [](const SourceEntry* a, const SourceEntry* b) {
    return a->config.name < b->config.name;
  });
  if (order.empty()) return;
  size_t start = dest->open_rotation++ % order.size();
  std::rotate(order.begin(), order.begin() + static_cast<std::ptrdiff_t>(start), order.end());
  for (SourceEntry* source : order) {
    Path* path = PathFor(site, source);
    MessageQueue& lane = dest->lanes[source];
    for (;;) {
      size_t spare = 0;  // connections that will take a message without a new one
      for (Connection* c : dest->connections) {
        if (c->path == path && !c->closed() && (!c->was_ready() || c->ready())) ++spare;
      }
      if (lane.size() <= spare || !source->active) break;
      if (path->egress.Suspended(now)) break;
      const PathLimits& limits = site->limits;
      if ((limits.max_connections > 0 && path->open >= limits.max_connections) ||
          (limits.max_site_connections > 0 && site->open >= limits.max_site_connections)) {
        site->waiting_for_slot.insert(dest);
        break;
      }
      // While destinations wait for a slot, a freed one goes to the one that
      // waited longest (served from RunWork), not to whoever pumps first.
      if (slots_.MustWait(dest)) {
        slots_.Wait(dest, /*front=*/dest->keeps_slot_turn);
        dest->keeps_slot_turn = false;
        SchedulePump(nullptr);
        return;
      }
      shaping::ThrottleDecision d = path->egress.Check(now);
      if (d.allowed && path->connect_rate) d = path->connect_rate->Check(now);
      if (!d.allowed) {
        ArmWake(dest, now + d.retry_after);
        break;
      }
      // First usable host (in MX order) of this family that a lane message has not tried.
      std::optional<size_t> host;
      for (size_t i = 0; i < dest->hosts.size() && i < 64 && !host; ++i) {
        if (dest->hosts[i].family != source->family || !hosts_.Usable(dest->hosts[i])) continue;
        bool wanted = std::any_of(lane.begin(), lane.end(), [&](const auto& p) {
          return (p->tried_hosts & (uint64_t{1} << i)) == 0;
        });
        if (wanted) host = i;
      }
      if (!host) {
        // This source cannot reach any host the lane's messages still need:
        // give them back so another source (or the give-up check) takes them.
        if (spare == 0 && std::none_of(dest->connections.begin(), dest->connections.end(),
                                       [&](Connection* c) { return c->path == path; })) {
          ReturnLane(dest, source);
          SchedulePump(dest);
        }
        break;
      }
      if (path->connect_rate) path->connect_rate->TryAcquire(now);
      OpenConnection(dest, path, *host);
    }
  }
}

void Engine::Impl::OpenConnection(Destination* dest, Path* path, size_t host_index) {
  const HostEntry& h = dest->hosts[host_index];
  const SourceEntry& s = *path->source;
  const PathLimits& limits = path->site->limits;
  ConnectionParams cp;
  cp.target.host_name = h.name;
  cp.target.ip = h.ip;
  cp.target.port = h.port;
  cp.target.address = h.address;
  cp.target.host_index = host_index;
  cp.target.tls = dest->route.tls;
  if (limits.tls && dest->route.kind == Route::Kind::kMx) cp.target.tls = *limits.tls;
  // Credentials go only to a server whose certificate was verified (unless
  // the route opts out): with auth, TLS is verified in every mode.
  const bool auth_needs_verified = AuthNeedsVerifiedTls(dest->route);
  cp.target.tls_verify =
      (dest->route.tls_verify && (cp.target.tls == smtp::TlsMode::kRequired ||
                                  cp.target.tls == smtp::TlsMode::kImplicit)) ||
      (auth_needs_verified && cp.target.tls != smtp::TlsMode::kNone);
  if (cp.target.tls == smtp::TlsMode::kOpportunistic && !auth_needs_verified &&
      hosts_.PlainOnly(h)) {
    cp.target.tls = smtp::TlsMode::kNone;
  }
  cp.source = s.address;
  cp.source_address = s.config.address;
  cp.session.helo_name = s.config.ehlo.empty() ? std::string("localhost") : s.config.ehlo;
  cp.session.tls = cp.target.tls;
  cp.session.auth = dest->route.auth;
  cp.session.auth_requires_tls = dest->route.auth_requires_tls;
  cp.session.auth_requires_verified_tls = auth_needs_verified;
  cp.session.pipelining = true;
  cp.session.max_transactions = std::max(1, limits.max_messages_per_connection);
  cp.session.timeouts = config_.timeouts;
  cp.session.log_connection = next_connection_id_++;
  cp.session.log_host = fmt::format("{} [{}]:{}", h.name, h.ip, h.port);
  cp.idle_timeout = config_.idle_timeout;
  cp.tls_context = tls_context_;
  dest->keeps_slot_turn = false;
  auto conn = std::make_unique<Connection>(loop_, std::move(cp), this);
  Connection* raw = conn.get();
  raw->destination = dest;
  raw->path = path;
  path->open++;
  path->site->open++;
  slots_.Opened();
  path->connections.push_back(raw);
  dest->connections.push_back(raw);
  connections_.emplace(raw, std::move(conn));
  raw->Start();
}

// ---- Connection callbacks -------------------------------------------------------

void Engine::Impl::OnConnectionReady(Connection* conn) {
  auto* dest = static_cast<Destination*>(conn->destination);
  if (shutting_down_) {
    conn->Quit();
    return;
  }
  FeedConnection(dest, conn, Now());
  if (conn->ready() && dest->queue.empty() && slots_.AnyWaiting() && LaneEmpty(dest, conn)) {
    // Nothing left for it while other destinations wait for a connection
    // slot: give the slot up now rather than after the idle timeout.
    conn->Quit();
    return;
  }
  // Refill the lanes (and wake this connection if it stayed idle).
  SchedulePump(dest);
}

void Engine::Impl::OnConnectionClosed(Connection* conn) {
  auto* dest = static_cast<Destination*>(conn->destination);
  auto* path = static_cast<Path*>(conn->path);
  dest->last_used = Now();
  dest->connections.erase(std::remove(dest->connections.begin(), dest->connections.end(), conn),
                          dest->connections.end());
  path->connections.erase(std::remove(path->connections.begin(), path->connections.end(), conn),
                          path->connections.end());
  path->open--;
  path->site->open--;
  slots_.Closed();
  for (Destination* waiting : path->site->waiting_for_slot) SchedulePump(waiting);
  path->site->waiting_for_slot.clear();
  const smtp::ClientSession& session = conn->session();
  if (!conn->was_ready() && session.failure().has_value() &&
      conn->target().host_index < dest->hosts.size()) {
    const HostEntry& h = dest->hosts[conn->target().host_index];
    const smtp::Reply& failure = *session.failure();
    // A failure before any transaction is classified once; a path action
    // (a server's reply, never a local failure) shapes the path instead
    // of marking the host failed: the host itself is fine.
    bool path_action = false;
    if (!failure.local && !shutting_down_) {
      path_action = ApplyPathAction(path, dest->domain, failure,
                                    Classify(path->site, session.failure_phase(), failure));
    }
    if (conn->tls_failed() && conn->target().tls == smtp::TlsMode::kOpportunistic &&
        !AuthNeedsVerifiedTls(dest->route)) {
      // Retry this host once in plain text.
      log::Info("delivery: STARTTLS with {} [{}] failed ({}); retrying in plain text", h.name,
                h.ip, failure.Text());
      hosts_.MarkPlainOnly(h);
    } else if (!shutting_down_) {
      if (!path_action) hosts_.MarkFailed(h, failure, session.failure_phase());
      dest->last_failure = failure;
      dest->last_failure_phase = session.failure_phase();
    }
  }
  auto it = connections_.find(conn);
  if (it != connections_.end()) {
    graveyard_.push_back(std::move(it->second));
    connections_.erase(it);
  }
  SchedulePump(dest);
}

}  // namespace postino::delivery
