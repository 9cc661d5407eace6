// engine_impl.h: Engine::Impl, the delivery engine behind the engine.h
// facade. Its state is the data model of engine_model.h; its work is split
// by job over these files (each method is defined in the file named above
// its declaration):
//   engine.cc        lifetime, timers, Submit, the work loop, Withdraw,
//                    Shutdown, idle sweep, counts, the facade
//   destinations.cc  destinations and their pump, DNS resolution, host
//                    choice and giving up on unreachable messages
//   connections.cc   opening connections per path, feeding them, the
//                    total-connection FIFO, connection callbacks
//   results.cc       transaction results: the policy Decision of each
//                    reply, next MX, 452 overflow, Outcomes
//   sources.cc       sources and pools, sites and paths, weighted source
//                    choice, lanes
//   path_state.cc    path actions (suspend, slow down), path watch and
//                    events, seeded path states
// and helper classes with one job each: HostMemory (failed / plain-only
// hosts), WarmupLedger (warm-up plans and counts), ConnectionSlots (the
// total-connection cap and its FIFO), WakeQueue (the wake-up timer).
//   reconfigure.cc   Reconfigure, warm-up glue and SourceStates
// Not for use outside engine/delivery.
#pragma once

#include <uv.h>

#include <deque>
#include <map>
#include <memory>
#include <queue>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "common/clock.h"
#include "engine/delivery/connection.h"
#include "engine/delivery/connection_slots.h"
#include "engine/delivery/engine.h"
#include "engine/delivery/engine_model.h"
#include "engine/delivery/host_memory.h"
#include "engine/delivery/wake_queue.h"
#include "engine/delivery/warmup_ledger.h"
#include "engine/net/mx_resolver.h"
#include "engine/policy/policy.h"

namespace postino::delivery {

struct TimerBox {
  uv_timer_t timer;
  Engine::Impl* impl;
};

class Engine::Impl final : public ConnectionOwner {
 public:
  Impl(uv_loop_t* loop, EngineConfig config, OutcomeHandler handler);
  ~Impl() override;

  // ---- engine.cc
  void Submit(OutboundMessage message);
  size_t in_flight() const { return in_flight_; }
  void Shutdown(std::function<void()> done);
  std::vector<uint64_t> Withdraw(const std::function<bool(uint64_t)>& pred);
  void SetPathEventHandler(PathEventHandler handler) { path_events_ = std::move(handler); }
  EngineCounts Counts() const;
  // Timer entry points.
  void RunWork();
  // Frees idle destinations and unused sites (see destination_idle_ttl).
  void Sweep();

  // ---- reconfigure.cc
  Status Reconfigure(EngineConfig config);
  void SeedWarmupCounts(const std::vector<WarmupCount>& counts) { warmup_.Seed(counts); }
  std::vector<WarmupCount> WarmupCounts() const { return warmup_.Counts(); }
  std::vector<SourceSnapshot> SourceStates() const;

  // ---- path_state.cc
  void SeedPathStates(const std::vector<PathEvent>& active);
  size_t LiftPathStates(const std::string& source_name, const std::string& site);
  void OnWatch();

  // ---- connections.cc and results.cc (ConnectionOwner)
  void OnConnectionReady(Connection* conn) override;
  void OnMessageResult(Connection* conn, std::unique_ptr<Pending> message,
                       std::vector<RcptResult> results) override;
  void OnConnectionClosed(Connection* conn) override;

 private:
  const Clock& clock() const { return *clock_; }
  MonoTime Now() const { return clock_->Now(); }
  WallTime ToWall(MonoTime t) const;

  // ---- engine.cc
  void SchedulePump(Destination* dest);
  void MaybeDone();

  // ---- destinations.cc
  Destination* DestinationFor(const std::string& domain, const std::string& pool);
  void Pump(Destination* dest);
  void Resolve(Destination* dest);
  bool CanStillTry(Destination* dest, const Pending& p) const;
  // Messages no host can take any more get their Outcome.
  void GiveUpUnreachable(Destination* dest);
  void FailAll(Destination* dest, Disposition d, const smtp::Reply& reply, smtp::Phase phase);

  // ---- connections.cc
  void OpenConnections(Destination* dest, MonoTime now);
  void OpenConnection(Destination* dest, Path* path, size_t host_index);
  void FeedConnection(Destination* dest, Connection* conn, MonoTime now);
  void ReclaimIdleConnections();
  // A new transaction, without recipients, for the same message as `p`
  // (sender, bytes, hosts tried and warm-up state).
  std::unique_ptr<Pending> SameMessage(const Pending& p);
  // SameMessage with the recipients of `p` from index `keep` on; `p` keeps
  // the first `keep`.
  std::unique_ptr<Pending> SplitOff(Pending* p, size_t keep);
  // Nothing waits in `conn`'s lane of `dest` (its source's share).
  static bool LaneEmpty(const Destination* dest, const Connection* conn);
  // Recipients one transaction to `site` may carry.
  size_t RcptLimit(const Site* site) const;

  // ---- results.cc
  // The policy's decision on a reply from `site` (null: not known yet).
  policy::Decision Classify(const Site* site, smtp::Phase phase, const smtp::Reply& reply) const;
  // One recipient's Outcome.
  void Emit(uint64_t id, Disposition d, const smtp::Reply& reply, smtp::Phase phase,
            const policy::Decision& decision, const Connection* conn, const std::string& mx_host);
  // The same Outcome for every recipient of `p`.
  void EmitAll(std::unique_ptr<Pending> p, Disposition d, const smtp::Reply& reply,
               smtp::Phase phase, const policy::Decision& decision, const Connection* conn,
               const std::string& mx_host);

  // ---- sources.cc
  void ApplySources(const std::vector<Source>& sources);
  void RebuildMembers(Destination* dest);
  void AttachSite(Destination* dest);
  PathLimits LimitsFor(const std::string& domain, const std::vector<std::string>& mx_hosts) const;
  Path* PathFor(Site* site, SourceEntry* source);
  void ConfigurePath(Path* path);
  size_t LaneCapacity(const Path* path, MonoTime now) const;
  // Gives queued messages a source (smooth WRR over usable sources).
  void AssignSources(Destination* dest, MonoTime now);
  bool SourceUsable(Destination* dest, SourceEntry* source, MonoTime now, MonoTime* wake);
  void LanePush(Destination* dest, SourceEntry* source, std::unique_ptr<Pending> p, bool front);
  std::unique_ptr<Pending> LaneTake(Destination* dest, SourceEntry* source, size_t host_index);
  // Moves a lane's messages back to the destination queue (path unusable).
  void ReturnLane(Destination* dest, SourceEntry* source);

  // ---- path_state.cc
  // Carries out the decision's path action (suspend or slow down) on
  // `path` and reports it (PathEvent); false when it has none.
  bool ApplyPathAction(Path* path, const std::string& domain, const smtp::Reply& reply,
                       const policy::Decision& decision);
  // Applies a seeded state (SeedPathStates) waiting for this new path.
  void ApplySeed(Path* path);
  void SuspendPath(Path* path);
  void WatchPath(Path* path);
  void ReportPathState(Path* path, MonoTime now);
  void EmitPathEvent(Path* path, PathEvent event);
  // Pump `dest` again at `when` (not while shutting down).
  void ArmWake(Destination* dest, MonoTime when);

  uv_loop_t* loop_;
  EngineConfig config_;
  const Clock* clock_;
  std::shared_ptr<const policy::Policy> policy_;  // null: policy::DefaultPolicy()
  OutcomeHandler handler_;
  PathEventHandler path_events_;
  std::vector<std::unique_ptr<SourceEntry>> sources_;
  std::unordered_map<std::string, SourceEntry*> source_by_name_;
  // Pool name -> (source, weight) in configuration order.
  std::unordered_map<std::string, std::vector<std::pair<SourceEntry*, uint32_t>>> pools_;
  uint64_t pool_generation_ = 1;
  std::shared_ptr<tls::TlsContext> tls_context_;
  std::unique_ptr<net::MxResolver> resolver_;
  std::unordered_map<std::string, std::unique_ptr<Destination>> destinations_;
  std::unordered_map<std::string, std::unique_ptr<Site>> sites_;
  std::unordered_map<Connection*, std::unique_ptr<Connection>> connections_;
  std::vector<std::unique_ptr<Connection>> graveyard_;
  std::unordered_set<Destination*> dirty_;
  HostMemory hosts_;
  WarmupLedger warmup_;
  ConnectionSlots slots_;  // max_total_connections and its FIFO
  // Path states read back at start (SeedPathStates) for paths that do not
  // exist yet, by (source name, site key).
  std::map<std::pair<std::string, std::string>, std::vector<PathEvent>> seeded_;
  // A seeded slow-down recovers at this pace (PathEvent has no interval).
  static constexpr Nanos kSeededRecoveryInterval = std::chrono::minutes(5);
  std::vector<Path*> watched_;  // paths not open: checked every path_watch_interval
  TimerBox* work_ = nullptr;
  TimerBox* watch_ = nullptr;
  TimerBox* sweep_ = nullptr;
  bool work_scheduled_ = false;
  WakeQueue wakes_;  // destinations holding messages back until a time
  size_t in_flight_ = 0;
  uint64_t next_seq_ = 1;
  uint64_t next_connection_id_ = 1;  // names connections in log lines
  bool shutting_down_ = false;
  std::function<void()> done_;
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

}  // namespace postino::delivery
