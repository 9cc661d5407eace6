// deliveries.cc: PgDatabase (see pg_database.h), part three: what the
// sending nodes need. Claiming due deliveries under a lease, recording
// attempt results, giving back, renewing and reclaiming leases, the node
// identity lock, egress events and the path states they leave, and the
// day's counts per source IP for warm-up. Every libpqxx exception is caught
// here and turned into a Status.
#include <algorithm>
#include <map>
#include <pqxx/pqxx>

#include "db/database.h"
#include "db/pg_database.h"

namespace postino::db::internal {

namespace {

// Rows `d2` with whether giving them back cancels them (their campaign was
// cancelled meanwhile); submitted rows have no campaign and never are.
constexpr const char* kCancelledRows =
    "SELECT d2.id, (d2.status IN ('pending', 'deferred') AND c.status IS NOT DISTINCT FROM"
    " 'cancelled') AS cancelled FROM deliveries d2 LEFT JOIN campaigns c ON c.id = d2.campaign_id";

}  // namespace

Result<std::vector<ClaimedDelivery>> PgDatabase::Claim(const std::string& node, int limit,
                                                       std::chrono::seconds lease) {
  return Guard("claiming deliveries", [&]() -> Result<std::vector<ClaimedDelivery>> {
    pqxx::work tx(*conn_);
    // Per running campaign, its due rows in next_attempt_at order through
    // deliveries_claim (campaign_id, next_attempt_at): paused or scheduled
    // campaigns cost nothing however many rows they hold. Submitted
    // recipients (submission_id set, no campaign) are due on their own.
    // Subscribers' suppressions and statuses apply to campaign rows only.
    pqxx::result r = tx.exec_params(
        "WITH camp AS ("
        " SELECT x.id, x.next_attempt_at FROM campaigns c CROSS JOIN LATERAL ("
        "  SELECT d.id, d.next_attempt_at FROM deliveries d"
        "  WHERE d.campaign_id = c.id AND d.status IN ('pending', 'deferred')"
        "   AND d.next_attempt_at <= now() AND (d.lease_until IS NULL OR d.lease_until < now())"
        "  ORDER BY d.next_attempt_at LIMIT $2 FOR UPDATE OF d SKIP LOCKED) x"
        " WHERE c.status = 'running' ORDER BY x.next_attempt_at LIMIT $2),"
        // Submitted recipients (no campaign) through deliveries_submitted_due.
        " sub AS ("
        " SELECT d.id, d.next_attempt_at FROM deliveries d"
        "  WHERE d.submission_id IS NOT NULL AND d.status IN ('pending', 'deferred')"
        "   AND d.next_attempt_at <= now() AND (d.lease_until IS NULL OR d.lease_until < now())"
        "  ORDER BY d.next_attempt_at LIMIT $2 FOR UPDATE OF d SKIP LOCKED),"
        " due AS (SELECT u.id FROM (SELECT * FROM camp UNION ALL SELECT * FROM sub) u"
        "  ORDER BY u.next_attempt_at LIMIT $2)"
        " UPDATE deliveries d SET lease_owner = $1, lease_until = now() + make_interval(secs => "
        "$3)"
        " FROM due WHERE d.id = due.id"
        " RETURNING d.id, coalesce(d.campaign_id, 0), coalesce(d.subscriber_id, 0), d.email,"
        "  d.domain, d.attempts, coalesce(d.message_id, ''),"
        "  coalesce((SELECT s.attributes::text FROM subscribers s WHERE s.id = d.subscriber_id),"
        "   '{}'),"
        "  extract(epoch from coalesce(d.first_attempt_at, now()))::float8,"
        "  coalesce((SELECT s.status <> 'active' OR EXISTS (SELECT 1 FROM suppressions sp WHERE"
        "   sp.email_key = s.email_key) FROM subscribers s WHERE s.id = d.subscriber_id), false)"
        "   AS blocked,"
        "  coalesce(d.submission_id, 0)",
        node, limit, static_cast<double>(lease.count()));
    // Addresses suppressed or unsubscribed since the launch are not sent.
    std::string blocked = "{";
    for (const auto& row : r) {
      if (!row[9].as<bool>()) continue;
      if (blocked.size() > 1) blocked += ',';
      blocked += Str(row[0]);
    }
    blocked += "}";
    if (blocked.size() > 2) {
      tx.exec_params(
          "UPDATE deliveries SET status = 'suppressed', finished_at = now(), lease_owner = NULL, "
          "lease_until = NULL WHERE id = ANY($1::bigint[])",
          blocked);
    }
    tx.commit();
    std::vector<ClaimedDelivery> out;
    out.reserve(r.size());
    for (const auto& row : r) {
      if (row[9].as<bool>()) continue;
      ClaimedDelivery d;
      d.id = row[0].as<int64_t>();
      d.campaign_id = row[1].as<int64_t>();
      d.subscriber_id = row[2].as<int64_t>();
      d.email = Str(row[3]);
      d.domain = Str(row[4]);
      d.attempts = row[5].as<int>();
      d.message_id = Str(row[6]);
      d.attributes = Str(row[7]);
      d.first_attempt_at = FromEpoch(row[8].as<double>());
      d.submission_id = row[10].as<int64_t>();
      out.push_back(std::move(d));
    }
    return out;
  });
}

Status PgDatabase::RecordResults(const std::string& node,
                                 const std::vector<AttemptResult>& results) {
  if (results.empty()) return Status::Ok();
  return Guard("recording delivery results", [&]() -> Status {
    pqxx::work tx(*conn_);
    tx.exec(
        "CREATE TEMP TABLE IF NOT EXISTS results_in ("
        " delivery_id bigint, campaign_id bigint, status text, smtp_code integer,"
        " enhanced text, reply text, phase text, source_ip text, mx_host text, tls_version text,"
        " tls_cipher text, message_id text, at float8, next_at float8, suppress boolean,"
        " email text, site text) ON COMMIT DELETE ROWS");
    {
      pqxx::stream_to copy(tx, "results_in");
      for (const AttemptResult& r : results) {
        copy << std::make_tuple(r.delivery_id, r.campaign_id, r.status, r.code, r.enhanced,
                                r.reply, r.phase, r.source_ip, r.mx_host, r.tls_version,
                                r.tls_cipher, r.message_id, ToEpoch(r.at),
                                ToEpoch(r.next_attempt_at), r.suppress, r.email, r.site);
      }
      copy.complete();
    }
    // Results written again after a lost connection: drop those whose
    // attempt is already recorded (the first write did commit). Only then,
    // so the usual batch pays nothing for it. The time is matched within
    // 2 µs: a result kept in the journal comes back through a decimal epoch
    // and may round to the neighbouring microsecond; one node makes no two
    // attempts of one delivery that close together.
    if (std::any_of(results.begin(), results.end(),
                    [](const AttemptResult& r) { return r.replay; })) {
      tx.exec_params(
          "DELETE FROM results_in r USING delivery_events e WHERE e.delivery_id = r.delivery_id"
          " AND e.node = $1 AND e.at BETWEEN to_timestamp(r.at) - interval '2 microseconds'"
          " AND to_timestamp(r.at) + interval '2 microseconds'",
          node);
    }
    // Events first: they number the attempt from the row's counter.
    tx.exec_params(
        "INSERT INTO delivery_events (delivery_id, campaign_id, attempt, status, smtp_code, "
        "enhanced_code, reply, phase, source_ip, mx_host, tls_version, tls_cipher, message_id, "
        "node, at, site)"
        " SELECT r.delivery_id, NULLIF(r.campaign_id, 0), d.attempts + 1, r.status, NULLIF(r.smtp_code, 0),"
        " NULLIF(r.enhanced, ''), NULLIF(r.reply, ''), NULLIF(r.phase, ''), NULLIF(r.source_ip, "
        "''), NULLIF(r.mx_host, ''), NULLIF(r.tls_version, ''), NULLIF(r.tls_cipher, ''),"
        " NULLIF(r.message_id, ''), $1, to_timestamp(r.at), NULLIF(r.site, '')"
        " FROM results_in r JOIN deliveries d ON d.id = r.delivery_id",
        node);
    // A result changes a row that is still to be sent; on a row already
    // final it only counts the attempt and frees the lease, except that a
    // message that did go out (delivered, or bounced by the receiver) is
    // recorded on a cancelled row, and a late delivery always wins.
    const std::string applies =
        "(d.status IN ('pending', 'deferred') OR (d.status = 'cancelled' AND r.status IN "
        "('delivered', 'bounced')) OR (r.status = 'delivered' AND d.status <> 'delivered'))";
    auto set = [&](const std::string& column, const std::string& value) {
      return " " + column + " = CASE WHEN " + applies + " THEN " + value + " ELSE d." + column +
             " END,";
    };
    std::string sql =
        "UPDATE deliveries d SET" + set("status", "r.status") +
        set("next_attempt_at",
            "CASE WHEN r.status = 'deferred' THEN to_timestamp(r.next_at) ELSE d.next_attempt_at "
            "END") +
        set("last_code", "NULLIF(r.smtp_code, 0)") + set("last_enhanced", "NULLIF(r.enhanced, '')") +
        set("last_reply", "NULLIF(r.reply, '')") +
        set("last_reply_key",
            "CASE WHEN r.status IN ('bounced', 'expired') THEN postino_reply_key(r.reply) END") +
        set("source_ip", "NULLIF(r.source_ip, '')") +
        set("mx_host", "NULLIF(r.mx_host, '')") +
        set("message_id", "coalesce(NULLIF(r.message_id, ''), d.message_id)") +
        set("finished_at", "CASE WHEN r.status = 'deferred' THEN NULL ELSE to_timestamp(r.at) END") +
        " attempts = d.attempts + 1,"
        " lease_owner = CASE WHEN d.lease_owner = $1 THEN NULL ELSE d.lease_owner END,"
        " lease_until = CASE WHEN d.lease_owner = $1 THEN NULL ELSE d.lease_until END,"
        " first_attempt_at = coalesce(d.first_attempt_at, to_timestamp(r.at)),"
        " last_attempt_at = to_timestamp(r.at)"
        " FROM results_in r WHERE d.id = r.delivery_id";
    tx.exec_params(sql, node);
    tx.exec(
        "INSERT INTO suppressions (email_key, reason, detail, campaign_id)"
        " SELECT DISTINCT ON (lower(r.email)) lower(r.email), 'hard_bounce',"
        " concat_ws(' ', NULLIF(r.smtp_code, 0)::text, NULLIF(r.enhanced, ''), r.reply), "
        "NULLIF(r.campaign_id, 0)"
        " FROM results_in r WHERE r.suppress AND r.email <> ''"
        " ON CONFLICT (email_key) DO NOTHING");
    bool submitted = false;
    for (const AttemptResult& r : results) submitted = submitted || r.campaign_id == 0;
    if (submitted) MarkDsnOwed(tx);
    tx.commit();
    return Status::Ok();
  });
}

Status PgDatabase::ReleaseLeases(const std::string& node, const std::vector<int64_t>& ids) {
  return GiveBack(node, ids, std::nullopt);
}

Status PgDatabase::PostponeLeases(const std::string& node, const std::vector<int64_t>& ids,
                                  TimePoint not_before) {
  return GiveBack(node, ids, not_before);
}

Status PgDatabase::GiveBack(const std::string& node, const std::vector<int64_t>& ids,
                            std::optional<TimePoint> not_before) {
  if (ids.empty()) return Status::Ok();
  return Guard("releasing leases", [&]() -> Status {
    pqxx::work tx(*conn_);
    std::string array = IdArray(ids);
    // Rows of a cancelled campaign become `cancelled` as they come back.
    tx.exec_params(
        "UPDATE deliveries d SET lease_owner = NULL, lease_until = NULL,"
        " next_attempt_at = CASE WHEN $3::float8 IS NULL THEN d.next_attempt_at ELSE "
        "greatest(d.next_attempt_at, to_timestamp($3::float8)) END,"
        " status = CASE WHEN x.cancelled THEN 'cancelled' ELSE d.status END,"
        " finished_at = CASE WHEN x.cancelled THEN now() ELSE d.finished_at END"
        " FROM (" + std::string(kCancelledRows) + " WHERE d2.id = ANY($2::bigint[]) AND"
        " d2.lease_owner = $1) x WHERE d.id = x.id",
        node, array,
        not_before ? std::optional<double>(ToEpoch(*not_before)) : std::optional<double>());
    tx.commit();
    return Status::Ok();
  });
}

Status PgDatabase::RenewLeases(const std::string& node, std::chrono::seconds lease) {
  return Guard("renewing leases", [&]() -> Status {
    pqxx::work tx(*conn_);
    tx.exec_params(
        "UPDATE deliveries SET lease_until = now() + make_interval(secs => $2) WHERE "
        "lease_owner = $1 AND status IN ('pending', 'deferred')",
        node, static_cast<double>(lease.count()));
    tx.commit();
    return Status::Ok();
  });
}

Result<bool> PgDatabase::HasDueWork() {
  return Guard("looking for due work", [&]() -> Result<bool> {
    pqxx::read_transaction tx(*conn_);
    pqxx::result r = tx.exec(
        "SELECT EXISTS (SELECT 1 FROM campaigns c WHERE c.status = 'running' AND EXISTS ("
        "SELECT 1 FROM deliveries d WHERE d.campaign_id = c.id AND d.status IN ('pending', "
        "'deferred') AND d.next_attempt_at <= now() AND (d.lease_until IS NULL OR d.lease_until "
        "< now())))"
        " OR EXISTS (SELECT 1 FROM campaigns WHERE status = 'scheduled' AND scheduled_at <= "
        "now())"
        " OR EXISTS (SELECT 1 FROM deliveries d WHERE d.submission_id IS NOT NULL AND d.status IN"
        " ('pending', 'deferred') AND d.next_attempt_at <= now() AND (d.lease_until IS NULL OR"
        " d.lease_until < now()))"
        " OR EXISTS (SELECT 1 FROM deliveries WHERE dsn_pending IS NOT NULL)");
    return r[0][0].as<bool>();
  });
}

Result<int64_t> PgDatabase::OutstandingDeliveries() {
  return Guard("counting outstanding deliveries", [&]() -> Result<int64_t> {
    pqxx::read_transaction tx(*conn_);
    pqxx::result r = tx.exec(
        "SELECT (SELECT count(*) FROM deliveries d JOIN campaigns c ON c.id = d.campaign_id"
        " WHERE c.status = 'running' AND d.status IN ('pending', 'deferred'))"
        " + (SELECT count(*) FROM deliveries WHERE submission_id IS NOT NULL AND status IN"
        " ('pending', 'deferred'))");
    return r[0][0].as<int64_t>();
  });
}

Result<bool> PgDatabase::TryLockNode(const std::string& node) {
  return Guard("locking the node identity", [&]() -> Result<bool> {
    // Session level (outside a transaction): held as long as the connection.
    pqxx::nontransaction tx(*conn_);
    pqxx::result r =
        tx.exec_params("SELECT pg_try_advisory_lock(7254102, hashtext($1))", node);
    return r[0][0].as<bool>();
  });
}

Result<int64_t> PgDatabase::ReclaimLeases(const std::string& node) {
  return Guard("taking back leases", [&]() -> Result<int64_t> {
    pqxx::work tx(*conn_);
    pqxx::result r = tx.exec_params(
        "UPDATE deliveries d SET lease_owner = NULL, lease_until = NULL,"
        " status = CASE WHEN x.cancelled THEN 'cancelled' ELSE d.status END,"
        " finished_at = CASE WHEN x.cancelled THEN now() ELSE d.finished_at END"
        " FROM (" + std::string(kCancelledRows) + " WHERE d2.lease_owner = $1) x"
        " WHERE d.id = x.id",
        node);
    tx.commit();
    return static_cast<int64_t>(r.affected_rows());
  });
}

Result<Database::LeaseReport> PgDatabase::OtherNodesLeases(const std::string& node) {
  return Guard("counting other nodes' leases", [&]() -> Result<LeaseReport> {
    pqxx::read_transaction tx(*conn_);
    pqxx::result r = tx.exec_params(
        "SELECT count(*), extract(epoch from max(lease_until))::float8 FROM deliveries"
        " WHERE lease_owner IS NOT NULL AND lease_owner <> $1 AND lease_until > now()"
        " AND status IN ('pending', 'deferred')",
        node);
    LeaseReport out;
    out.rows = r[0][0].as<int64_t>();
    out.expires_by = OptTime(r[0][1]);
    return out;
  });
}

Result<std::vector<Database::EgressEvent>> PgDatabase::ActivePathStates() {
  return Guard("reading active path states", [&]() -> Result<std::vector<EgressEvent>> {
    pqxx::read_transaction tx(*conn_);
    pqxx::result r = tx.exec(
        "SELECT source_name, coalesce(source_ip, ''), site, coalesce(domain, ''), action,"
        " coalesce(reply, ''), coalesce(rate, ''), extract(epoch from at)::float8,"
        " extract(epoch from until)::float8 FROM ("
        "  SELECT DISTINCT ON (source_name, site) * FROM egress_events"
        "  WHERE (source_name, site) IN (SELECT source_name, site FROM egress_events"
        "   WHERE until > now())"
        "  ORDER BY source_name, site, at DESC, id DESC) latest"
        " WHERE action IN ('suspended', 'slowed') AND until > now()");
    std::vector<EgressEvent> out;
    for (const auto& row : r) out.push_back(EgressEventFromRow(row));
    return out;
  });
}

Status PgDatabase::RecordEgressEvents(const std::string& node,
                                      const std::vector<EgressEvent>& events) {
  if (events.empty()) return Status::Ok();
  return Guard("recording egress events", [&]() -> Status {
    pqxx::work tx(*conn_);
    for (const EgressEvent& e : events) {
      tx.exec_params(
          "INSERT INTO egress_events (at, node, source_name, source_ip, site, domain, action, "
          "reply, until, rate) VALUES (to_timestamp($1::float8), $2, $3, $4, $5, $6, $7, "
          "NULLIF($8, ''), CASE WHEN $9 = '' THEN NULL ELSE to_timestamp($9::float8) END, "
          "NULLIF($10, ''))",
          EpochText(e.at), node, e.source_name, e.source_ip, e.site, e.domain, e.action, e.reply,
          e.until ? EpochText(*e.until) : std::string(), e.rate);
    }
    tx.commit();
    return Status::Ok();
  });
}

Result<std::vector<std::pair<std::string, int64_t>>> PgDatabase::DeliveredTodayBySource() {
  Result<std::vector<SentCount>> by_site = DeliveredTodayBySourceAndSite();
  if (!by_site.ok()) return by_site.status();
  std::map<std::string, int64_t> totals;
  for (const SentCount& c : *by_site) totals[c.source_ip] += c.count;
  return std::vector<std::pair<std::string, int64_t>>(totals.begin(), totals.end());
}

Result<std::vector<Database::SentCount>> PgDatabase::DeliveredTodayBySourceAndSite() {
  return Guard("counting today's deliveries per source and site",
               [&]() -> Result<std::vector<SentCount>> {
                 pqxx::read_transaction tx(*conn_);
                 pqxx::result r = tx.exec(
                     "SELECT source_ip, coalesce(site, ''), count(*) FROM delivery_events "
                     "WHERE at >= date_trunc('day', now() AT TIME ZONE 'UTC') AT TIME ZONE "
                     "'UTC' AND source_ip IS NOT NULL AND status <> 'failed' "
                     "GROUP BY 1, 2");
                 std::vector<SentCount> out;
                 for (const auto& row : r) {
                   out.push_back({Str(row[0]), Str(row[1]), row[2].as<int64_t>()});
                 }
                 return out;
               });
}

}  // namespace postino::db::internal
