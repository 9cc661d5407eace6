// queue.cc: queue control for operators without SQL (`postino queue ls |
// retry-now | hold | release`, `postino sources resume`): counts of what is
// still to send per campaign and domain, making deferred recipients due
// now, holding and releasing recipients, and lifting egress path states.
#include <pqxx/pqxx>

#include "common/host_pattern.h"
#include "db/pg_database.h"

namespace postino::db::internal {
namespace {

// The WHERE part shared by every queue statement: rows still to send of the
// filter's campaign ($1, "" = any) and domain ($2, "" = any).
constexpr const char* kQueueRows =
    " d.status IN ('pending', 'deferred')"
    " AND ($1 = '' OR d.campaign_id = (SELECT id FROM campaigns WHERE name = $1))"
    " AND ($2 = '' OR d.domain = lower($2))";

constexpr const char* kNotLeased = " (d.lease_until IS NULL OR d.lease_until < now())";

}  // namespace

Result<std::vector<Database::QueueRow>> PgDatabase::QueueSummary(const QueueFilter& f) {
  return Guard("reading the queue", [&]() -> Result<std::vector<QueueRow>> {
    pqxx::read_transaction tx(*conn_);
    const std::string not_leased = kNotLeased;
    pqxx::result r = tx.exec_params(
        "SELECT coalesce(c.name, ''), coalesce(c.status, ''), d.domain,"
        " count(*) FILTER (WHERE d.next_attempt_at <= now() AND" + not_leased + "),"
        " count(*) FILTER (WHERE d.next_attempt_at > now() AND d.next_attempt_at <> 'infinity'"
        "  AND" + not_leased + "),"
        " count(*) FILTER (WHERE d.status = 'deferred'),"
        " count(*) FILTER (WHERE d.next_attempt_at = 'infinity' AND" + not_leased + "),"
        " count(*) FILTER (WHERE d.lease_until >= now()),"
        " extract(epoch FROM min(d.next_attempt_at) FILTER ("
        "  WHERE d.next_attempt_at <> 'infinity'))::float8,"
        // The reply once: "451 4.2.1 text", whether or not the stored text
        // starts with the enhanced code already.
        " (array_agg(CASE WHEN d.last_reply ~ '^[0-9]{3}[ -]' THEN d.last_reply"
        "   WHEN d.last_enhanced <> '' AND position(d.last_enhanced in d.last_reply) = 1"
        "   THEN concat_ws(' ', d.last_code::text, d.last_reply)"
        "   ELSE concat_ws(' ', d.last_code::text, d.last_enhanced, d.last_reply) END"
        "   ORDER BY d.last_attempt_at DESC) FILTER (WHERE d.last_attempt_at IS NOT NULL))[1],"
        " extract(epoch FROM max(d.last_attempt_at))::float8"
        " FROM deliveries d LEFT JOIN campaigns c ON c.id = d.campaign_id"
        " WHERE" + std::string(kQueueRows) +
        " GROUP BY 1, 2, 3 ORDER BY 1, 3",
        f.campaign, f.domain);
    std::vector<QueueRow> out;
    out.reserve(r.size());
    for (const auto& row : r) {
      QueueRow q;
      q.campaign = Str(row[0]);
      q.campaign_status = Str(row[1]);
      q.domain = Str(row[2]);
      q.due = row[3].as<int64_t>();
      q.waiting = row[4].as<int64_t>();
      q.deferred = row[5].as<int64_t>();
      q.held = row[6].as<int64_t>();
      q.in_flight = row[7].as<int64_t>();
      q.next_attempt = OptTime(row[8]);
      q.last_reply = Str(row[9]);
      q.last_attempt = OptTime(row[10]);
      out.push_back(std::move(q));
    }
    return out;
  });
}

Result<int64_t> PgDatabase::RetryNow(const QueueFilter& f) {
  return Guard("making recipients due now", [&]() -> Result<int64_t> {
    pqxx::work tx(*conn_);
    pqxx::result r = tx.exec_params(
        "UPDATE deliveries d SET next_attempt_at = now() WHERE" + std::string(kQueueRows) +
            " AND d.next_attempt_at > now() AND d.next_attempt_at <> 'infinity' AND" +
            kNotLeased,
        f.campaign, f.domain);
    tx.commit();
    return static_cast<int64_t>(r.affected_rows());
  });
}

Result<int64_t> PgDatabase::HoldQueue(const QueueFilter& f, int64_t* leased) {
  return Guard("holding recipients", [&]() -> Result<int64_t> {
    pqxx::work tx(*conn_);
    pqxx::result r = tx.exec_params(
        "UPDATE deliveries d SET next_attempt_at = 'infinity' WHERE" + std::string(kQueueRows) +
            " AND d.next_attempt_at <> 'infinity' AND" + kNotLeased,
        f.campaign, f.domain);
    pqxx::result busy = tx.exec_params(
        "SELECT count(*) FROM deliveries d WHERE" + std::string(kQueueRows) +
            " AND d.lease_until >= now()",
        f.campaign, f.domain);
    tx.commit();
    if (leased != nullptr) *leased = busy[0][0].as<int64_t>();
    return static_cast<int64_t>(r.affected_rows());
  });
}

Result<int64_t> PgDatabase::ReleaseQueue(const QueueFilter& f) {
  return Guard("releasing held recipients", [&]() -> Result<int64_t> {
    pqxx::work tx(*conn_);
    pqxx::result r = tx.exec_params(
        "UPDATE deliveries d SET next_attempt_at = now() WHERE" + std::string(kQueueRows) +
            " AND d.next_attempt_at = 'infinity'",
        f.campaign, f.domain);
    tx.commit();
    return static_cast<int64_t>(r.affected_rows());
  });
}

Result<bool> PgDatabase::CampaignExists(const std::string& name) {
  return Guard("looking up the campaign", [&]() -> Result<bool> {
    pqxx::read_transaction tx(*conn_);
    pqxx::result r = tx.exec_params("SELECT 1 FROM campaigns WHERE name = $1", name);
    return !r.empty();
  });
}

Result<std::vector<Database::EgressEvent>> PgDatabase::ResumePaths(
    const std::string& node, const std::string& source_name, const std::string& site_pattern) {
  Result<std::vector<EgressEvent>> active = ActivePathStates();
  if (!active.ok()) return active.status();
  std::vector<EgressEvent> lifted;
  for (const EgressEvent& e : *active) {
    if (e.source_name != source_name) continue;
    if (!site_pattern.empty() && !SiteMatches(site_pattern, e.site)) continue;
    lifted.push_back(e);
  }
  if (lifted.empty()) return lifted;
  return Guard("recording the resume", [&]() -> Result<std::vector<EgressEvent>> {
    pqxx::work tx(*conn_);
    for (const EgressEvent& e : lifted) {
      tx.exec_params(
          "INSERT INTO egress_events (node, source_name, source_ip, site, domain, action, reply)"
          " VALUES ($1, $2, $3, $4, $5, 'resumed', $6)",
          node, e.source_name, e.source_ip, e.site, e.domain,
          "lifted by the operator (postino sources resume); was " + e.action);
    }
    tx.commit();
    return lifted;
  });
}

Result<std::vector<Database::EgressEvent>> PgDatabase::OperatorResumes(TimePoint since) {
  return Guard("reading operator resumes", [&]() -> Result<std::vector<EgressEvent>> {
    pqxx::read_transaction tx(*conn_);
    pqxx::result r = tx.exec_params(
        "SELECT source_name, source_ip, site, domain, extract(epoch FROM at)::float8"
        " FROM egress_events WHERE node = $1 AND action = 'resumed'"
        " AND at > to_timestamp($2::float8) ORDER BY at, id",
        std::string(kOperatorNode), EpochText(since));
    std::vector<EgressEvent> out;
    for (const auto& row : r) {
      EgressEvent e;
      e.source_name = Str(row[0]);
      e.source_ip = Str(row[1]);
      e.site = Str(row[2]);
      e.domain = Str(row[3]);
      e.action = "resumed";
      e.at = FromEpoch(row[4].as<double>());
      out.push_back(std::move(e));
    }
    return out;
  });
}

}  // namespace postino::db::internal
