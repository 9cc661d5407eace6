// stats.cc: pipeline counters and their one-line summary.
#include "scheduler/stats.h"

#include <fmt/format.h>

#include "common/metric_families.h"

namespace postino::scheduler {

const char* StageName(Stage s) {
  switch (s) {
    case Stage::kRenderQueue: return "render-queue";
    case Stage::kRender: return "render";
    case Stage::kReadyQueue: return "ready-queue";
    case Stage::kFeedQueue: return "feed-queue";
    case Stage::kEngine: return "engine";
    case Stage::kResultsQueue: return "results-queue";
  }
  return "?";
}

void PipelineStats::Max(std::atomic<uint64_t>& m, uint64_t v) {
  uint64_t cur = m.load(kRelaxed);
  while (v > cur && !m.compare_exchange_weak(cur, v, kRelaxed)) {
  }
}

void PipelineStats::Leave(Stage s, Nanos waited, uint64_t n) {
  StageCounters& c = St(s);
  uint64_t w = waited.count() > 0 ? static_cast<uint64_t>(waited.count()) : 0;
  c.left.fetch_add(n, kRelaxed);
  c.wait_ns.fetch_add(w * n, kRelaxed);
  Max(c.max_wait_ns, w);
}

void PipelineStats::Sql(SqlCounters& c, uint64_t rows, Nanos sql, bool ok) {
  uint64_t ns = sql.count() > 0 ? static_cast<uint64_t>(sql.count()) : 0;
  c.batches.fetch_add(1, kRelaxed);
  c.ns.fetch_add(ns, kRelaxed);
  Max(c.max_ns, ns);
  if (ok) {
    c.rows.fetch_add(rows, kRelaxed);
  } else {
    c.failures.fetch_add(1, kRelaxed);
  }
}

void PipelineStats::Export(bool claim, uint64_t rows, Nanos sql, bool ok) {
  namespace fam = metrics::families;
  static metrics::HistogramSeries& claim_time = fam::DbBatchDuration().With({"claim"});
  static metrics::HistogramSeries& record_time = fam::DbBatchDuration().With({"record"});
  static metrics::CounterSeries& claim_rows = fam::DbBatchRows().With({"claim"});
  static metrics::CounterSeries& record_rows = fam::DbBatchRows().With({"record"});
  static metrics::CounterSeries& claim_failed = fam::DbBatchFailures().With({"claim"});
  static metrics::CounterSeries& record_failed = fam::DbBatchFailures().With({"record"});
  (claim ? claim_time : record_time).Observe(std::chrono::duration<double>(sql).count());
  if (ok) {
    (claim ? claim_rows : record_rows).Inc(rows);
  } else {
    (claim ? claim_failed : record_failed).Inc();
  }
}

void PipelineStats::SetDbDown(bool down) {
  if (down && !db_down_.exchange(true, kRelaxed)) outages_.fetch_add(1, kRelaxed);
  if (!down) db_down_.store(false, kRelaxed);
}

PipelineSnapshot PipelineStats::Snapshot(const Clock& clock, bool reset_max) {
  PipelineSnapshot s;
  s.at = clock.Now();
  auto take = [&](std::atomic<uint64_t>& m) { return reset_max ? m.exchange(0, kRelaxed) : m.load(kRelaxed); };
  for (int i = 0; i < kStageCount; ++i) {
    // `left` before `entered`, so a depth is never negative.
    s.stages[i].left = stages_[i].left.load(kRelaxed);
    s.stages[i].wait_ns = stages_[i].wait_ns.load(kRelaxed);
    s.stages[i].entered = stages_[i].entered.load(kRelaxed);
    s.stages[i].max_wait_ns = take(stages_[i].max_wait_ns);
  }
  auto sql = [&](SqlCounters& c, SqlSnapshot& o) {
    o.batches = c.batches.load(kRelaxed);
    o.rows = c.rows.load(kRelaxed);
    o.ns = c.ns.load(kRelaxed);
    o.failures = c.failures.load(kRelaxed);
    o.max_ns = take(c.max_ns);
  };
  sql(claim_, s.claim);
  sql(record_, s.record);
  s.released = released_.load(kRelaxed);
  s.postponed = postponed_.load(kRelaxed);
  s.db_down = db_down_.load(kRelaxed);
  s.db_outages = outages_.load(kRelaxed);
  return s;
}

namespace {

std::string Ms(double ns) {
  double ms = ns / 1e6;
  return ms >= 100 ? fmt::format("{:.0f}ms", ms) : fmt::format("{:.1f}ms", ms);
}

}  // namespace

std::string FormatStats(const PipelineSnapshot& now, const PipelineSnapshot& prev) {
  std::string out = "pipeline:";
  auto sql = [&](const char* name, const SqlSnapshot& n, const SqlSnapshot& p) {
    uint64_t batches = n.batches - p.batches;
    uint64_t rows = n.rows - p.rows;
    double ns = static_cast<double>(n.ns - p.ns);
    out += fmt::format(" {} {}x{:.0f} rows {}/{}", name, batches,
                       batches ? static_cast<double>(rows) / static_cast<double>(batches) : 0.0,
                       Ms(batches ? ns / static_cast<double>(batches) : 0.0),
                       Ms(static_cast<double>(n.max_ns)));
    if (n.failures != p.failures) out += fmt::format(" ({} failed)", n.failures - p.failures);
    out += " |";
  };
  sql("claim", now.claim, prev.claim);
  for (int i = 0; i < kStageCount; ++i) {
    const StageSnapshot& n = now.stages[i];
    const StageSnapshot& p = prev.stages[i];
    uint64_t through = n.left - p.left;
    double mean = through ? static_cast<double>(n.wait_ns - p.wait_ns) / static_cast<double>(through)
                          : 0.0;
    out += fmt::format(" {} {} (+{}, {}/{}) |", StageName(static_cast<Stage>(i)), n.depth(),
                       through, Ms(mean), Ms(static_cast<double>(n.max_wait_ns)));
  }
  sql("write", now.record, prev.record);
  if (now.released != prev.released) out += fmt::format(" released {} |", now.released - prev.released);
  if (now.postponed != prev.postponed) {
    out += fmt::format(" postponed {} |", now.postponed - prev.postponed);
  }
  out += now.db_down ? " database DOWN" : " database ok";
  return out;
}

}  // namespace postino::scheduler
