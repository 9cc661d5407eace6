// engine.cc: the delivery engine (see engine.h and engine_impl.h):
// destinations with their queues, host choice with next-MX and a short host
// failure memory, connections per egress path, STARTTLS fallback, and
// exactly one Outcome per submitted message. Shaping decisions (which
// source, when, how many connections) live in shaping.cc.
#include "engine/delivery/engine.h"

#include <algorithm>

#include "common/log.h"
#include "engine/delivery/engine_impl.h"
#include "engine/delivery/route_match.h"
#include "engine/net/address.h"
#include "engine/net/mx_resolver.h"
#include "engine/policy/reply_policy.h"

namespace postino::delivery {

smtp::Reply LocalReply(int code, std::string enhanced, const std::string& text) {
  smtp::Reply r;
  r.code = code;
  r.enhanced = enhanced;
  r.lines.push_back(enhanced + " " + text);
  r.local = true;
  return r;
}

namespace {

TimerBox* NewTimer(uv_loop_t* loop, Engine::Impl* impl) {
  auto* box = new TimerBox{{}, impl};
  uv_timer_init(loop, &box->timer);
  box->timer.data = box;
  return box;
}

void CloseTimer(TimerBox* box) {
  box->impl = nullptr;
  uv_timer_stop(&box->timer);
  uv_close(reinterpret_cast<uv_handle_t*>(&box->timer),
           [](uv_handle_t* h) { delete static_cast<TimerBox*>(h->data); });
}

}  // namespace

Engine::Impl::Impl(uv_loop_t* loop, EngineConfig config, OutcomeHandler handler)
    : loop_(loop), config_(std::move(config)), handler_(std::move(handler)) {
  ApplySources(config_.sources);
  backoff_ = config_.backoff;
  RebuildWarmup(config_.warmup);
  tls::ClientContextOptions tls_options;
  tls_options.ca_file = config_.ca_file;
  auto ctx = tls::TlsContext::NewClient(tls_options);
  if (!ctx.ok()) {
    log::Error("delivery: {}; using the system trust store only", ctx.status().message());
    tls_options.ca_file.clear();
    ctx = tls::TlsContext::NewClient(tls_options);
  }
  if (ctx.ok()) tls_context_ = *ctx;
  net::ResolverOptions ropts;
  ropts.servers = config_.dns_servers;
  ropts.timeout = config_.dns_timeout;
  auto resolver = net::MxResolver::Create(loop_, ropts);
  if (resolver.ok()) {
    resolver_ = std::move(*resolver);
  } else {
    log::Error("delivery: DNS resolver unavailable: {}", resolver.status().message());
  }
  work_ = NewTimer(loop_, this);
  wake_ = NewTimer(loop_, this);
  watch_ = NewTimer(loop_, this);
  sweep_ = NewTimer(loop_, this);
  auto sweep_every = std::max<int64_t>(
      1, std::min<int64_t>(10000, config_.destination_idle_ttl.count()));
  uv_timer_start(
      &sweep_->timer,
      [](uv_timer_t* t) {
        auto* box = static_cast<TimerBox*>(t->data);
        if (box->impl != nullptr) box->impl->Sweep();
      },
      static_cast<uint64_t>(sweep_every), static_cast<uint64_t>(sweep_every));
  // Housekeeping only: it must not keep the caller's loop running.
  uv_unref(reinterpret_cast<uv_handle_t*>(&sweep_->timer));
}

Engine::Impl::~Impl() {
  *alive_ = false;
  // Connections close their transports; libuv frees the handles later.
  connections_.clear();
  graveyard_.clear();
  resolver_.reset();
  CloseTimer(work_);
  CloseTimer(wake_);
  CloseTimer(watch_);
  CloseTimer(sweep_);
}

// ---- Submission and destinations -------------------------------------------

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

void Engine::Impl::Submit(OutboundMessage message) {
  // One transaction per destination, in the order the recipients came; the
  // pump splits one that is larger than the site takes.
  std::vector<std::pair<Destination*, std::unique_ptr<Pending>>> parts;
  std::unordered_map<Destination*, size_t> part_of;
  for (Recipient& r : message.recipients) {
    Destination* dest = DestinationFor(r.domain, message.pool);
    auto [it, added] = part_of.emplace(dest, parts.size());
    if (added) {
      auto p = std::make_unique<Pending>();
      p->seq = next_seq_++;
      p->mail_from = message.mail_from;
      p->domain = r.domain;
      p->data = message.data;
      parts.emplace_back(dest, std::move(p));
    }
    parts[it->second].second->rcpts.push_back(PendingRcpt{r.id, std::move(r.address)});
    ++in_flight_;
  }
  for (auto& [dest, p] : parts) {
    dest->queue.push_back(std::move(p));
    SchedulePump(dest);  // never deliver an Outcome inside Submit
  }
}

void Engine::Impl::SchedulePump(Destination* dest) {
  if (dest != nullptr) dirty_.insert(dest);
  if (work_scheduled_) return;
  work_scheduled_ = true;
  uv_timer_start(
      &work_->timer,
      [](uv_timer_t* t) {
        auto* w = static_cast<TimerBox*>(t->data);
        if (w->impl != nullptr) w->impl->RunWork();
      },
      0, 0);
}

void Engine::Impl::RunWork() {
  work_scheduled_ = false;
  graveyard_.clear();
  std::unordered_set<Destination*> dirty;
  dirty.swap(dirty_);
  for (Destination* d : dirty) Pump(d);
  if (reclaim_idle_) ReclaimIdleConnections();
  // Free connection slots go to the destinations that waited longest. A
  // pumped destination that is full again puts itself back at the end.
  while (!TotalConnectionsFull() && !global_waiting_.empty() && !shutting_down_) {
    Destination* d = global_waiting_.front();
    global_waiting_.pop_front();
    global_waiting_set_.erase(d);
    serving_ = d;
    Pump(d);
    serving_ = nullptr;
  }
  MaybeDone();
}

void Engine::Impl::ReclaimIdleConnections() {
  reclaim_idle_ = false;
  if (global_waiting_.empty()) return;
  std::vector<Connection*> idle;
  for (auto& [raw, conn] : connections_) {
    if (!raw->ready() || raw->closed()) continue;
    if (LaneEmpty(static_cast<Destination*>(raw->destination), raw)) idle.push_back(raw);
  }
  for (Connection* c : idle) c->Quit();
}

// ---- The pump ----------------------------------------------------------------

void Engine::Impl::Pump(Destination* dest) {
  if (shutting_down_) {
    FailAll(dest, Disposition::kDeferred, LocalReply(451, "4.3.2", "postino is shutting down"),
            smtp::Phase::kConnect);
    return;
  }
  if (dest->empty()) return;
  MonoTime now = SystemClock::Instance().Now();
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
    if (dest == serving_) dest->keeps_slot_turn = true;
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
  if (!global_waiting_.empty()) {
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
                                [&](const HostEntry& h) { return HostUsable(h); });
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
  policy::Decision d = policy::Classify(phase, reply);
  const std::string mx_host = dest->hosts.empty() ? dest->domain : dest->hosts[0].name;
  for (auto& p : unreachable) {
    EmitAll(std::move(p),
            d.recipient == policy::RecipientAction::kBounce ? Disposition::kBounced
                                                            : Disposition::kDeferred,
            reply, phase, nullptr, mx_host);
  }
}

bool Engine::Impl::HostUsable(const HostEntry& h) const {
  auto it = host_failures_.find(HostKey(h));
  return it == host_failures_.end() || it->second.until <= SystemClock::Instance().Now();
}

bool Engine::Impl::CanStillTry(Destination* dest, const Pending& p) const {
  for (size_t i = 0; i < dest->hosts.size() && i < 64; ++i) {
    if (p.tried_hosts & (uint64_t{1} << i)) continue;
    if (HostUsable(dest->hosts[i])) return true;
    // A live connection to a failed host may still carry it.
    for (Connection* c : dest->connections) {
      if (!c->closed() && c->target().host_index == i && c->was_ready()) return true;
    }
  }
  return false;
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
      SystemClock::Instance().Now() < site->learned_rcpt_limit_until) {
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
      if (TotalConnectionsFull() || (!global_waiting_.empty() && dest != serving_)) {
        if (global_waiting_set_.insert(dest).second) {
          if (dest->keeps_slot_turn) {
            global_waiting_.push_front(dest);
          } else {
            global_waiting_.push_back(dest);
          }
        }
        dest->keeps_slot_turn = false;
        reclaim_idle_ = true;
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
        if (dest->hosts[i].family != source->family || !HostUsable(dest->hosts[i])) continue;
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
  cp.target.tls_verify = dest->route.tls_verify && (cp.target.tls == smtp::TlsMode::kRequired ||
                                                    cp.target.tls == smtp::TlsMode::kImplicit);
  MonoTime now = SystemClock::Instance().Now();
  auto plain = plain_only_.find(HostKey(h));
  if (plain != plain_only_.end()) {
    if (plain->second > now && cp.target.tls == smtp::TlsMode::kOpportunistic) {
      cp.target.tls = smtp::TlsMode::kNone;
    } else if (plain->second <= now) {
      plain_only_.erase(plain);
    }
  }
  cp.source = s.address;
  cp.source_address = s.config.address;
  cp.session.helo_name = s.config.ehlo.empty() ? std::string("localhost") : s.config.ehlo;
  cp.session.tls = cp.target.tls;
  cp.session.auth = dest->route.auth;
  cp.session.auth_requires_tls = dest->route.auth_requires_tls;
  cp.session.pipelining = true;
  cp.session.max_transactions = std::max(1, limits.max_messages_per_connection);
  cp.session.timeouts = config_.timeouts;
  cp.idle_timeout = config_.idle_timeout;
  cp.tls_context = tls_context_;
  dest->keeps_slot_turn = false;
  auto conn = std::make_unique<Connection>(loop_, std::move(cp), this);
  Connection* raw = conn.get();
  raw->destination = dest;
  raw->path = path;
  path->open++;
  path->site->open++;
  ++open_total_;
  path->connections.push_back(raw);
  dest->connections.push_back(raw);
  connections_.emplace(raw, std::move(conn));
  raw->Start();
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
    dest->hosts_expire = SystemClock::Instance().Now() + std::chrono::seconds(60);
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

// ---- Connection callbacks -------------------------------------------------------

void Engine::Impl::OnConnectionReady(Connection* conn) {
  auto* dest = static_cast<Destination*>(conn->destination);
  if (shutting_down_) {
    conn->Quit();
    return;
  }
  FeedConnection(dest, conn, SystemClock::Instance().Now());
  if (conn->ready() && dest->queue.empty() && !global_waiting_.empty() && LaneEmpty(dest, conn)) {
    // Nothing left for it while other destinations wait for a connection
    // slot: give the slot up now rather than after the idle timeout.
    conn->Quit();
    return;
  }
  // Refill the lanes (and wake this connection if it stayed idle).
  SchedulePump(dest);
}

namespace {

// RFC 5321 §4.5.3.1.10: a server out of recipient slots answers RCPT with
// 452 (older ones with 552, RFC 3463 x.5.3 "too many recipients").
// A 452 with another enhanced code (4.2.2 mailbox full, 4.3.1 out of
// storage) is about this recipient or the server, not the transaction size.
bool TooManyRecipients(const RcptResult& r) {
  if (r.phase != smtp::Phase::kRcpt || r.reply.local) return false;
  if (r.reply.code != 452 && r.reply.code != 552 && r.reply.code != 451) return false;
  if (!r.reply.enhanced.empty()) return r.reply.enhanced.substr(1) == ".5.3";
  if (r.reply.code != 452) return false;
  std::string text = r.reply.Text();
  for (char& c : text) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return text.find("too many recipients") != std::string::npos;
}

bool PassedRcpt(const RcptResult& r) {
  return r.phase == smtp::Phase::kData || r.phase == smtp::Phase::kBody ||
         r.phase == smtp::Phase::kEndOfData;
}

}  // namespace

void Engine::Impl::OnMessageResult(Connection* conn, std::unique_ptr<Pending> message,
                                   std::vector<RcptResult> results) {
  auto* dest = static_cast<Destination*>(conn->destination);
  auto* path = static_cast<Path*>(conn->path);
  const std::string& mx_host = conn->target().host_name;
  const size_t host_index = conn->target().host_index;
  // Recipients refused only because the transaction was full go in the next
  // transaction, once the server took some (else a server answering 452 to
  // everything would loop).
  const bool some_passed = std::any_of(results.begin(), results.end(), PassedRcpt);
  std::unique_ptr<Pending> overflow;
  std::optional<size_t> first_overflow;
  std::unique_ptr<Pending> next_mx;
  const RcptResult* next_mx_reason = nullptr;
  // Backoff rules and host failures see each distinct reply of the
  // transaction once, not once per recipient.
  struct Verdict {
    const RcptResult* result;
    bool bounce = false;
    policy::Decision decision;
  };
  std::vector<Verdict> verdicts;
  auto verdict_for = [&](const RcptResult& r) -> const Verdict& {
    for (const Verdict& v : verdicts) {
      if (v.result->phase == r.phase && v.result->reply.code == r.reply.code &&
          v.result->reply.lines == r.reply.lines) {
        return v;
      }
    }
    Verdict v{&r, false, {}};
    bool backoff = !r.reply.IsPositive() && ApplyBackoff(path, message->domain, r.reply, &v.bounce);
    v.decision = policy::Classify(r.phase, r.reply);
    if (!v.bounce && v.decision.path == policy::PathAction::kSuspend && !backoff &&
        dest->hosts.size() > host_index) {
      MarkHostFailed(dest->hosts[host_index], r.reply, r.phase);
    }
    verdicts.push_back(std::move(v));
    return verdicts.back();
  };
  auto carry = [&](std::unique_ptr<Pending>* into, size_t i) {
    if (!*into) *into = SameMessage(*message);
    (*into)->rcpts.push_back(std::move(message->rcpts[i]));
  };
  verdicts.reserve(results.size());
  for (size_t i = 0; i < results.size() && i < message->rcpts.size(); ++i) {
    const RcptResult& r = results[i];
    const uint64_t id = message->rcpts[i].id;
    if (some_passed && TooManyRecipients(r) && !shutting_down_) {
      if (!first_overflow) first_overflow = i;
      carry(&overflow, i);
      continue;
    }
    const Verdict& v = verdict_for(r);
    if (v.bounce) {
      Emit(id, Disposition::kBounced, r.reply, r.phase, conn, mx_host);
      continue;
    }
    switch (v.decision.recipient) {
      case policy::RecipientAction::kDelivered:
        Emit(id, Disposition::kDelivered, r.reply, r.phase, conn, mx_host);
        continue;
      case policy::RecipientAction::kBounce:
        Emit(id, Disposition::kBounced, r.reply, r.phase, conn, mx_host);
        continue;
      case policy::RecipientAction::kRetryLater:
        Emit(id, Disposition::kDeferred, r.reply, r.phase, conn, mx_host);
        continue;
      case policy::RecipientAction::kTryNextMx:
        if (!next_mx_reason) next_mx_reason = &r;
        carry(&next_mx, i);
        continue;
    }
  }
  if (overflow) {
    Site* site = path->site;
    if (*first_overflow > 0 && *first_overflow < RcptLimit(site)) {
      site->learned_rcpt_limit = *first_overflow;
      // A limit per hour or per connection may lift again: try the
      // configured one after a while.
      site->learned_rcpt_limit_until = SystemClock::Instance().Now() + std::chrono::hours(1);
      log::Info("delivery: {} [{}] takes {} recipients per transaction; sending at most that many",
                mx_host, conn->target().ip, *first_overflow);
    }
    dest->queue.push_front(std::move(overflow));
    SchedulePump(dest);
  }
  if (next_mx) {
    if (host_index < 64) next_mx->tried_hosts |= uint64_t{1} << host_index;
    dest->last_failure = next_mx_reason->reply;
    dest->last_failure_phase = next_mx_reason->phase;
    if (shutting_down_ || !CanStillTry(dest, *next_mx)) {
      EmitAll(std::move(next_mx), Disposition::kDeferred, next_mx_reason->reply,
              next_mx_reason->phase, conn, mx_host);
      return;
    }
    dest->queue.push_front(std::move(next_mx));
    dest->has_tried_messages = true;
    SchedulePump(dest);
  }
}

void Engine::Impl::OnConnectionClosed(Connection* conn) {
  auto* dest = static_cast<Destination*>(conn->destination);
  auto* path = static_cast<Path*>(conn->path);
  dest->last_used = SystemClock::Instance().Now();
  dest->connections.erase(std::remove(dest->connections.begin(), dest->connections.end(), conn),
                          dest->connections.end());
  path->connections.erase(std::remove(path->connections.begin(), path->connections.end(), conn),
                          path->connections.end());
  path->open--;
  path->site->open--;
  --open_total_;
  for (Destination* waiting : path->site->waiting_for_slot) SchedulePump(waiting);
  path->site->waiting_for_slot.clear();
  const smtp::ClientSession& session = conn->session();
  if (!conn->was_ready() && session.failure().has_value() &&
      conn->target().host_index < dest->hosts.size()) {
    const HostEntry& h = dest->hosts[conn->target().host_index];
    const smtp::Reply& failure = *session.failure();
    bool bounce = false;
    bool backoff = !failure.local && !shutting_down_ &&
                   ApplyBackoff(path, dest->domain, failure, &bounce);
    if (conn->tls_failed() && conn->target().tls == smtp::TlsMode::kOpportunistic) {
      // Retry this host once in plain text.
      log::Info("delivery: STARTTLS with {} [{}] failed ({}); retrying in plain text", h.name,
                h.ip, failure.Text());
      plain_only_[HostKey(h)] = SystemClock::Instance().Now() + config_.host_failure_ttl;
    } else if (!shutting_down_) {
      // A backoff rule shapes the path instead; the host itself is fine.
      if (!backoff) MarkHostFailed(h, failure, session.failure_phase());
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

void Engine::Impl::MarkHostFailed(const HostEntry& h, const smtp::Reply& reply,
                                  smtp::Phase phase) {
  log::Info("delivery: host {} [{}]:{} failed in {}: {}; skipping it for {} ms", h.name, h.ip,
            h.port, smtp::PhaseName(phase), reply.ToString(), config_.host_failure_ttl.count());
  host_failures_[HostKey(h)] =
      HostFailure{SystemClock::Instance().Now() + config_.host_failure_ttl, reply, phase};
}

// ---- Outcomes -------------------------------------------------------------------

void Engine::Impl::EmitAll(std::unique_ptr<Pending> p, Disposition d, const smtp::Reply& reply,
                           smtp::Phase phase, const Connection* conn, const std::string& mx_host) {
  std::vector<PendingRcpt> rcpts = std::move(p->rcpts);
  p.reset();  // no per-message state survives its Outcomes
  for (const PendingRcpt& r : rcpts) Emit(r.id, d, reply, phase, conn, mx_host);
}

void Engine::Impl::Emit(uint64_t id, Disposition d, const smtp::Reply& reply, smtp::Phase phase,
                        const Connection* conn, const std::string& mx_host) {
  Outcome o;
  o.id = id;
  o.disposition = d;
  o.reply = reply;
  o.phase = phase;
  o.mx_host = mx_host;
  if (conn != nullptr) {
    o.source_address = conn->source_address();
    if (const auto* path = static_cast<const Path*>(conn->path)) o.site = path->site->key;
    if (const auto& tls = conn->session().tls()) {
      o.tls_version = tls->version;
      o.tls_cipher = tls->cipher;
    }
  }
  o.finished_at = std::chrono::system_clock::now();
  --in_flight_;
  handler_(std::move(o));
  if (shutting_down_) SchedulePump(nullptr);
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
  for (auto& p : failed) EmitAll(std::move(p), d, reply, phase, nullptr, domain);
}

// ---- Withdraw -----------------------------------------------------------------

std::vector<uint64_t> Engine::Impl::Withdraw(const std::function<bool(uint64_t)>& pred) {
  std::vector<uint64_t> out;
  for (auto& entry : destinations_) {
    // A named variable, not a structured binding: lambdas may not capture
    // those before C++20 as clang 14 implements it.
    auto& dest = entry.second;
    auto take_back = [&](MessageQueue& q, Path* path) {
      for (auto it = q.begin(); it != q.end();) {
        std::vector<PendingRcpt>& rcpts = (*it)->rcpts;
        auto keep = std::stable_partition(rcpts.begin(), rcpts.end(),
                                          [&](const PendingRcpt& r) { return !pred(r.id); });
        for (auto r = keep; r != rcpts.end(); ++r) {
          out.push_back(r->id);
          --in_flight_;
        }
        rcpts.erase(keep, rcpts.end());
        if (!rcpts.empty()) {
          ++it;
          continue;
        }
        it = q.erase(it);
        if (path != nullptr) {
          --dest->lane_messages;
          --path->waiting;
        }
      }
    };
    take_back(dest->queue, nullptr);
    for (auto& [source, lane] : dest->lanes) {
      if (!lane.empty()) take_back(lane, PathFor(dest->site, source));
    }
  }
  if (!out.empty()) SchedulePump(nullptr);
  return out;
}

// ---- Housekeeping --------------------------------------------------------------

void Engine::Impl::Sweep() {
  MonoTime now = SystemClock::Instance().Now();
  for (auto it = destinations_.begin(); it != destinations_.end();) {
    Destination* d = it->second.get();
    bool idle = d->empty() && d->connections.empty() &&
                d->state != Destination::State::kResolving && d->wake_entries == 0 &&
                dirty_.count(d) == 0 && global_waiting_set_.count(d) == 0 &&
                now - d->last_used >= config_.destination_idle_ttl;
    if (!idle) {
      ++it;
      continue;
    }
    if (d->site != nullptr) {
      d->site->waiting_for_slot.erase(d);
      --d->site->destinations;
    }
    it = destinations_.erase(it);
  }
  for (auto it = sites_.begin(); it != sites_.end();) {
    Site* site = it->second.get();
    // A rate's history must have run out too, or forgetting it would let a
    // burst through early (e.g. "10/hour" = one message per 6 minutes).
    Nanos needed = config_.destination_idle_ttl;
    for (const auto& rate : {site->limits.max_message_rate, site->limits.max_connection_rate}) {
      if (rate && rate->PerSecond() > 0) {
        needed = std::max(needed, std::chrono::duration_cast<Nanos>(std::chrono::duration<double>(
                                      std::max<uint32_t>(1, config_.rate_burst) / rate->PerSecond())));
      }
    }
    bool unused = site->destinations == 0 && site->open == 0 && now - site->last_used >= needed;
    for (auto& [source, path] : site->paths) {
      unused = unused && path->open == 0 && path->waiting == 0 && !path->watched &&
               path->connections.empty() && path->reported == shaping::PathState::kOpen &&
               !path->egress.Suspended(now);
    }
    if (unused) {
      it = sites_.erase(it);
    } else {
      ++it;
    }
  }
}

EngineCounts Engine::Impl::Counts() const {
  EngineCounts c;
  c.destinations = destinations_.size();
  c.sites = sites_.size();
  c.connections = connections_.size();
  c.recipients = in_flight_;
  for (const auto& [key, dest] : destinations_) {
    if (dest->state == Destination::State::kResolving) ++c.resolving;
  }
  if (wake_armed_ != MonoTime::max()) {
    c.next_wake_in = std::max(Nanos(0), Nanos(wake_armed_ - SystemClock::Instance().Now()));
  }
  return c;
}

// ---- Shutdown -----------------------------------------------------------------

void Engine::Impl::Shutdown(std::function<void()> done) {
  shutting_down_ = true;
  done_ = std::move(done);
  for (auto& [key, dest] : destinations_) SchedulePump(dest.get());
  std::vector<Connection*> open;
  for (auto& [raw, conn] : connections_) open.push_back(raw);
  for (Connection* c : open) {
    if (connections_.count(c) != 0) c->Quit();
  }
  uv_timer_stop(&watch_->timer);
  uv_timer_stop(&sweep_->timer);
  uv_timer_stop(&wake_->timer);
  SchedulePump(nullptr);
}

void Engine::Impl::MaybeDone() {
  if (!shutting_down_ || !done_ || !connections_.empty() || in_flight_ != 0) return;
  auto done = std::move(done_);
  done_ = nullptr;
  done();
}

// ---- Facade -------------------------------------------------------------------

Engine::Engine(uv_loop_t* loop, EngineConfig config, OutcomeHandler handler)
    : impl_(std::make_unique<Impl>(loop, std::move(config), std::move(handler))) {}
Engine::~Engine() = default;
void Engine::Submit(OutboundMessage message) { impl_->Submit(std::move(message)); }
size_t Engine::in_flight() const { return impl_->in_flight(); }
void Engine::Shutdown(std::function<void()> done) { impl_->Shutdown(std::move(done)); }
std::vector<uint64_t> Engine::Withdraw(const std::function<bool(uint64_t)>& pred) {
  return impl_->Withdraw(pred);
}
void Engine::SetPathEventHandler(PathEventHandler handler) {
  impl_->SetPathEventHandler(std::move(handler));
}
Status Engine::Reconfigure(EngineConfig config) { return impl_->Reconfigure(std::move(config)); }
void Engine::SeedWarmupCounts(const std::vector<WarmupCount>& counts) {
  impl_->SeedWarmupCounts(counts);
}
std::vector<WarmupCount> Engine::WarmupCounts() const { return impl_->WarmupCounts(); }
std::vector<SourceSnapshot> Engine::SourceStates() const { return impl_->SourceStates(); }
EngineCounts Engine::Counts() const { return impl_->Counts(); }

}  // namespace postino::delivery
