// metric_families.h: every metric family postino exposes at /metrics, by
// name, in one place (docs/metrics.md describes each). Each accessor
// registers its family in metrics::Registry::Global() on first call and
// returns it; a module increments what it owns, e.g.
//
//   static auto& failures = metrics::families::SubmissionAuthFailures().Get();
//   failures.Inc();
//
// RegisterAll() registers every family at once (http/ calls it at start), so
// a scrape shows every name with its HELP and TYPE even before the first
// increment. Label bounds are fixed here; values past them become "other".
//
// The `campaign` and `site` labels are recyclable (metrics.h): a value idle
// for an hour may be retired to make room for a new one. Families marked
// [recycled] below must be looked up at each increment, never through a
// cached reference:
//   fam::RecipientsByCampaign().With({std::to_string(id), outcome}).Inc();
#pragma once

#include "common/metrics.h"

namespace postino::metrics::families {

// Outbound (scheduler): one per recipient outcome. `outcome`: delivered,
// deferred, bounced, expired, failed.
CounterFamily& Recipients();            // postino_recipients_total{outcome}
CounterFamily& RecipientsBySource();    // postino_recipients_by_source_total{source,outcome}
// [recycled] postino_recipients_by_site_total{site,outcome}
CounterFamily& RecipientsBySite();
// [recycled] postino_recipients_by_campaign_total{campaign,outcome}
CounterFamily& RecipientsByCampaign();
// Messages (one per SMTP transaction; a campaign message has one recipient
// unless recipients_per_message > 1) handed to the engine.
CounterFamily& EngineMessages();        // postino_engine_messages_total
// Egress path state changes: `action` suspended, slowed, recovering, resumed.
CounterFamily& PathEvents();            // postino_path_events_total{action,source}
GaugeFamily& SmtpConnections();         // postino_smtp_connections (open or opening)
GaugeFamily& EngineRecipients();        // postino_engine_recipients (in the engine now)
GaugeFamily& QueueDepth();              // postino_queue_depth{stage}
HistogramFamily& DbBatchDuration();     // postino_db_batch_duration_seconds{op}: claim, record
CounterFamily& DbBatchRows();           // postino_db_batch_rows_total{op}
CounterFamily& DbBatchFailures();       // postino_db_batch_failures_total{op}
GaugeFamily& DbUp();                    // postino_db_up (scheduler's view: 1 up, 0 down)
GaugeFamily& LoopHeartbeat();           // postino_loop_heartbeat_timestamp_seconds

// HTTP (http/).
CounterFamily& HttpRequests();          // postino_http_requests_total{handler,code}
HistogramFamily& HttpRequestDuration(); // postino_http_request_duration_seconds{handler}
GaugeFamily& HttpConnections();         // postino_http_connections (open now)
// `method`: one_click (RFC 8058 POST) or page (the confirmation page's button).
CounterFamily& Unsubscribes();           // postino_unsubscribes_total{method}
// [recycled] postino_unsubscribes_by_campaign_total{campaign}
CounterFamily& UnsubscribesByCampaign();
// `reason`: malformed, unknown (no such delivery or campaign), forged.
CounterFamily& UnsubscribeRejects();     // postino_unsubscribe_rejects_total{reason}

// Submission listener (inbound/, helper submit-server).
// `listener`: "587", "465" or the configured name; `result` accepted|refused.
CounterFamily& SubmissionSessions();     // postino_submission_sessions_total{listener}
GaugeFamily& SubmissionSessionsOpen();   // postino_submission_sessions_open{listener}
CounterFamily& SubmissionAuthFailures(); // postino_submission_auth_failures_total{mechanism}
CounterFamily& SubmissionMessages();     // postino_submission_messages_total{result}

// Returns by mail (inbound/returns, helper returns). `kind` hard|soft;
// `source` smtp (port-25 intake) or import (postino bounces import).
CounterFamily& Bounces();                // postino_bounces_total{kind,source}
// [recycled] postino_bounces_by_campaign_total{campaign,kind}
CounterFamily& BouncesByCampaign();
// `feedback_type`: abuse, fraud, virus, other, not-spam (RFC 5965).
CounterFamily& Complaints();             // postino_complaints_total{feedback_type,source}
// [recycled] postino_complaints_by_campaign_total{campaign}
CounterFamily& ComplaintsByCampaign();
CounterFamily& ReturnsUnmatched();       // postino_returns_unmatched_total{kind}: no delivery found

void RegisterAll();

}  // namespace postino::metrics::families
