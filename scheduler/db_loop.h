// db_loop.h: the scheduler's DB thread. Only it talks to the WorkStore. In
// rounds (Step), it writes what the other threads queued (results in
// batches, released and postponed leases, path events), renews leases,
// does the housekeeping (scheduled campaigns start, done ones finish,
// paused or cancelled ones are blocked) and claims due rows while fewer than
// `window` are outstanding (claimed and not yet written back).
//
// Database outage: nothing queued is dropped. The first failed call marks
// the database down: the loop thread stops feeding the engine (db_state
// hook), reconnection is tried with exponential backoff (0.5 s doubling to
// 30 s, one log line per try), and after `give_up` the run is stopped. When
// the process ends with results still unwritten they go to the journal,
// which the next start replays (Start) before it claims anything.
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <set>
#include <string>
#include <vector>

#include "common/clock.h"
#include "scheduler/dispatch.h"
#include "scheduler/pipeline.h"
#include "scheduler/stats.h"
#include "scheduler/work_store.h"

namespace postino::scheduler {

struct DbLoopOptions {
  std::string node;                     // lease owner and identity
  int batch_size = 1000;                // rows per claim at most
  int window = 2000;                    // rows outstanding at most
  std::chrono::seconds lease{300};
  bool until_idle = false;
  std::string journal_path;
  Nanos give_up{std::chrono::seconds(300)};  // database unreachable this long: stop
  Nanos housekeeping_interval{std::chrono::milliseconds(500)};
  Nanos flush_interval{std::chrono::milliseconds(20)};  // results batch up this long
  Nanos final_grace{std::chrono::seconds(2)};  // after the loop ended, on a down database
};

class DbLoop {
 public:
  struct Hooks {
    std::function<void(int code, const std::string& why)> request_stop;
    std::function<void(const std::set<int64_t>&)> set_blocked;  // campaigns not running
    std::function<void(std::vector<Job>)> dispatch;             // to the render workers
    std::function<std::vector<int64_t>()> take_unrendered;      // jobs left when stopping
    std::function<void(bool up)> db_state;                      // reachable or not
    // DSNs of submitted mail (dsn_generator.h), with housekeeping; with
    // delay warnings about once a minute. Unset: none.
    std::function<Status(bool with_delays)> dsn_round;
    // Paths an operator lifted (`postino sources resume`), to the engine.
    std::function<void(std::vector<db::Database::EgressEvent>)> path_lifts;
  };

  DbLoop(WorkStore& store, const Clock& clock, DbLoopOptions options, Outbox& outbox,
         PipelineStats& stats, Dispatcher& dispatcher, Hooks hooks);

  // Before the first claim: takes the node identity's lock
  // (FailedPrecondition when another live process has it), replays and
  // deletes the journal, and takes back leases of a dead process of the
  // same identity.
  Status Start();
  // One round; returns how long to wait before the next at most.
  std::chrono::milliseconds Step();
  // The thread: rounds until the loop thread is done and everything is
  // written (or the database stays down past final_grace), then Finish().
  void Run();
  // Journals unwritten results, finishes done campaigns, and for
  // --until-idle says what other nodes still hold. Returns kExitDatabase
  // when something could not be written, else kExitOk.
  int Finish();

  // From the loop thread.
  void SetStopping() { stopping_ = true; }
  void SetLoopDone();
  void SetHeldBack();

  bool db_down() const { return down_; }
  int64_t outstanding() const { return outstanding_; }
  bool stop_requested() const { return stop_requested_; }

 private:
  // Writes `b`, removing what was written; false when the database failed.
  bool Write(Outbox::Batch& b, MonoTime now);
  void Down(MonoTime now, const Status& why);
  void StillDown(MonoTime now, const Status& why);
  void Up(MonoTime now);
  // Records a failed call: a lost connection marks the database down.
  void Failed(MonoTime now, const Status& st);
  void Housekeeping(MonoTime now);
  void EnsurePartitions(MonoTime now);
  void ClaimMore(MonoTime now);
  void RequestStop(int code, const std::string& why);

  WorkStore& store_;
  const Clock& clock_;
  const DbLoopOptions opt_;
  Outbox& outbox_;
  PipelineStats& stats_;
  Dispatcher& dispatcher_;
  Hooks hooks_;
  std::optional<MonoTime> last_delay_check_;

  std::atomic<bool> stopping_{false};
  std::atomic<bool> loop_done_{false};
  std::atomic<bool> held_back_{false};
  std::atomic<bool> down_{false};
  std::atomic<int64_t> outstanding_{0};
  bool stop_requested_ = false;
  bool gave_up_ = false;
  MonoTime down_since_{}, next_try_{}, done_at_{}, last_flush_{};
  std::optional<MonoTime> last_renew_, last_housekeeping_;
  std::optional<MonoTime> next_partitions_;  // delivery_events months ahead (daily)
  Nanos backoff_{0};
  std::set<int64_t> blocked_;
  // Operator resumes after this time are still to be passed on (path_lifts).
  db::TimePoint resumes_since_{};
};

}  // namespace postino::scheduler
