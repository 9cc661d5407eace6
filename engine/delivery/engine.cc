// engine.cc: the delivery engine's lifetime and work loop (see engine.h and
// engine_impl.h for how the work is split): construction on the injected
// Clock and policy, the timers, Submit, the work loop serving dirty
// destinations and the total-connection FIFO, Withdraw, Shutdown, the idle
// sweep, Counts, and the Engine facade.
#include "engine/delivery/engine.h"

#include <algorithm>

#include "common/log.h"
#include "engine/delivery/engine_impl.h"

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
    : loop_(loop),
      config_(std::move(config)),
      clock_(config_.clock != nullptr ? config_.clock : &SystemClock::Instance()),
      policy_(config_.policy),
      handler_(std::move(handler)),
      hosts_(*clock_, config_.host_failure_ttl),
      warmup_(*clock_),
      slots_(config_.max_total_connections),
      wakes_(loop_, *clock_, [this](Destination* dest) { SchedulePump(dest); }) {
  ApplySources(config_.sources);
  warmup_.SetPlans(config_.warmup);
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
  ropts.clock = clock_;
  auto resolver = net::MxResolver::Create(loop_, ropts);
  if (resolver.ok()) {
    resolver_ = std::move(*resolver);
  } else {
    log::Error("delivery: DNS resolver unavailable: {}", resolver.status().message());
  }
  work_ = NewTimer(loop_, this);
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
  CloseTimer(watch_);
  CloseTimer(sweep_);
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
  if (slots_.TakeReclaim()) ReclaimIdleConnections();
  // Free connection slots go to the destinations that waited longest. A
  // pumped destination that is full again puts itself back at the end.
  while (!shutting_down_) {
    Destination* d = slots_.NextToServe();
    if (d == nullptr) break;
    Pump(d);
    slots_.DoneServing();
  }
  MaybeDone();
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
  MonoTime now = Now();
  for (auto it = destinations_.begin(); it != destinations_.end();) {
    Destination* d = it->second.get();
    bool idle = d->empty() && d->connections.empty() &&
                d->state != Destination::State::kResolving && d->wake_entries == 0 &&
                dirty_.count(d) == 0 && !slots_.IsWaiting(d) &&
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
  c.next_wake_in = wakes_.NextIn();
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
  wakes_.Stop();
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
void Engine::SeedPathStates(const std::vector<PathEvent>& active) {
  impl_->SeedPathStates(active);
}
size_t Engine::LiftPathStates(const std::string& source_name, const std::string& site) {
  return impl_->LiftPathStates(source_name, site);
}

}  // namespace postino::delivery

