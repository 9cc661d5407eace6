// path_state.cc: the state of egress paths over time: the policy's path
// actions (suspend, slow down) with their PathEvents, states seeded at start
// (SeedPathStates), and the watch that reports a path's recovery and wakes
// the messages waiting for it.
#include <algorithm>

#include "common/log.h"
#include "engine/delivery/engine_impl.h"

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


// ---- Path actions, seeded states and path events ---------------------------------

bool Engine::Impl::ApplyPathAction(Path* path, const std::string& domain,
                                   const smtp::Reply& reply, const policy::Decision& decision) {
  if (decision.path == policy::PathAction::kNone || decision.path_for.count() <= 0) return false;
  if (decision.path == policy::PathAction::kSlowDown && (!decision.rate || !decision.rate->valid())) {
    return false;
  }
  const MonoTime now = Now();
  const MonoTime until = now + decision.path_for;
  PathEvent e;
  e.domain = domain;
  e.rule = decision.rule;
  e.reply = reply.ToString();
  e.until = ToWall(until);
  if (decision.path == policy::PathAction::kSuspend) {
    path->egress.Suspend(until);
    e.action = PathEvent::Action::kSuspended;
    e.until = ToWall(path->egress.suspended_until());  // a longer one already in force stays
  } else {
    path->egress.Slow(*decision.rate, until, decision.recovery_interval);
    e.action = PathEvent::Action::kSlowed;
  }
  e.rate = path->egress.CurrentRate(now);
  log::InfoF({.site = path->site->key}, "delivery: path {} -> {} {} for {} s (until {}) by rule {}: {}",
             path->source->config.name, path->site->key, PathEventActionName(e.action),
             std::chrono::duration_cast<std::chrono::seconds>(decision.path_for).count(),
             log::IsoTime(e.until), decision.rule, e.reply);
  path->reported = path->egress.State(now);
  // Always reported, so the caller records every path action.
  EmitPathEvent(path, std::move(e));
  if (decision.path == policy::PathAction::kSuspend) SuspendPath(path);
  WatchPath(path);
  return true;
}

void Engine::Impl::SeedPathStates(const std::vector<PathEvent>& active) {
  const WallTime wall = clock().WallNow();
  for (const PathEvent& e : active) {
    if (e.until <= wall) continue;
    if (e.action == PathEvent::Action::kSlowed && (!e.rate || !e.rate->valid())) continue;
    if (e.action != PathEvent::Action::kSuspended && e.action != PathEvent::Action::kSlowed) {
      continue;
    }
    seeded_[{e.source_name, e.site}].push_back(e);
  }
  // Paths that exist already take theirs now; the others when created.
  for (auto& [key, site] : sites_) {
    for (auto& [source, path] : site->paths) ApplySeed(path.get());
  }
}

size_t Engine::Impl::LiftPathStates(const std::string& source_name, const std::string& site) {
  for (auto it = seeded_.begin(); it != seeded_.end();) {
    bool match = it->first.first == source_name && (site.empty() || it->first.second == site);
    it = match ? seeded_.erase(it) : std::next(it);
  }
  const MonoTime now = Now();
  size_t lifted = 0;
  std::unordered_set<Site*> changed;
  for (auto& [key, s] : sites_) {
    if (!site.empty() && key != site) continue;
    for (auto& [source, path] : s->paths) {
      if (source->config.name != source_name) continue;
      if (path->egress.State(now) == shaping::PathState::kOpen) continue;
      path->egress.Lift();
      ++lifted;
      log::Info("delivery: path {} -> {} lifted by the operator", source_name, key);
      ReportPathState(path.get(), now);
      changed.insert(s.get());
    }
  }
  for (auto& [key, dest] : destinations_) {
    if (changed.count(dest->site) != 0 && !dest->empty()) SchedulePump(dest.get());
  }
  return lifted;
}

void Engine::Impl::ApplySeed(Path* path) {
  if (seeded_.empty()) return;
  auto it = seeded_.find({path->source->config.name, path->site->key});
  if (it == seeded_.end()) return;
  std::vector<PathEvent> events = std::move(it->second);
  seeded_.erase(it);
  const MonoTime now = Now();
  const WallTime wall = clock().WallNow();
  bool suspended = false;
  for (const PathEvent& e : events) {
    if (e.until <= wall) continue;
    const MonoTime until = now + std::chrono::duration_cast<Nanos>(e.until - wall);
    if (e.action == PathEvent::Action::kSuspended) {
      path->egress.Suspend(until);
      suspended = true;
    } else {
      path->egress.Slow(*e.rate, until, kSeededRecoveryInterval);
    }
    log::InfoF({.site = path->site->key}, "delivery: path {} -> {} {} until {} (from before the restart)",
              path->source->config.name, path->site->key, PathEventActionName(e.action),
              log::IsoTime(e.until));
  }
  // Already known to the caller: no event now, only when the state ends.
  path->reported = path->egress.State(now);
  if (suspended) SuspendPath(path);
  if (path->reported != shaping::PathState::kOpen) WatchPath(path);
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
  MonoTime now = Now();
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
  event.at = clock().WallNow();
  if (path_events_) path_events_(std::move(event));
}

WallTime Engine::Impl::ToWall(MonoTime t) const {
  return clock().WallNow() + std::chrono::duration_cast<WallTime::duration>(t - Now());
}

void Engine::Impl::ArmWake(Destination* dest, MonoTime when) {
  if (!shutting_down_) wakes_.Arm(dest, when);
}

}  // namespace postino::delivery
