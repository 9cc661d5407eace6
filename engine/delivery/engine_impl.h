// engine_impl.h: the delivery engine's internals (see engine.h), shared by
// engine.cc (submission, destinations, DNS, connections, outcomes) and
// shaping.cc (egress paths and sites, source choice, warm-up, backoff,
// wake-ups, Reconfigure, snapshots). Not for use outside engine/delivery.
//
// Model: a Destination is (route or MX domain) × source pool and owns the
// queue of messages not yet given a source. A Site is the MX host set a
// destination resolved to; a Path is (source, site) and carries the message
// throttle, suspension/slow-down state and connection counts. A message is
// given a source by smooth weighted round-robin and moves into the
// destination's lane for that source, from which that source's connections
// take it when the path's throttle allows.
#pragma once

#include <uv.h>

#include <deque>
#include <map>
#include <memory>
#include <queue>
#include <random>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "common/clock.h"
#include "engine/delivery/connection.h"
#include "engine/delivery/engine.h"
#include "engine/net/mx_resolver.h"
#include "engine/shaping/backoff.h"
#include "engine/shaping/egress_path.h"
#include "engine/shaping/source_pool.h"
#include "engine/shaping/throttle.h"
#include "engine/shaping/warmup.h"

namespace postino::delivery {

smtp::Reply LocalReply(int code, std::string enhanced, const std::string& text);

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

// One configured source address. Never freed while the engine lives (a
// removed source is marked inactive), so paths and connections may point at it.
struct SourceEntry {
  Source config;
  sockaddr_storage address{};
  int family = AF_INET;
  bool active = true;
};

struct Site;
struct Destination;

// An egress path: one source towards one site.
struct Path {
  SourceEntry* source = nullptr;
  Site* site = nullptr;
  shaping::EgressPath egress;
  std::optional<shaping::Throttle> connect_rate;
  int open = 0;        // open connections (all destinations of the site)
  size_t waiting = 0;  // messages in lanes for this path
  shaping::PathState reported = shaping::PathState::kOpen;
  bool watched = false;
  std::vector<Connection*> connections;
};

struct Site {
  std::string key;                    // MakeSiteKey
  std::string domain;                 // the domain whose limits apply (first seen)
  std::vector<std::string> mx_hosts;  // host names (route host for static routes)
  PathLimits limits;
  int open = 0;  // open connections over all sources
  int destinations = 0;  // destinations attached to this site
  MonoTime last_used;    // a destination of this site was last pumped with work
  // Recipients per transaction the site took before answering 452 "too
  // many recipients" (0 = none seen); lowers limits.max_recipients_per_message.
  size_t learned_rcpt_limit = 0;
  MonoTime learned_rcpt_limit_until;  // the learned limit is forgotten then
  std::unordered_map<const SourceEntry*, std::unique_ptr<Path>> paths;
  // Destinations that could not open a connection for a path or site limit;
  // woken when a connection of the site closes.
  std::unordered_set<Destination*> waiting_for_slot;
};

using MessageQueue = std::deque<std::unique_ptr<Pending>>;

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
  MessageQueue queue;                    // no source chosen yet
  std::unordered_map<SourceEntry*, MessageQueue> lanes;  // source chosen, waiting to be sent
  size_t lane_messages = 0;
  std::vector<Connection*> connections;  // open ones (owned by Impl::connections_)
  std::optional<smtp::Reply> last_failure;
  smtp::Phase last_failure_phase = smtp::Phase::kConnect;
  bool has_tried_messages = false;  // some queued message was refused by a host (next MX)
  Site* site = nullptr;             // set once resolved
  // The pool's sources (parallel to wrr's entries), rebuilt after Reconfigure.
  std::vector<SourceEntry*> members;
  std::optional<shaping::SourcePool> wrr;
  uint64_t pool_generation = 0;
  MonoTime wake_at = MonoTime::max();
  size_t open_rotation = 0;  // fairness between lanes when opening connections
  size_t wake_entries = 0;   // entries in Impl::wakes_ naming it (stale ones too)
  MonoTime last_used;        // last pumped with work, or a connection closed
  // Its turn for a connection slot came while its DNS answer had expired:
  // it re-joins the slot queue at the front once resolved.
  bool keeps_slot_turn = false;
  bool empty() const { return queue.empty() && lane_messages == 0; }
};

struct TimerBox {
  uv_timer_t timer;
  Engine::Impl* impl;
};

class Engine::Impl final : public ConnectionOwner {
 public:
  Impl(uv_loop_t* loop, EngineConfig config, OutcomeHandler handler);
  ~Impl() override;

  void Submit(OutboundMessage message);
  size_t in_flight() const { return in_flight_; }
  void Shutdown(std::function<void()> done);
  std::vector<uint64_t> Withdraw(const std::function<bool(uint64_t)>& pred);
  void SetPathEventHandler(PathEventHandler handler) { path_events_ = std::move(handler); }
  Status Reconfigure(EngineConfig config);
  void SeedWarmupCounts(const std::vector<WarmupCount>& counts);
  std::vector<WarmupCount> WarmupCounts() const;
  std::vector<SourceSnapshot> SourceStates() const;
  EngineCounts Counts() const;

  void OnConnectionReady(Connection* conn) override;
  void OnMessageResult(Connection* conn, std::unique_ptr<Pending> message,
                       std::vector<RcptResult> results) override;
  void OnConnectionClosed(Connection* conn) override;

  // Timer entry points.
  void RunWork();
  void OnWake();
  void OnWatch();
  // Frees idle destinations and unused sites (see destination_idle_ttl).
  void Sweep();

 private:
  // ---- engine.cc
  Destination* DestinationFor(const std::string& domain, const std::string& pool);
  void SchedulePump(Destination* dest);
  void Pump(Destination* dest);
  void Resolve(Destination* dest);
  void OpenConnections(Destination* dest, MonoTime now);
  void OpenConnection(Destination* dest, Path* path, size_t host_index);
  void FeedConnection(Destination* dest, Connection* conn, MonoTime now);
  bool HostUsable(const HostEntry& h) const;
  bool CanStillTry(Destination* dest, const Pending& p) const;
  void GiveUpUnreachable(Destination* dest);
  void MarkHostFailed(const HostEntry& h, const smtp::Reply& reply, smtp::Phase phase);
  // One recipient's Outcome.
  void Emit(uint64_t id, Disposition d, const smtp::Reply& reply, smtp::Phase phase,
            const Connection* conn, const std::string& mx_host);
  // The same Outcome for every recipient of `p`.
  void EmitAll(std::unique_ptr<Pending> p, Disposition d, const smtp::Reply& reply,
               smtp::Phase phase, const Connection* conn, const std::string& mx_host);
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
  void FailAll(Destination* dest, Disposition d, const smtp::Reply& reply, smtp::Phase phase);
  void MaybeDone();
  std::string HostKey(const HostEntry& h) const { return h.ip + "|" + std::to_string(h.port); }

  // ---- shaping.cc
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
  // Runs the backoff rules on a reply; true when one matched (`*bounce` set
  // for a bounce rule).
  bool ApplyBackoff(Path* path, const std::string& domain, const smtp::Reply& reply,
                    bool* bounce);
  void SuspendPath(Path* path);
  void WatchPath(Path* path);
  void ReportPathState(Path* path, MonoTime now);
  void EmitPathEvent(Path* path, PathEvent event);
  void ArmWake(Destination* dest, MonoTime when);
  void CountWarmup(const SourceEntry* source, const std::string& site, uint64_t recipients);
  int64_t TodayUtc() const;
  void RebuildWarmup(std::vector<shaping::WarmupPlan> plans);
  WallTime ToWall(MonoTime t) const;

  uv_loop_t* loop_;
  EngineConfig config_;
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
  int open_total_ = 0;  // connections open over every path
  // Destinations that wanted a connection while max_total_connections were
  // open, in arrival order (the set is for membership).
  std::deque<Destination*> global_waiting_;
  std::unordered_set<Destination*> global_waiting_set_;
  bool reclaim_idle_ = false;  // close idle connections at the next RunWork
  Destination* serving_ = nullptr;  // the FIFO head being given a free slot
  bool TotalConnectionsFull() const {
    return config_.max_total_connections > 0 && open_total_ >= config_.max_total_connections;
  }
  void ReclaimIdleConnections();
  std::unordered_map<std::string, HostFailure> host_failures_;
  std::unordered_map<std::string, MonoTime> plain_only_;
  std::shared_ptr<const shaping::BackoffPolicy> backoff_;
  std::unique_ptr<shaping::WarmupTracker> warmup_;
  // Today's (UTC) messages per source name and site key.
  std::map<std::pair<std::string, std::string>, uint64_t> warmup_counts_;
  int64_t warmup_counts_day_ = 0;
  std::vector<Path*> watched_;  // paths not open: checked every path_watch_interval
  TimerBox* work_ = nullptr;
  TimerBox* wake_ = nullptr;
  TimerBox* watch_ = nullptr;
  TimerBox* sweep_ = nullptr;
  bool work_scheduled_ = false;
  using WakeEntry = std::pair<MonoTime, Destination*>;
  std::priority_queue<WakeEntry, std::vector<WakeEntry>, std::greater<WakeEntry>> wakes_;
  MonoTime wake_armed_ = MonoTime::max();
  size_t in_flight_ = 0;
  uint64_t next_seq_ = 1;
  bool shutting_down_ = false;
  std::function<void()> done_;
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

}  // namespace postino::delivery
