// sources.cc: the traffic-shaping model the engine keeps (see
// docs/shaping.md, "How the engine applies it"): sources and pools, sites
// and egress paths with their limits and throttles, smooth weighted source
// choice with warm-up caps, and the lanes of messages given a source.
#include <algorithm>

#include "common/log.h"
#include "engine/delivery/engine_impl.h"
#include "engine/net/address.h"
#include "engine/shaping/site.h"

namespace postino::delivery {

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
  std::string key;
  if (dest->route.kind == Route::Kind::kStatic) {
    names.push_back(dest->route.site_per_domain ? dest->domain : dest->route.host);
    // A static route's site is its host and port: two routes to one host on
    // different ports have their own limits and suspensions.
    key = dest->route.site_per_domain
              ? shaping::MakeSiteKey(names)
              : shaping::MakeStaticSiteKey(dest->route.host, dest->route.port);
  } else {
    for (const HostEntry& h : dest->hosts) names.push_back(h.name);
    if (names.empty()) names.push_back(dest->domain);
    key = shaping::MakeSiteKey(names);
  }
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
    ApplySeed(slot.get());
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
  if (!warmup_.MaySend(source->config.name, dest->site->key)) {
    shaping::SourceState st = warmup_.State(source->config.name);
    WallTime wall = clock().WallNow();
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
    if (hosts_.Usable(h)) family_ok[h.family == AF_INET6 ? 1 : 0] = true;
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
    if (!p->warmup_counted && p->rcpts.size() > 1) {
      // A message to several recipients takes only what is left of the
      // source's warm-up cap; the rest waits at the front of the queue.
      std::optional<uint64_t> left = warmup_.Remaining(source->config.name, dest->site->key);
      if (left && *left > 0 && *left < p->rcpts.size()) {
        dest->queue.push_front(SplitOff(p.get(), *left));
      }
    }
    // Counted once, when first given a source: a message sent back to the
    // queue (next MX, 452 carry-over, suspended path) is not counted again.
    if (!p->warmup_counted) warmup_.Count(source->config.name, dest->site->key, p->rcpts.size());
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


}  // namespace postino::delivery
