// outcome.cc: Outcome -> AttemptResult.
#include "scheduler/outcome.h"

#include "common/utf8.h"

namespace postino::scheduler {

db::AttemptResult RecordOutcome(const delivery::Outcome& o, const Meta& meta,
                                RetrySchedule& retry, bool auto_suppress, WallTime now) {
  db::AttemptResult a;
  a.delivery_id = meta.delivery_id;
  a.campaign_id = meta.campaign_id;
  // Peer text is untrusted: a Latin-1 or NUL byte must not stop the results
  // batch from being written.
  a.code = o.reply.code;
  a.enhanced = SanitizeUtf8(o.reply.enhanced);
  a.reply = SanitizeUtf8(o.reply.Text());
  a.phase = std::string(smtp::PhaseName(o.phase));
  a.source_ip = o.source_address;
  a.mx_host = SanitizeUtf8(o.mx_host);
  a.site = SanitizeUtf8(o.site);
  a.tls_version = o.tls_version;
  a.tls_cipher = o.tls_cipher;
  a.message_id = meta.message_id;
  a.at = o.finished_at.time_since_epoch().count() ? o.finished_at : now;
  a.email = meta.email;
  switch (o.disposition) {
    case delivery::Disposition::kDelivered:
      a.status = "delivered";
      break;
    case delivery::Disposition::kBounced:
      a.status = "bounced";
      // The engine's policy decided it (Outcome::decision); never re-classified.
      // Suppression lists are the campaigns'; submitted mail reports by DSN.
      a.suppress = auto_suppress && o.decision.suppress && meta.submission_id == 0;
      break;
    case delivery::Disposition::kDeferred: {
      RetryDecision d =
          retry.Next(meta.domain, meta.attempts, meta.first_attempt_at, a.at, meta.max_age);
      if (d.expired) {
        a.status = "expired";
      } else {
        a.status = "deferred";
        a.next_attempt_at = d.next_attempt_at;
      }
      break;
    }
  }
  return a;
}

}  // namespace postino::scheduler
