// stats.h: counters of the scheduler's pipeline, one set per stage:
//
//   claim (SQL) → render queue → render → ready queue → feed queue (waits
//   for room in the engine) → engine (SMTP) → results queue → write (SQL)
//
// For each queue or stage: items in and out (the difference is its depth)
// and the time items spent there (sum and maximum); for the two SQL ends:
// batches, rows and SQL time. Updates are relaxed atomics (a few ns each,
// from any thread). The scheduler logs FormatStats every [node]
// stats_interval and at exit; Snapshot() is what a /metrics endpoint reads.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <string>

#include "common/clock.h"

namespace postino::scheduler {

enum class Stage : int {
  kRenderQueue,   // claimed, waiting for a render worker
  kRender,        // being rendered and signed
  kReadyQueue,    // rendered, waiting for the loop thread to pick it up
  kFeedQueue,     // on the loop thread, waiting for room in the engine
  kEngine,        // in the engine: queued for a path, or in an SMTP session
  kResultsQueue,  // outcome known, waiting for the DB thread to write it
};
inline constexpr int kStageCount = 6;
const char* StageName(Stage s);

struct StageSnapshot {
  uint64_t entered = 0;
  uint64_t left = 0;
  uint64_t wait_ns = 0;      // summed over items that left
  uint64_t max_wait_ns = 0;  // since the previous Snapshot(true)
  int64_t depth() const { return static_cast<int64_t>(entered) - static_cast<int64_t>(left); }
};

struct SqlSnapshot {
  uint64_t batches = 0;
  uint64_t rows = 0;
  uint64_t ns = 0;
  uint64_t max_ns = 0;  // since the previous Snapshot(true)
  uint64_t failures = 0;
};

struct PipelineSnapshot {
  MonoTime at{};
  std::array<StageSnapshot, kStageCount> stages{};
  SqlSnapshot claim;   // Claim: rows claimed per batch
  SqlSnapshot record;  // RecordResults: results written per batch
  uint64_t released = 0;    // leases given back unattempted
  uint64_t postponed = 0;   // --until-idle: held back by shaping
  bool db_down = false;     // the database is unreachable now
  uint64_t db_outages = 0;  // times it became unreachable
  const StageSnapshot& stage(Stage s) const { return stages[static_cast<int>(s)]; }
};

class PipelineStats {
 public:
  void Enter(Stage s, uint64_t n = 1) { St(s).entered.fetch_add(n, kRelaxed); }
  // `n` items leave `s`, each having waited `waited` there.
  void Leave(Stage s, Nanos waited, uint64_t n = 1);
  void RecordClaim(uint64_t rows, Nanos sql, bool ok) {
    Sql(claim_, rows, sql, ok);
    Export(true, rows, sql, ok);
  }
  void RecordWrite(uint64_t rows, Nanos sql, bool ok) {
    Sql(record_, rows, sql, ok);
    Export(false, rows, sql, ok);
  }
  void Released(uint64_t n) { released_.fetch_add(n, kRelaxed); }
  void Postponed(uint64_t n) { postponed_.fetch_add(n, kRelaxed); }
  void SetDbDown(bool down);

  // `reset_max`: start new maxima (the periodic summary does).
  PipelineSnapshot Snapshot(const Clock& clock, bool reset_max = false);

 private:
  static constexpr auto kRelaxed = std::memory_order_relaxed;
  struct StageCounters {
    std::atomic<uint64_t> entered{0}, left{0}, wait_ns{0}, max_wait_ns{0};
  };
  struct SqlCounters {
    std::atomic<uint64_t> batches{0}, rows{0}, ns{0}, max_ns{0}, failures{0};
  };
  StageCounters& St(Stage s) { return stages_[static_cast<int>(s)]; }
  static void Max(std::atomic<uint64_t>& m, uint64_t v);
  static void Sql(SqlCounters& c, uint64_t rows, Nanos sql, bool ok);
  // The same batch into /metrics (postino_db_batch_*).
  static void Export(bool claim, uint64_t rows, Nanos sql, bool ok);

  std::array<StageCounters, kStageCount> stages_;
  SqlCounters claim_, record_;
  std::atomic<uint64_t> released_{0}, postponed_{0}, outages_{0};
  std::atomic<bool> db_down_{false};
};

// One line: per stage its depth now, items through and mean/max wait in the
// interval; per SQL end batches, mean rows and mean/max time. With `prev`
// default-constructed it summarises since the start.
std::string FormatStats(const PipelineSnapshot& now, const PipelineSnapshot& prev);

}  // namespace postino::scheduler
