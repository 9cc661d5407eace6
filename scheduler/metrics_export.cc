// metrics_export.cc: the scheduler's metrics (see metrics_export.h).
#include "scheduler/metrics_export.h"

#include <chrono>

#include "common/clock.h"
#include "common/metric_families.h"

namespace postino::scheduler {
namespace {

namespace fam = metrics::families;

}  // namespace

void ExportOutcome(const db::AttemptResult& a, const std::string& source, const std::string& site) {
  // By site and by campaign are recycled families (common/metrics.h): looked
  // up at each call, never kept in a static reference.
  fam::Recipients().With({a.status}).Inc();
  fam::RecipientsBySource().With({source, a.status}).Inc();
  fam::RecipientsBySite().With({site, a.status}).Inc();
  fam::RecipientsByCampaign().With({std::to_string(a.campaign_id), a.status}).Inc();
}

void ExportPathEvent(const delivery::PathEvent& e) {
  fam::PathEvents().With({delivery::PathEventActionName(e.action), e.source_name}).Inc();
}

void ExportEngineMessage() {
  static metrics::CounterSeries& messages = fam::EngineMessages().Get();
  messages.Inc();
}

void ExportLoopTick(const delivery::EngineCounts& c) {
  static metrics::GaugeSeries& beat = fam::LoopHeartbeat().Get();
  static metrics::GaugeSeries& connections = fam::SmtpConnections().Get();
  static metrics::GaugeSeries& recipients = fam::EngineRecipients().Get();
  beat.Set(std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count());
  connections.Set(static_cast<double>(c.connections));
  recipients.Set(static_cast<double>(c.recipients));
}

PipelineStatsExport::PipelineStatsExport(PipelineStats& stats) {
  fam::QueueDepth();
  fam::DbUp();
  id_ = metrics::Registry::Global().AddCollector([&stats] {
    PipelineSnapshot s = stats.Snapshot(SystemClock::Instance());
    for (int i = 0; i < kStageCount; ++i) {
      fam::QueueDepth().With({StageName(static_cast<Stage>(i))}).Set(
          static_cast<double>(s.stages[i].depth()));
    }
    fam::DbUp().Get().Set(s.db_down ? 0 : 1);
  });
}

PipelineStatsExport::~PipelineStatsExport() {
  metrics::Registry::Global().RemoveCollector(id_);
  // The loop no longer runs: /healthz must not see a fresh heartbeat.
  fam::LoopHeartbeat().Get().Set(0);
}

}  // namespace postino::scheduler
