// metrics_export.h: what the scheduler reports to the process metrics
// registry (common/metric_families.h, served at /metrics by http/): one call
// per recipient outcome, path event and engine message, the loop's
// heartbeat with the engine's gauges (every feed tick, on the loop thread),
// and a collector that turns PipelineStats snapshots into queue-depth gauges
// at scrape time. Kept apart so scheduler.cc only gains one-line calls.
#pragma once

#include <cstdint>
#include <string>

#include "db/database.h"
#include "engine/delivery/engine.h"
#include "scheduler/stats.h"

namespace postino::scheduler {

void ExportOutcome(const db::AttemptResult& a, const std::string& source, const std::string& site);
void ExportPathEvent(const delivery::PathEvent& e);
void ExportEngineMessage();
// Loop thread, every feed tick: heartbeat + engine gauges.
void ExportLoopTick(const delivery::EngineCounts& c);

// Registers a collector reading `stats` at scrape time; removes it when
// destroyed (before `stats` goes away).
class PipelineStatsExport {
 public:
  explicit PipelineStatsExport(PipelineStats& stats);
  ~PipelineStatsExport();
  PipelineStatsExport(const PipelineStatsExport&) = delete;
  PipelineStatsExport& operator=(const PipelineStatsExport&) = delete;

 private:
  int id_;
};

}  // namespace postino::scheduler
