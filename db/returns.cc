// returns.cc: PgDatabase (see pg_database.h), returned mail (issue 13):
// finding the delivery a bounce or complaint report is about, and recording
// the report once (by hash) with its delivery_events rows, the delivery and
// subscriber status changes and the suppressions it implies. Every libpqxx
// exception is caught here and turned into a Status.
#include <pqxx/pqxx>

#include "db/database.h"
#include "db/pg_database.h"

namespace postino::db::internal {

namespace {

constexpr const char* kDeliveryColumns =
    "SELECT id, campaign_id, subscriber_id, email, status, coalesce(message_id, '') FROM deliveries ";

std::optional<ReturnedDelivery> FirstDelivery(const pqxx::result& r) {
  if (r.empty()) return std::nullopt;
  ReturnedDelivery d;
  d.id = r[0][0].as<int64_t>();
  d.campaign_id = r[0][1].is_null() ? 0 : r[0][1].as<int64_t>();
  d.subscriber_id = r[0][2].is_null() ? 0 : r[0][2].as<int64_t>();
  d.email = Str(r[0][3]);
  d.status = Str(r[0][4]);
  d.message_id = Str(r[0][5]);
  return d;
}

}  // namespace

Result<std::optional<ReturnedDelivery>> PgDatabase::FindReturnedDelivery(const ReturnLookup& by) {
  return Guard("finding the delivery of a returned report",
               [&]() -> Result<std::optional<ReturnedDelivery>> {
    pqxx::read_transaction tx(*conn_);
    std::string cols = kDeliveryColumns;
    if (by.delivery_id > 0)
      return FirstDelivery(tx.exec_params(cols + "WHERE id = $1", by.delivery_id));
    if (!by.message_id.empty()) {
      // Stored as written in the header ("<id@host>"); reports may quote
      // it with or without the angle brackets.
      std::string bare = by.message_id;
      if (bare.size() >= 2 && bare.front() == '<' && bare.back() == '>')
        bare = bare.substr(1, bare.size() - 2);
      return FirstDelivery(tx.exec_params(
          cols + "WHERE message_id IN ($1, $2) ORDER BY id DESC LIMIT 1", bare, "<" + bare + ">"));
    }
    if (by.campaign_id > 0 && !by.email.empty())
      return FirstDelivery(tx.exec_params(
          cols + "WHERE campaign_id = $1 AND lower(email) = lower($2) LIMIT 1", by.campaign_id,
          by.email));
    if (!by.email.empty())
      return FirstDelivery(tx.exec_params(
          cols + "WHERE lower(email) = lower($1) AND status IN ('delivered', 'bounced')"
                 " ORDER BY coalesce(last_attempt_at, created_at) DESC, id DESC LIMIT 1",
          by.email));
    return std::optional<ReturnedDelivery>();
  });
}

Result<bool> PgDatabase::RecordReturnedReport(const ReturnedReportRow& report,
                                              const std::vector<ReturnEvent>& events,
                                              const std::string& node) {
  return Guard("recording a returned report", [&]() -> Result<bool> {
    pqxx::work tx(*conn_);
    pqxx::result ins = tx.exec_params(
        "INSERT INTO returned_reports (sha256, kind, format, mail_from, rcpt_to, reasons,"
        " recipients, unmatched) VALUES ($1, $2, $3, NULLIF($4, ''), NULLIF($5, ''), NULLIF($6, ''),"
        " $7, $8) ON CONFLICT (sha256) DO NOTHING RETURNING id",
        report.hash, report.kind, report.format, report.mail_from, report.rcpt_to, report.reasons,
        report.recipients, report.unmatched);
    if (ins.empty()) return false;  // seen before: nothing more to do
    int64_t report_id = ins[0][0].as<int64_t>();
    for (const ReturnEvent& e : events) {
      // The event row numbers itself after the delivery's attempts and
      // carries the parsed DSN values.
      pqxx::result d = tx.exec_params(
          "INSERT INTO delivery_events (delivery_id, campaign_id, attempt, status, smtp_code,"
          " enhanced_code, reply, phase, message_id, node)"
          " SELECT d.id, d.campaign_id, d.attempts, $2, NULLIF($3, 0), NULLIF($4, ''),"
          " NULLIF($5, ''), $6, d.message_id, $7 FROM deliveries d WHERE d.id = $1"
          " RETURNING campaign_id",
          e.delivery_id, e.event, e.smtp_code, e.enhanced, e.reply.substr(0, 2000), e.phase, node);
      if (d.empty()) continue;
      std::string detail = e.event == "complained"
                               ? "complaint (" + e.feedback_type + ") from " + e.source
                               : (e.smtp_code ? std::to_string(e.smtp_code) + " " : std::string()) +
                                     (e.enhanced.empty() ? std::string() : e.enhanced + " ") +
                                     e.reply.substr(0, 500);
      if (e.event == "bounced") {
        // The receiver took the message, then returned it: the row that
        // said delivered now says bounced, as a synchronous 5xx would have.
        tx.exec_params(
            "UPDATE deliveries SET status = 'bounced', last_code = NULLIF($2, 0),"
            " last_enhanced = NULLIF($3, ''), last_reply = NULLIF($4, ''),"
            " last_reply_key = postino_reply_key(NULLIF($4, ''))"
            " WHERE id = $1 AND status = 'delivered'",
            e.delivery_id, e.smtp_code, e.enhanced, e.reply.substr(0, 2000));
        tx.exec_params(
            "UPDATE subscribers s SET status = 'bounced', updated_at = now() FROM deliveries d"
            " WHERE d.id = $1 AND s.id = d.subscriber_id AND s.status = 'active'",
            e.delivery_id);
      }
      if (e.event == "unsubscribed") {
        tx.exec_params(
            "UPDATE subscribers s SET status = 'unsubscribed', updated_at = now() FROM deliveries d"
            " WHERE d.id = $1 AND s.id = d.subscriber_id AND s.status <> 'unsubscribed'",
            e.delivery_id);
      }
      if (e.event == "complained") {
        tx.exec_params(
            "INSERT INTO complaints (report_id, delivery_id, campaign_id, email, domain,"
            " feedback_type, source, source_ip)"
            " SELECT $1, d.id, d.campaign_id, d.email, d.domain, $3, $4, NULLIF($5, '')"
            " FROM deliveries d WHERE d.id = $2",
            report_id, e.delivery_id, e.feedback_type, e.source, e.source_ip);
      }
      const char* reason = e.event == "bounced"        ? "hard_bounce"
                           : e.event == "complained"   ? "complaint"
                           : e.event == "unsubscribed" ? "unsubscribe"
                                                       : nullptr;
      if (reason && (e.suppress || e.event != "bounced")) {
        tx.exec_params(
            "INSERT INTO suppressions (email_key, reason, detail, campaign_id)"
            " SELECT lower(d.email), $2, NULLIF($3, ''), d.campaign_id FROM deliveries d"
            " WHERE d.id = $1 ON CONFLICT (email_key) DO NOTHING",
            e.delivery_id, reason, detail);
      }
    }
    tx.commit();
    return true;
  });
}

}  // namespace postino::db::internal
