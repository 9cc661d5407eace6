// metric_families.cc: the names, help texts and label bounds of postino's
// metric families (see metric_families.h and docs/metrics.md).
#include "common/metric_families.h"

namespace postino::metrics::families {
namespace {

Registry& R() { return Registry::Global(); }

constexpr size_t kOutcomes = 8;     // delivered deferred bounced expired failed + spare
constexpr size_t kSources = 64;     // source addresses
constexpr size_t kSites = 200;      // MX sites at a time (recyclable)
constexpr size_t kCampaigns = 100;  // campaigns at a time (recyclable)

// Campaigns and MX sites come and go in a process that runs for months: when
// their label is full, a value idle for an hour gives its slot to a new one
// (metrics.h, docs/metrics.md "Recycled labels"). Keep a family's series
// bound at least the product of its label bounds (100 x 8 <= 1000, 200 x 8 <=
// 2000): past it every label becomes "other", recycled or not.
LabelSpec Site() { return {"site", kSites, true}; }
LabelSpec Campaign() { return {"campaign", kCampaigns, true}; }

}  // namespace

CounterFamily& Recipients() {
  static auto& f = R().Counter("postino_recipients_total",
                               "Recipients that reached an outcome of a delivery attempt.",
                               {{"outcome", kOutcomes}});
  return f;
}

CounterFamily& RecipientsBySource() {
  static auto& f = R().Counter(
      "postino_recipients_by_source_total",
      "Recipient outcomes per source address (\"\" when no connection was made).",
      {{"source", kSources}, {"outcome", kOutcomes}});
  return f;
}

CounterFamily& RecipientsBySite() {
  static auto& f = R().Counter("postino_recipients_by_site_total",
                               "Recipient outcomes per MX site (sorted MX host set; a site "
                               "idle for an hour may be retired to make room).",
                               {Site(), {"outcome", kOutcomes}}, 2000);
  return f;
}

CounterFamily& RecipientsByCampaign() {
  static auto& f = R().Counter("postino_recipients_by_campaign_total",
                               "Recipient outcomes per campaign id (100 at a time; a campaign "
                               "idle for an hour may be retired to make room).",
                               {Campaign(), {"outcome", kOutcomes}});
  return f;
}

CounterFamily& EngineMessages() {
  static auto& f = R().Counter("postino_engine_messages_total",
                               "Messages (SMTP transactions) handed to the outbound engine.");
  return f;
}

CounterFamily& PathEvents() {
  static auto& f = R().Counter(
      "postino_path_events_total",
      "Egress path state changes: suspended, slowed, recovering, resumed, per source name.",
      {{"action", 8}, {"source", kSources}});
  return f;
}

GaugeFamily& SmtpConnections() {
  static auto& f =
      R().Gauge("postino_smtp_connections", "Outbound SMTP connections open or opening.");
  return f;
}

GaugeFamily& EngineRecipients() {
  static auto& f = R().Gauge("postino_engine_recipients",
                             "Recipients inside the outbound engine (queued for a path or in "
                             "an SMTP session).");
  return f;
}

GaugeFamily& QueueDepth() {
  static auto& f = R().Gauge("postino_queue_depth",
                             "Recipients in each stage of the scheduler's pipeline.",
                             {{"stage", 8}});
  return f;
}

HistogramFamily& DbBatchDuration() {
  static auto& f = R().Histogram("postino_db_batch_duration_seconds",
                                 "Time of one scheduler database batch (claim or record).",
                                 LatencyBuckets(), {{"op", 4}});
  return f;
}

CounterFamily& DbBatchRows() {
  static auto& f = R().Counter("postino_db_batch_rows_total",
                               "Rows claimed or results recorded by scheduler batches.",
                               {{"op", 4}});
  return f;
}

CounterFamily& DbBatchFailures() {
  static auto& f = R().Counter("postino_db_batch_failures_total",
                               "Scheduler database batches that failed.", {{"op", 4}});
  return f;
}

GaugeFamily& DbUp() {
  static auto& f = R().Gauge("postino_db_up",
                             "1 when the scheduler's database connection works, 0 when it is "
                             "down (results go to the journal).");
  return f;
}

GaugeFamily& LoopHeartbeat() {
  static auto& f = R().Gauge("postino_loop_heartbeat_timestamp_seconds",
                             "Unix time of the event loop's last heartbeat (every 200 ms while "
                             "it runs); 0 when this process runs no loop.");
  return f;
}

CounterFamily& HttpRequests() {
  static auto& f = R().Counter("postino_http_requests_total",
                               "HTTP requests answered, per handler and status code.",
                               {{"handler", 8}, {"code", 16}});
  return f;
}

HistogramFamily& HttpRequestDuration() {
  static auto& f = R().Histogram("postino_http_request_duration_seconds",
                                 "Time from a request's headers to its response, per handler.",
                                 LatencyBuckets(), {{"handler", 8}});
  return f;
}

GaugeFamily& HttpConnections() {
  static auto& f = R().Gauge("postino_http_connections", "HTTP connections open now.");
  return f;
}

CounterFamily& Unsubscribes() {
  static auto& f = R().Counter("postino_unsubscribes_total",
                               "Unsubscribes recorded (a repeated request is not counted), by "
                               "method: one_click (RFC 8058) or page.",
                               {{"method", 4}});
  return f;
}

CounterFamily& UnsubscribesByCampaign() {
  static auto& f = R().Counter("postino_unsubscribes_by_campaign_total",
                               "Unsubscribes recorded per campaign id.", {Campaign()});
  return f;
}

CounterFamily& UnsubscribeRejects() {
  static auto& f = R().Counter("postino_unsubscribe_rejects_total",
                               "Unsubscribe requests refused: malformed, unknown or forged token.",
                               {{"reason", 4}});
  return f;
}

CounterFamily& SubmissionSessions() {
  static auto& f = R().Counter("postino_submission_sessions_total",
                               "SMTP submission sessions accepted, per listener.",
                               {{"listener", 16}});
  return f;
}

GaugeFamily& SubmissionSessionsOpen() {
  static auto& f = R().Gauge("postino_submission_sessions_open",
                             "SMTP submission sessions open now, per listener.",
                             {{"listener", 16}});
  return f;
}

CounterFamily& SubmissionAuthFailures() {
  static auto& f = R().Counter("postino_submission_auth_failures_total",
                               "Failed SMTP AUTH attempts, per mechanism.", {{"mechanism", 8}});
  return f;
}

CounterFamily& SubmissionMessages() {
  static auto& f = R().Counter("postino_submission_messages_total",
                               "Submitted messages: accepted (stored) or refused.",
                               {{"result", 4}});
  return f;
}

CounterFamily& Bounces() {
  static auto& f = R().Counter("postino_bounces_total",
                               "Bounces arriving by mail (DSN), hard or soft, by intake.",
                               {{"kind", 4}, {"source", 4}});
  return f;
}

CounterFamily& BouncesByCampaign() {
  static auto& f =
      R().Counter("postino_bounces_by_campaign_total", "Bounces arriving by mail per campaign id.",
                  {Campaign(), {"kind", 4}});
  return f;
}

CounterFamily& Complaints() {
  static auto& f = R().Counter("postino_complaints_total",
                               "Complaints (ARF feedback reports), by feedback type and intake.",
                               {{"feedback_type", 8}, {"source", 4}});
  return f;
}

CounterFamily& ComplaintsByCampaign() {
  static auto& f = R().Counter("postino_complaints_by_campaign_total",
                               "Complaints per campaign id.", {Campaign()});
  return f;
}

CounterFamily& ReturnsUnmatched() {
  static auto& f = R().Counter("postino_returns_unmatched_total",
                               "Returned messages (bounce or complaint) matched to no delivery.",
                               {{"kind", 4}});
  return f;
}

void RegisterAll() {
  Recipients();
  RecipientsBySource();
  RecipientsBySite();
  RecipientsByCampaign();
  EngineMessages();
  PathEvents();
  SmtpConnections();
  EngineRecipients();
  QueueDepth();
  DbBatchDuration();
  DbBatchRows();
  DbBatchFailures();
  DbUp();
  LoopHeartbeat();
  HttpRequests();
  HttpRequestDuration();
  HttpConnections();
  Unsubscribes();
  UnsubscribesByCampaign();
  UnsubscribeRejects();
  SubmissionSessions();
  SubmissionSessionsOpen();
  SubmissionAuthFailures();
  SubmissionMessages();
  Bounces();
  BouncesByCampaign();
  Complaints();
  ComplaintsByCampaign();
  ReturnsUnmatched();
}

}  // namespace postino::metrics::families
