// scheduler.h: the campaign scheduler of `postino run` (DESIGN.md, "The
// data path"), its loop-thread side:
//
//   DB thread (DbLoop) ── claim (SKIP LOCKED, lease) ──► jobs ──► render workers
//        ▲                                                         │ render + sign
//        │ results (COPY, set-based UPDATE)                        ▼
//   Outbox ◄── loop thread: Engine (SMTP) ◄── feed queue ◄── ready queue (uv_async)
//
// Only the loop thread touches sockets; only the DB thread touches the
// WorkStore; workers only render. Memory is bounded by the claim window.
// The caller (cli/run_command.cc) owns the libuv loop and the signals.
#pragma once

#include <uv.h>

#include <atomic>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "config/config.h"
#include "engine/delivery/engine.h"
#include "scheduler/db_loop.h"
#include "scheduler/dispatch.h"
#include "scheduler/message_renderer.h"
#include "scheduler/metrics_export.h"
#include "scheduler/pipeline.h"
#include "scheduler/retry_schedule.h"
#include "scheduler/stats.h"
#include "scheduler/work_queue.h"
#include "scheduler/work_store.h"

namespace postino::scheduler {

struct SchedulerOptions {
  std::string node;         // stable node identity (lease owner)
  bool until_idle = false;  // stop when nothing is due
  std::chrono::seconds stats_interval{10};  // pipeline summary in the log; 0 = only at exit
  uint64_t retry_seed = 0;  // 0 = random
};

class Scheduler {
 public:
  Scheduler(uv_loop_t* loop, const config::Config& config, SchedulerOptions options,
            std::unique_ptr<WorkStore> store, std::unique_ptr<MessageRenderer> renderer);
  ~Scheduler();
  Scheduler(const Scheduler&) = delete;
  Scheduler& operator=(const Scheduler&) = delete;

  // Takes the node identity (FailedPrecondition: another live process has
  // it), replays the journal, takes back this identity's leases, seeds the
  // engine (warm-up counts, path states) and starts the threads. `stopped`
  // runs on the loop thread once the scheduler has closed its handles.
  Status Start(delivery::EngineConfig engine_config, std::function<void()> stopped);
  // Loop thread: stop taking work, finish transactions in flight.
  void Stop(int code, const std::string& why);
  // Loop thread (SIGHUP): applies the shaping part of a new configuration.
  Status Reload(const config::Config& fresh);
  // After uv_run returned: joins the threads; the process exit code.
  int Finish();

  PipelineSnapshot Stats() { return stats_.Snapshot(SystemClock::Instance()); }

 private:
  struct Pending {
    std::vector<Meta> metas;  // one per recipient of `message`
    delivery::OutboundMessage message;
  };

  void OnReady();
  void OnControl();
  void FeedEngine();
  void CheckStalled();
  void OnOutcome(delivery::Outcome o);
  void OnPathEvent(delivery::PathEvent e);
  void OnEngineStopped();
  void LogStats();
  void Release(const std::vector<int64_t>& ids) { outbox_.Release(ids); }
  void WorkerMain();
  Result<RenderedMessage> SubmittedMessageFor(LoadedSubmission& m);
  // From the DB thread.
  void RequestStop(int code, const std::string& why);
  void SendControl();

  uv_loop_t* loop_;
  const config::Config& cfg_;
  const SchedulerOptions opt_;
  const Clock& clock_;
  std::unique_ptr<WorkStore> store_;
  std::unique_ptr<MessageRenderer> renderer_;
  const int window_;
  PipelineStats stats_;
  std::unique_ptr<PipelineStatsExport> stats_export_;  // queue depths at /metrics
  PipelineSnapshot last_stats_;
  Outbox outbox_;
  Dispatcher dispatcher_;
  std::unique_ptr<DbLoop> db_loop_;
  RetrySchedule retry_;
  std::function<void()> stopped_;

  uv_async_t ready_async_{};
  uv_async_t control_async_{};
  uv_timer_t feed_timer_{};
  uv_timer_t stats_timer_{};
  std::unique_ptr<delivery::Engine> engine_;
  std::deque<Pending> pending_;
  std::unordered_map<int64_t, Meta> in_engine_;
  MonoTime last_progress_{};    // last Outcome (CheckStalled)
  std::set<int64_t> blocked_;  // loop's copy of blocked_campaigns_
  int64_t delivered_ = 0, deferred_ = 0, bounced_ = 0, failed_ = 0;

  std::vector<std::thread> workers_;
  std::thread db_thread_;
  BlockingQueue<Job> jobs_;
  BlockingQueue<Ready> ready_;

  std::mutex async_mu_;
  bool async_open_ = false;  // guarded by async_mu_
  std::mutex control_mu_;
  std::set<int64_t> blocked_campaigns_;  // guarded by control_mu_
  std::string stop_why_;                 // guarded by control_mu_
  std::vector<db::Database::EgressEvent> path_lifts_;  // guarded by control_mu_

  std::atomic<bool> started_{false};
  std::atomic<bool> stopping_{false};
  std::atomic<bool> db_up_{true};
  std::atomic<bool> stop_requested_{false};
  std::atomic<int> stop_code_{kExitOk};
  std::atomic<int> exit_code_{kExitOk};
};

}  // namespace postino::scheduler
