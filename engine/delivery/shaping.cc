// shaping.cc: how the delivery engine applies traffic shaping (see
// docs/shaping.md, "How the engine applies it"): sources and pools, sites and
// egress paths with their limits and throttles, smooth weighted source
// choice, warm-up caps and counts, adaptive backoff with path events, the
// wake-up timer for throttled messages, Reconfigure and SourceStates.
#include <algorithm>
#include <set>

#include "common/log.h"
#include "engine/delivery/engine_impl.h"
#include "engine/net/address.h"
#include "engine/shaping/site.h"

namespace postino::delivery {

const char* PathEventActionName(PathEvent::Action a) {
  switch (a) {
    case PathEvent::Action::kSuspended:
      return "suspended";
    case PathEvent::Action::kSlowed:
      return "slowed";
    case PathEvent::Action::kRecovering:
      return "recovering";
    case PathEvent::Action::kResumed:
      return "resumed";
  }
  return "?";
}

// ---- Sources and pools -----------------------------------------------------------

void Engine::Impl::ApplySources(const std::vector<Source>& sources) {
  for (auto& s : sources_) s->active = false;
  pools_.clear();
  std::vector<std::pair<SourceEntry*, uint32_t>> all;
  for (const Source& s : sources) {
    sockaddr_storage address{};
    Status st = net::MakeSockaddr(s.address, 0, &address);
    if (!st.ok()) {
      log::Error("delivery: source '{}' ignored: {}", s.name, st.message());
      continue;
    }
    uint32_t weight = static_cast<uint32_t>(std::max(1, s.weight));
    SourceEntry*& entry = source_by_name_[s.name];
    if (entry == nullptr) {
      sources_.push_back(std::make_unique<SourceEntry>());
      entry = sources_.back().get();
      entry->active = false;
    }
    if (!entry->active) {  // first appearance in this configuration
      entry->config = s;
      entry->address = address;
      entry->family = address.ss_family;
      entry->active = true;
      all.emplace_back(entry, weight);
    }
    if (!s.pool.empty()) pools_[s.pool].emplace_back(entry, weight);
  }
  pools_[""] = std::move(all);
  ++pool_generation_;
}

void Engine::Impl::RebuildMembers(Destination* dest) {
  std::vector<std::pair<SourceEntry*, uint32_t>> members;
  auto it = pools_.find(dest->pool);
  if (it != pools_.end()) {
    members = it->second;
  } else {
    auto named = source_by_name_.find(dest->pool);  // a single source by name
    if (named != source_by_name_.end() && named->second->active) {
      members.emplace_back(named->second, 1);
    }
  }
  dest->members.clear();
  dest->wrr.reset();
  std::vector<shaping::PoolEntry> entries;
  for (const auto& [source, weight] : members) {
    dest->members.push_back(source);
    entries.push_back({source->config.name, weight});
  }
  if (!entries.empty()) {
    auto pool = shaping::SourcePool::Create(dest->pool, std::move(entries));
    if (pool.ok()) {
      dest->wrr = std::move(*pool);
    } else {
      dest->members.clear();
    }
  }
  // Messages waiting for a source that left the pool choose again.
  for (auto& [source, lane] : dest->lanes) {
    if (lane.empty()) continue;
    if (!source->active ||
        std::find(dest->members.begin(), dest->members.end(), source) == dest->members.end()) {
      ReturnLane(dest, source);
    }
  }
  dest->pool_generation = pool_generation_;
}

// ---- Sites and paths ---------------------------------------------------------------

PathLimits Engine::Impl::LimitsFor(const std::string& domain,
                                   const std::vector<std::string>& mx_hosts) const {
  if (config_.limits_for) return config_.limits_for(domain, mx_hosts);
  PathLimits l;
  l.max_connections = config_.max_connections_per_destination;
  l.max_site_connections = 0;
  l.max_messages_per_connection = config_.max_messages_per_connection;
  return l;
}

void Engine::Impl::AttachSite(Destination* dest) {
  std::vector<std::string> names;
  if (dest->route.kind == Route::Kind::kStatic) {
    names.push_back(dest->route.site_per_domain ? dest->domain : dest->route.host);
  } else {
    for (const HostEntry& h : dest->hosts) names.push_back(h.name);
    if (names.empty()) names.push_back(dest->domain);
  }
  std::string key = shaping::MakeSiteKey(names);
  if (dest->site != nullptr && dest->site->key == key) return;
  if (dest->site != nullptr) {
    for (auto& [source, lane] : dest->lanes) {
      if (!lane.empty()) ReturnLane(dest, source);
    }
    dest->site->waiting_for_slot.erase(dest);
    --dest->site->destinations;
  }
  auto& slot = sites_[key];
  if (!slot) {
    slot = std::make_unique<Site>();
    slot->key = key;
    slot->domain = dest->domain;
    std::sort(names.begin(), names.end());
    names.erase(std::unique(names.begin(), names.end()), names.end());
    slot->mx_hosts = names;
    slot->limits = LimitsFor(slot->domain, slot->mx_hosts);
  }
  dest->site = slot.get();
  ++dest->site->destinations;
}

Path* Engine::Impl::PathFor(Site* site, SourceEntry* source) {
  auto& slot = site->paths[source];
  if (!slot) {
    slot = std::make_unique<Path>();
    slot->source = source;
    slot->site = site;
    slot->egress = shaping::EgressPath(site->limits.max_message_rate, config_.rate_burst);
    ConfigurePath(slot.get());
  }
  return slot.get();
}

void Engine::Impl::ConfigurePath(Path* path) {
  const PathLimits& l = path->site->limits;
  path->egress.SetConfiguredRate(l.max_message_rate);
  if (!l.max_connection_rate) {
    path->connect_rate.reset();
  } else if (path->connect_rate) {
    path->connect_rate->SetRate(*l.max_connection_rate);
  } else {
    path->connect_rate.emplace(*l.max_connection_rate, config_.rate_burst);
  }
}

size_t Engine::Impl::LaneCapacity(const Path* path, MonoTime now) const {
  const PathLimits& l = path->site->limits;
  size_t cap = l.max_connections > 0 ? static_cast<size_t>(l.max_connections) : 64;
  // A slow path keeps few messages waiting, so the others are not held up.
  if (std::optional<Rate> rate = path->egress.CurrentRate(now)) {
    cap = std::min(cap, static_cast<size_t>(rate->PerSecond() / 2));
  }
  return std::max<size_t>(cap, 1);
}

// ---- Source choice ------------------------------------------------------------------

bool Engine::Impl::SourceUsable(Destination* dest, SourceEntry* source, MonoTime now,
                                MonoTime* wake) {
  if (!source->active) return false;
  Path* path = PathFor(dest->site, source);
  if (path->egress.Suspended(now)) {
    *wake = std::min(*wake, path->egress.suspended_until());
    return false;
  }
  shaping::ThrottleDecision d = path->egress.Check(now);
  if (!d.allowed) {
    *wake = std::min(*wake, now + d.retry_after);
    return false;
  }
  if (warmup_ && !warmup_->MaySend(source->config.name, dest->site->key)) {
    shaping::SourceState st = warmup_->State(source->config.name);
    WallTime wall = SystemClock::Instance().WallNow();
    Nanos until_next_day = st.next_day > wall ? Nanos(st.next_day - wall) : Nanos(0);
    *wake = std::min(*wake, now + until_next_day + std::chrono::seconds(1));
    return false;
  }
  return true;
}

void Engine::Impl::AssignSources(Destination* dest, MonoTime now) {
  if (dest->queue.empty() || dest->site == nullptr || !dest->wrr) return;
  bool family_ok[2] = {false, false};  // AF_INET, AF_INET6 hosts usable
  for (const HostEntry& h : dest->hosts) {
    if (HostUsable(h)) family_ok[h.family == AF_INET6 ? 1 : 0] = true;
  }
  MonoTime wake = MonoTime::max();
  while (!dest->queue.empty()) {
    std::optional<size_t> pick = dest->wrr->Choose([&](size_t i) {
      SourceEntry* s = dest->members[i];
      return family_ok[s->family == AF_INET6 ? 1 : 0] && SourceUsable(dest, s, now, &wake);
    });
    if (!pick) break;
    SourceEntry* source = dest->members[*pick];
    std::unique_ptr<Pending> p = std::move(dest->queue.front());
    dest->queue.pop_front();
    if (!p->warmup_counted && warmup_ && p->rcpts.size() > 1) {
      // A message to several recipients takes only what is left of the
      // source's warm-up cap; the rest waits at the front of the queue.
      std::optional<uint64_t> left = warmup_->Remaining(source->config.name, dest->site->key);
      if (left && *left > 0 && *left < p->rcpts.size()) {
        dest->queue.push_front(SplitOff(p.get(), *left));
      }
    }
    // Counted once, when first given a source: a message sent back to the
    // queue (next MX, 452 carry-over, suspended path) is not counted again.
    if (!p->warmup_counted) CountWarmup(source, dest->site->key, p->rcpts.size());
    p->warmup_counted = true;
    auto lane = dest->lanes.find(source);
    bool full = lane != dest->lanes.end() &&
                lane->second.size() >= LaneCapacity(PathFor(dest->site, source), now);
    LanePush(dest, source, std::move(p), /*front=*/false);
    // The weighted turn belongs to a source whose connections are all busy:
    // wait for them (a connection event pumps again) rather than hand its
    // share to the others, so the weights hold. Its lane overflows by one.
    if (full) return;
  }
  if (!dest->queue.empty() && wake != MonoTime::max()) ArmWake(dest, wake);
}

void Engine::Impl::LanePush(Destination* dest, SourceEntry* source, std::unique_ptr<Pending> p,
                            bool front) {
  MessageQueue& lane = dest->lanes[source];
  if (front) {
    lane.push_front(std::move(p));
  } else {
    lane.push_back(std::move(p));
  }
  ++dest->lane_messages;
  ++PathFor(dest->site, source)->waiting;
}

std::unique_ptr<Pending> Engine::Impl::LaneTake(Destination* dest, SourceEntry* source,
                                                size_t host_index) {
  auto found = dest->lanes.find(source);
  if (found == dest->lanes.end()) return nullptr;
  MessageQueue& lane = found->second;
  for (auto it = lane.begin(); it != lane.end(); ++it) {
    if (host_index < 64 && ((*it)->tried_hosts & (uint64_t{1} << host_index))) continue;
    std::unique_ptr<Pending> p = std::move(*it);
    lane.erase(it);
    --dest->lane_messages;
    --PathFor(dest->site, source)->waiting;
    return p;
  }
  return nullptr;
}

void Engine::Impl::ReturnLane(Destination* dest, SourceEntry* source) {
  auto found = dest->lanes.find(source);
  if (found == dest->lanes.end() || found->second.empty()) return;
  MessageQueue& lane = found->second;
  Path* path = PathFor(dest->site, source);
  dest->lane_messages -= lane.size();
  path->waiting -= lane.size();
  while (!lane.empty()) {
    dest->queue.push_front(std::move(lane.back()));
    lane.pop_back();
  }
}

// ---- Adaptive backoff and path events -----------------------------------------------

bool Engine::Impl::ApplyBackoff(Path* path, const std::string& domain, const smtp::Reply& reply,
                                bool* bounce) {
  if (!backoff_) return false;
  shaping::PathKey key{path->source->config.name, path->site->key};
  std::optional<shaping::BackoffEvent> ev =
      backoff_->Apply(key, reply.ToString(), &path->egress, SystemClock::Instance());
  if (!ev) return false;
  if (ev->action == shaping::BackoffAction::kBounce) {
    *bounce = true;
    return true;
  }
  MonoTime now = SystemClock::Instance().Now();
  PathEvent e;
  e.domain = domain;
  e.action = ev->action == shaping::BackoffAction::kSuspend ? PathEvent::Action::kSuspended
                                                              : PathEvent::Action::kSlowed;
  e.rule = ev->rule;
  e.reply = ev->reply;
  e.until = ev->until;
  e.rate = path->egress.CurrentRate(now);
  log::Info("delivery: path {} -> {} {} until {} by rule {}: {}", path->source->config.name,
            path->site->key, PathEventActionName(e.action),
            std::chrono::duration_cast<std::chrono::seconds>(ev->until.time_since_epoch()).count(),
            ev->rule, ev->reply);
  path->reported = path->egress.State(now);
  EmitPathEvent(path, std::move(e));
  if (ev->action == shaping::BackoffAction::kSuspend) SuspendPath(path);
  WatchPath(path);
  return true;
}

void Engine::Impl::SuspendPath(Path* path) {
  // Open connections finish their current transaction and QUIT.
  for (Connection* c : std::vector<Connection*>(path->connections)) {
    if (!c->closed()) c->Quit();
  }
  if (path->waiting == 0) return;
  for (auto& [key, dest] : destinations_) {
    if (dest->site != path->site) continue;
    auto lane = dest->lanes.find(path->source);
    if (lane == dest->lanes.end() || lane->second.empty()) continue;
    ReturnLane(dest.get(), path->source);
    SchedulePump(dest.get());
  }
}

void Engine::Impl::WatchPath(Path* path) {
  if (path->watched) return;
  path->watched = true;
  watched_.push_back(path);
  if (uv_is_active(reinterpret_cast<uv_handle_t*>(&watch_->timer)) != 0) return;
  auto ms = static_cast<uint64_t>(std::max<int64_t>(1, config_.path_watch_interval.count()));
  uv_timer_start(
      &watch_->timer,
      [](uv_timer_t* t) {
        auto* box = static_cast<TimerBox*>(t->data);
        if (box->impl != nullptr) box->impl->OnWatch();
      },
      ms, ms);
}

void Engine::Impl::OnWatch() {
  MonoTime now = SystemClock::Instance().Now();
  std::vector<Path*> still;
  std::unordered_set<Site*> changed;
  for (Path* path : watched_) {
    shaping::PathState before = path->reported;
    ReportPathState(path, now);
    if (path->reported != before) changed.insert(path->site);
    if (path->reported == shaping::PathState::kOpen) {
      path->watched = false;
    } else {
      still.push_back(path);
    }
  }
  watched_.swap(still);
  if (watched_.empty()) uv_timer_stop(&watch_->timer);
  if (changed.empty()) return;
  for (auto& [key, dest] : destinations_) {
    if (changed.count(dest->site) != 0 && !dest->empty()) SchedulePump(dest.get());
  }
}

void Engine::Impl::ReportPathState(Path* path, MonoTime now) {
  shaping::PathState st = path->egress.State(now);
  if (st == path->reported) return;
  path->reported = st;
  PathEvent e;
  switch (st) {
    case shaping::PathState::kOpen:
      e.action = PathEvent::Action::kResumed;
      break;
    case shaping::PathState::kRecovering:
      e.action = PathEvent::Action::kRecovering;
      break;
    case shaping::PathState::kSlowed:
      e.action = PathEvent::Action::kSlowed;
      break;
    case shaping::PathState::kSuspended:
      e.action = PathEvent::Action::kSuspended;
      e.until = ToWall(path->egress.suspended_until());
      break;
  }
  e.rate = path->egress.CurrentRate(now);
  log::Info("delivery: path {} -> {} {}", path->source->config.name, path->site->key,
            PathEventActionName(e.action));
  EmitPathEvent(path, std::move(e));
}

void Engine::Impl::EmitPathEvent(Path* path, PathEvent event) {
  event.source_name = path->source->config.name;
  event.source_address = path->source->config.address;
  event.site = path->site->key;
  event.at = SystemClock::Instance().WallNow();
  if (path_events_) path_events_(std::move(event));
}

WallTime Engine::Impl::ToWall(MonoTime t) const {
  const SystemClock& c = SystemClock::Instance();
  return c.WallNow() + std::chrono::duration_cast<WallTime::duration>(t - c.Now());
}

// ---- The wake-up timer ----------------------------------------------------------------

void Engine::Impl::ArmWake(Destination* dest, MonoTime when) {
  if (when >= dest->wake_at || shutting_down_) return;
  dest->wake_at = when;
  wakes_.emplace(when, dest);
  ++dest->wake_entries;
  if (when >= wake_armed_) return;
  wake_armed_ = when;
  MonoTime now = SystemClock::Instance().Now();
  auto ms = std::chrono::ceil<std::chrono::milliseconds>(when - now).count();
  uv_timer_start(
      &wake_->timer,
      [](uv_timer_t* t) {
        auto* box = static_cast<TimerBox*>(t->data);
        if (box->impl != nullptr) box->impl->OnWake();
      },
      static_cast<uint64_t>(std::max<int64_t>(ms, 1)), 0);
}

void Engine::Impl::OnWake() {
  wake_armed_ = MonoTime::max();
  MonoTime now = SystemClock::Instance().Now();
  while (!wakes_.empty()) {
    auto [when, dest] = wakes_.top();
    if (when != dest->wake_at) {  // superseded by an earlier wake-up
      wakes_.pop();
      --dest->wake_entries;
      continue;
    }
    if (when > now) break;
    wakes_.pop();
    --dest->wake_entries;
    dest->wake_at = MonoTime::max();
    SchedulePump(dest);
  }
  if (!wakes_.empty()) {
    auto [when, dest] = wakes_.top();
    dest->wake_at = MonoTime::max();  // ArmWake sets it again
    wakes_.pop();
    --dest->wake_entries;
    ArmWake(dest, when);
  }
}

// ---- Warm-up ------------------------------------------------------------------------

int64_t Engine::Impl::TodayUtc() const {
  using namespace std::chrono;
  return duration_cast<seconds>(SystemClock::Instance().WallNow().time_since_epoch()).count() /
         86400;
}

void Engine::Impl::CountWarmup(const SourceEntry* source, const std::string& site,
                               uint64_t recipients) {
  int64_t today = TodayUtc();
  if (today != warmup_counts_day_) {
    warmup_counts_.clear();
    warmup_counts_day_ = today;
  }
  warmup_counts_[{source->config.name, site}] += recipients;
  if (warmup_) {
    for (uint64_t i = 0; i < recipients; ++i) warmup_->RecordSent(source->config.name, site);
  }
}

void Engine::Impl::RebuildWarmup(std::vector<shaping::WarmupPlan> plans) {
  std::set<std::string> planned;
  for (const auto& p : plans) planned.insert(p.source);
  warmup_ = std::make_unique<shaping::WarmupTracker>(SystemClock::Instance(), std::move(plans));
  if (TodayUtc() != warmup_counts_day_) {
    warmup_counts_.clear();
    warmup_counts_day_ = TodayUtc();
  }
  // Today's counts carry over to the new plans.
  for (const auto& [key, n] : warmup_counts_) {
    if (planned.count(key.first) == 0) continue;
    for (uint64_t i = 0; i < n; ++i) warmup_->RecordSent(key.first, key.second);
  }
}

void Engine::Impl::SeedWarmupCounts(const std::vector<WarmupCount>& counts) {
  int64_t today = TodayUtc();
  if (today != warmup_counts_day_) {
    warmup_counts_.clear();
    warmup_counts_day_ = today;
  }
  for (const WarmupCount& c : counts) {
    warmup_counts_[{c.source, c.site}] += c.count;
    if (warmup_->State(c.source).status == shaping::WarmupStatus::kNotWarming) continue;
    for (uint64_t i = 0; i < c.count; ++i) warmup_->RecordSent(c.source, c.site);
  }
}

std::vector<WarmupCount> Engine::Impl::WarmupCounts() const {
  std::vector<WarmupCount> out;
  if (TodayUtc() != warmup_counts_day_) return out;
  for (const auto& [key, n] : warmup_counts_) out.push_back({key.first, key.second, n});
  return out;
}

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
  backoff_ = config_.backoff;
  RebuildWarmup(config_.warmup);
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
  MonoTime now = SystemClock::Instance().Now();
  std::map<std::string, uint64_t> sent;
  if (TodayUtc() == warmup_counts_day_) {
    for (const auto& [key, n] : warmup_counts_) sent[key.first] += n;
  }
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
    shaping::SourceState ws = warmup_->State(s.name);
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
