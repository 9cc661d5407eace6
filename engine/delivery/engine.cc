// engine.cc: the delivery engine (see engine.h): destinations (route or MX
// domain × source pool) with a queue each, connection pools per (source,
// destination), host choice with next-MX and a short host failure memory,
// STARTTLS fallback, and exactly one Outcome per submitted message.
#include "engine/delivery/engine.h"

#include <algorithm>
#include <deque>
#include <random>
#include <unordered_map>
#include <unordered_set>

#include "common/log.h"
#include "engine/delivery/connection.h"
#include "engine/delivery/route_match.h"
#include "engine/net/address.h"
#include "engine/net/mx_resolver.h"
#include "engine/policy/reply_policy.h"

namespace postino::delivery {

namespace {

smtp::Reply LocalReply(int code, std::string enhanced, const std::string& text) {
  smtp::Reply r;
  r.code = code;
  r.enhanced = enhanced;
  r.lines.push_back(enhanced + " " + text);
  r.local = true;
  return r;
}

struct HostEntry {
  std::string name;  // MX / route host name
  std::string ip;
  uint16_t port = 25;
  int family = AF_INET;
  sockaddr_storage address{};
};

struct HostFailure {
  MonoTime until;
  smtp::Reply reply;
  smtp::Phase phase = smtp::Phase::kConnect;
};

struct WorkTimer {
  uv_timer_t timer;
  Engine::Impl* impl;
};

}  // namespace

struct Destination {
  std::string key;
  std::string domain;  // recipient domain (MX) or route host (static)
  std::string pool;
  Route route;         // effective route (kMx with defaults when none matched)
  enum class State { kUnresolved, kResolving, kReady, kFailed } state = State::kUnresolved;
  std::vector<HostEntry> hosts;
  MonoTime hosts_expire;
  smtp::Reply resolve_failure;
  Disposition resolve_disposition = Disposition::kDeferred;
  std::deque<std::unique_ptr<Pending>> queue;
  std::vector<Connection*> connections;  // open ones (owned by Impl::connections_)
  std::vector<int> per_source;           // open connections per source index
  std::optional<smtp::Reply> last_failure;
  smtp::Phase last_failure_phase = smtp::Phase::kConnect;
  bool has_tried_messages = false;  // some queued message was refused by a host (next MX)
};

class Engine::Impl final : public ConnectionOwner {
 public:
  Impl(uv_loop_t* loop, EngineConfig config, OutcomeHandler handler);
  ~Impl() override;

  void Submit(OutboundMessage message);
  size_t in_flight() const { return in_flight_; }
  void Shutdown(std::function<void()> done);
  std::vector<uint64_t> Withdraw(const std::function<bool(uint64_t)>& pred);

  void OnConnectionReady(Connection* conn) override;
  void OnMessageResult(Connection* conn, std::unique_ptr<Pending> message,
                       const smtp::Reply& reply, smtp::Phase phase) override;
  void OnConnectionClosed(Connection* conn) override;

 private:
  struct SourceEntry {
    Source config;
    sockaddr_storage address{};
    int family = AF_INET;
  };
  static bool SourceInPool(const SourceEntry& s, const std::string& pool) {
    return pool.empty() || s.config.pool == pool || s.config.name == pool;
  }

  Destination* DestinationFor(const OutboundMessage& m);
  void SchedulePump(Destination* dest);
  void RunWork();
  void Pump(Destination* dest);
  void Resolve(Destination* dest);
  void OpenConnections(Destination* dest);
  bool HostUsable(const HostEntry& h) const;
  std::optional<size_t> PickSource(Destination* dest, int family);
  std::unique_ptr<Pending> TakeFor(Destination* dest, size_t host_index);
  bool CanStillTry(Destination* dest, const Pending& p) const;
  void MarkHostFailed(const HostEntry& h, const smtp::Reply& reply, smtp::Phase phase);
  void Emit(std::unique_ptr<Pending> p, Disposition d, const smtp::Reply& reply,
            smtp::Phase phase, const Connection* conn, const std::string& mx_host);
  void FailQueue(Destination* dest, Disposition d, const smtp::Reply& reply, smtp::Phase phase);
  void MaybeDone();
  std::string HostKey(const HostEntry& h) const { return h.ip + "|" + std::to_string(h.port); }

  uv_loop_t* loop_;
  EngineConfig config_;
  OutcomeHandler handler_;
  std::vector<SourceEntry> sources_;
  std::shared_ptr<tls::TlsContext> tls_context_;
  std::unique_ptr<net::MxResolver> resolver_;
  std::unordered_map<std::string, std::unique_ptr<Destination>> destinations_;
  std::unordered_map<Connection*, std::unique_ptr<Connection>> connections_;
  std::vector<std::unique_ptr<Connection>> graveyard_;
  std::unordered_set<Destination*> dirty_;
  std::unordered_map<std::string, HostFailure> host_failures_;
  std::unordered_map<std::string, MonoTime> plain_only_;
  WorkTimer* work_ = nullptr;
  bool work_scheduled_ = false;
  size_t in_flight_ = 0;
  uint64_t next_seq_ = 1;
  bool shutting_down_ = false;
  std::function<void()> done_;
  std::mt19937 rng_{std::random_device{}()};
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

Engine::Impl::Impl(uv_loop_t* loop, EngineConfig config, OutcomeHandler handler)
    : loop_(loop), config_(std::move(config)), handler_(std::move(handler)) {
  for (const Source& s : config_.sources) {
    SourceEntry e;
    e.config = s;
    Status st = net::MakeSockaddr(s.address, 0, &e.address);
    if (!st.ok()) {
      log::Error("delivery: source '{}' ignored: {}", s.name, st.message());
      continue;
    }
    e.family = e.address.ss_family;
    if (e.config.weight <= 0) e.config.weight = 1;
    sources_.push_back(std::move(e));
  }
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
  work_ = new WorkTimer{{}, this};
  uv_timer_init(loop_, &work_->timer);
  work_->timer.data = work_;
}

Engine::Impl::~Impl() {
  *alive_ = false;
  // Connections close their transports; libuv frees the handles later.
  connections_.clear();
  graveyard_.clear();
  resolver_.reset();
  work_->impl = nullptr;
  uv_close(reinterpret_cast<uv_handle_t*>(&work_->timer),
           [](uv_handle_t* h) { delete static_cast<WorkTimer*>(h->data); });
}

// ---- Submission and destinations -------------------------------------------

Destination* Engine::Impl::DestinationFor(const OutboundMessage& m) {
  const Route* route = MatchRoute(config_.routes, m.domain);
  Route effective;
  std::string key;
  if (route != nullptr) effective = *route;
  if (route != nullptr && route->kind == Route::Kind::kStatic) {
    key = "static|" + route->host + "|" + std::to_string(route->port) + "|" +
          route->domain_pattern + "|" + m.pool;
  } else {
    effective.kind = Route::Kind::kMx;
    key = "mx|" + m.domain + "|" + (route ? route->domain_pattern : std::string("-")) + "|" +
          m.pool;
  }
  auto& slot = destinations_[key];
  if (!slot) {
    slot = std::make_unique<Destination>();
    slot->key = key;
    slot->domain = effective.kind == Route::Kind::kStatic ? effective.host : m.domain;
    slot->pool = m.pool;
    slot->route = std::move(effective);
    slot->per_source.assign(sources_.size(), 0);
  }
  return slot.get();
}

void Engine::Impl::Submit(OutboundMessage message) {
  auto p = std::make_unique<Pending>();
  p->seq = next_seq_++;
  p->id = message.id;
  p->mail_from = std::move(message.mail_from);
  p->rcpt = std::move(message.rcpt);
  p->data = std::move(message.data);
  ++in_flight_;
  Destination* dest = DestinationFor(message);
  dest->queue.push_back(std::move(p));
  SchedulePump(dest);  // never deliver an Outcome inside Submit
}

void Engine::Impl::SchedulePump(Destination* dest) {
  if (dest != nullptr) dirty_.insert(dest);
  if (work_scheduled_) return;
  work_scheduled_ = true;
  uv_timer_start(
      &work_->timer,
      [](uv_timer_t* t) {
        auto* w = static_cast<WorkTimer*>(t->data);
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
  MaybeDone();
}

// ---- The pump ----------------------------------------------------------------

void Engine::Impl::Pump(Destination* dest) {
  if (shutting_down_) {
    FailQueue(dest, Disposition::kDeferred, LocalReply(451, "4.3.2", "postino is shutting down"),
              smtp::Phase::kConnect);
    return;
  }
  if (dest->queue.empty()) return;
  if (sources_.empty()) {
    FailQueue(dest, Disposition::kDeferred,
              LocalReply(451, "4.3.5", "no usable source address configured"),
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
      FailQueue(dest, dest->resolve_disposition, dest->resolve_failure, smtp::Phase::kConnect);
      dest->state = Destination::State::kUnresolved;  // the resolver caches negative answers
      return;
    case Destination::State::kReady:
      break;
  }
  if (dest->connections.empty() && SystemClock::Instance().Now() > dest->hosts_expire) {
    dest->state = Destination::State::kUnresolved;
    Resolve(dest);
    return;
  }
  // Idle connections take what they can.
  for (Connection* c : std::vector<Connection*>(dest->connections)) {
    if (c->ready() && !c->closed()) {
      if (auto p = TakeFor(dest, c->target().host_index)) c->Send(std::move(p));
    }
  }
  // Messages that no host can take any more get their Outcome now (only
  // possible after a host failed or a message was sent on to the next MX).
  bool all_usable = std::all_of(dest->hosts.begin(), dest->hosts.end(),
                                [&](const HostEntry& h) { return HostUsable(h); });
  if (dest->queue.empty()) dest->has_tried_messages = false;
  for (auto it = dest->queue.begin();
       (!all_usable || dest->has_tried_messages || dest->hosts.empty()) &&
       it != dest->queue.end();) {
    if (CanStillTry(dest, **it)) {
      ++it;
      continue;
    }
    std::unique_ptr<Pending> p = std::move(*it);
    it = dest->queue.erase(it);
    smtp::Reply reply = dest->last_failure
                            ? *dest->last_failure
                            : LocalReply(451, "4.4.1", "no reachable host for " + dest->domain);
    smtp::Phase phase = dest->last_failure ? dest->last_failure_phase : smtp::Phase::kConnect;
    policy::Decision d = policy::Classify(phase, reply);
    Emit(std::move(p),
         d.recipient == policy::RecipientAction::kBounce ? Disposition::kBounced
                                                         : Disposition::kDeferred,
         reply, phase, nullptr, dest->hosts.empty() ? dest->domain : dest->hosts[0].name);
  }
  OpenConnections(dest);
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

std::unique_ptr<Pending> Engine::Impl::TakeFor(Destination* dest, size_t host_index) {
  for (auto it = dest->queue.begin(); it != dest->queue.end(); ++it) {
    if (host_index < 64 && ((*it)->tried_hosts & (uint64_t{1} << host_index))) continue;
    std::unique_ptr<Pending> p = std::move(*it);
    dest->queue.erase(it);
    return p;
  }
  return nullptr;
}

std::optional<size_t> Engine::Impl::PickSource(Destination* dest, int family) {
  std::vector<size_t> candidates;
  int total = 0;
  for (size_t i = 0; i < sources_.size(); ++i) {
    const SourceEntry& s = sources_[i];
    if (s.family != family || !SourceInPool(s, dest->pool)) continue;
    if (dest->per_source[i] >= config_.max_connections_per_destination) continue;
    candidates.push_back(i);
    total += s.config.weight;
  }
  if (candidates.empty()) return std::nullopt;
  int pick = std::uniform_int_distribution<int>(0, total - 1)(rng_);
  for (size_t i : candidates) {
    pick -= sources_[i].config.weight;
    if (pick < 0) return i;
  }
  return candidates.back();
}

void Engine::Impl::OpenConnections(Destination* dest) {
  for (;;) {
    size_t starting = 0;
    for (Connection* c : dest->connections) {
      if (!c->was_ready() && !c->closed()) ++starting;
    }
    if (dest->queue.size() <= starting) return;
    // First usable host (in MX order) that some queued message has not tried.
    std::optional<size_t> host;
    std::optional<size_t> source;
    for (size_t i = 0; i < dest->hosts.size() && i < 64 && !host; ++i) {
      if (!HostUsable(dest->hosts[i])) continue;
      bool wanted = std::any_of(dest->queue.begin(), dest->queue.end(), [&](const auto& p) {
        return (p->tried_hosts & (uint64_t{1} << i)) == 0;
      });
      if (!wanted) continue;
      source = PickSource(dest, dest->hosts[i].family);
      if (source) host = i;
    }
    if (!host) {
      bool any_source = false;
      for (size_t i = 0; i < dest->hosts.size(); ++i) {
        for (const SourceEntry& s : sources_) {
          any_source |= s.family == dest->hosts[i].family && SourceInPool(s, dest->pool);
        }
      }
      if (!any_source && dest->connections.empty()) {
        FailQueue(dest, Disposition::kDeferred,
                  LocalReply(451, "4.4.4",
                             "no source address of a matching IP family (or pool '" + dest->pool +
                                 "') can reach " + dest->domain),
                  smtp::Phase::kConnect);
      }
      return;
    }
    const HostEntry& h = dest->hosts[*host];
    const SourceEntry& s = sources_[*source];
    ConnectionParams cp;
    cp.target.host_name = h.name;
    cp.target.ip = h.ip;
    cp.target.port = h.port;
    cp.target.address = h.address;
    cp.target.host_index = *host;
    cp.target.tls = dest->route.tls;
    cp.target.tls_verify = dest->route.tls_verify && (dest->route.tls == smtp::TlsMode::kRequired ||
                                                      dest->route.tls == smtp::TlsMode::kImplicit);
    auto plain = plain_only_.find(HostKey(h));
    if (plain != plain_only_.end()) {
      if (plain->second > SystemClock::Instance().Now() &&
          cp.target.tls == smtp::TlsMode::kOpportunistic) {
        cp.target.tls = smtp::TlsMode::kNone;
      } else if (plain->second <= SystemClock::Instance().Now()) {
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
    cp.session.max_transactions = std::max(1, config_.max_messages_per_connection);
    cp.session.timeouts = config_.timeouts;
    cp.idle_timeout = config_.idle_timeout;
    cp.tls_context = tls_context_;
    auto conn = std::make_unique<Connection>(loop_, std::move(cp), this);
    Connection* raw = conn.get();
    raw->destination = dest;
    raw->source_index = *source;
    dest->per_source[*source]++;
    dest->connections.push_back(raw);
    connections_.emplace(raw, std::move(conn));
    raw->Start();
  }
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
  if (shutting_down_ || conn->transactions_started() >= config_.max_messages_per_connection) {
    conn->Quit();
    return;
  }
  if (auto p = TakeFor(dest, conn->target().host_index)) {
    conn->Send(std::move(p));
  }
  // else: idle; the connection QUITs after idle_timeout unless work arrives.
}

void Engine::Impl::OnMessageResult(Connection* conn, std::unique_ptr<Pending> message,
                                   const smtp::Reply& reply, smtp::Phase phase) {
  auto* dest = static_cast<Destination*>(conn->destination);
  policy::Decision d = policy::Classify(phase, reply);
  if (d.path == policy::PathAction::kSuspend && dest->hosts.size() > conn->target().host_index) {
    MarkHostFailed(dest->hosts[conn->target().host_index], reply, phase);
  }
  switch (d.recipient) {
    case policy::RecipientAction::kDelivered:
      Emit(std::move(message), Disposition::kDelivered, reply, phase, conn,
           conn->target().host_name);
      return;
    case policy::RecipientAction::kBounce:
      Emit(std::move(message), Disposition::kBounced, reply, phase, conn,
           conn->target().host_name);
      return;
    case policy::RecipientAction::kRetryLater:
      Emit(std::move(message), Disposition::kDeferred, reply, phase, conn,
           conn->target().host_name);
      return;
    case policy::RecipientAction::kTryNextMx:
      break;
  }
  size_t index = conn->target().host_index;
  if (index < 64) message->tried_hosts |= uint64_t{1} << index;
  dest->last_failure = reply;
  dest->last_failure_phase = phase;
  if (shutting_down_ || !CanStillTry(dest, *message)) {
    Emit(std::move(message), Disposition::kDeferred, reply, phase, conn, conn->target().host_name);
    return;
  }
  dest->queue.push_front(std::move(message));
  dest->has_tried_messages = true;
  SchedulePump(dest);
}

void Engine::Impl::OnConnectionClosed(Connection* conn) {
  auto* dest = static_cast<Destination*>(conn->destination);
  dest->connections.erase(std::remove(dest->connections.begin(), dest->connections.end(), conn),
                          dest->connections.end());
  dest->per_source[conn->source_index]--;
  const smtp::ClientSession& session = conn->session();
  if (!conn->was_ready() && session.failure().has_value() && conn->target().host_index <
                                                                 dest->hosts.size()) {
    const HostEntry& h = dest->hosts[conn->target().host_index];
    if (conn->tls_failed() && conn->target().tls == smtp::TlsMode::kOpportunistic) {
      // Retry this host once in plain text.
      log::Info("delivery: STARTTLS with {} [{}] failed ({}); retrying in plain text", h.name,
                h.ip, session.failure()->Text());
      plain_only_[HostKey(h)] = SystemClock::Instance().Now() + config_.host_failure_ttl;
    } else if (!shutting_down_) {
      MarkHostFailed(h, *session.failure(), session.failure_phase());
      dest->last_failure = *session.failure();
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

void Engine::Impl::Emit(std::unique_ptr<Pending> p, Disposition d, const smtp::Reply& reply,
                        smtp::Phase phase, const Connection* conn, const std::string& mx_host) {
  Outcome o;
  o.id = p->id;
  o.disposition = d;
  o.reply = reply;
  o.phase = phase;
  o.mx_host = mx_host;
  if (conn != nullptr) {
    o.source_address = conn->source_address();
    if (const auto& tls = conn->session().tls()) {
      o.tls_version = tls->version;
      o.tls_cipher = tls->cipher;
    }
  }
  o.finished_at = std::chrono::system_clock::now();
  p.reset();  // no per-message state survives its Outcome
  --in_flight_;
  handler_(std::move(o));
  if (shutting_down_) SchedulePump(nullptr);
}

void Engine::Impl::FailQueue(Destination* dest, Disposition d, const smtp::Reply& reply,
                             smtp::Phase phase) {
  while (!dest->queue.empty()) {
    std::unique_ptr<Pending> p = std::move(dest->queue.front());
    dest->queue.pop_front();
    Emit(std::move(p), d, reply, phase, nullptr, dest->domain);
  }
}

// ---- Withdraw -----------------------------------------------------------------

std::vector<uint64_t> Engine::Impl::Withdraw(const std::function<bool(uint64_t)>& pred) {
  std::vector<uint64_t> out;
  for (auto& [key, dest] : destinations_) {
    auto& q = dest->queue;
    for (auto it = q.begin(); it != q.end();) {
      if (pred((*it)->id)) {
        out.push_back((*it)->id);
        it = q.erase(it);
        --in_flight_;
      } else {
        ++it;
      }
    }
  }
  if (!out.empty()) SchedulePump(nullptr);
  return out;
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

}  // namespace postino::delivery
