// reports.cc: PgDatabase (see pg_database.h), the read-only queries behind
// `campaign plan` (recipients per domain still to send), the honest ETA of
// `campaign status` (what is due, what waits and until when) and the HTML
// report (results over time, deferral reasons, egress events). Every
// libpqxx exception is caught here and turned into a Status.
#include <fmt/format.h>

#include <pqxx/pqxx>

#include "db/database.h"
#include "db/pg_database.h"

namespace postino::db::internal {

Result<std::vector<Database::DomainRecipients>> PgDatabase::RemainingByDomain(
    const CampaignRow& c) {
  return Guard("counting recipients per domain", [&]() -> Result<std::vector<DomainRecipients>> {
    pqxx::read_transaction tx(*conn_);
    pqxx::result r;
    if (c.status == "draft") {
      r = tx.exec_params(
          "SELECT s.domain, count(*) FROM list_members m JOIN subscribers s ON s.id = "
          "m.subscriber_id WHERE m.list_id = $1 AND s.status = 'active' AND NOT EXISTS (SELECT 1 "
          "FROM suppressions sp WHERE sp.email_key = s.email_key) GROUP BY 1 ORDER BY 2 DESC, 1",
          c.list_id);
    } else {
      r = tx.exec_params(
          "SELECT domain, count(*) FROM deliveries WHERE campaign_id = $1 AND status IN "
          "('pending', 'deferred') GROUP BY 1 ORDER BY 2 DESC, 1",
          c.id);
    }
    std::vector<DomainRecipients> out;
    out.reserve(r.size());
    for (const auto& row : r) out.push_back({Str(row[0]), row[1].as<int64_t>()});
    return out;
  });
}

Result<Database::WaitInfo> PgDatabase::CampaignWaits(int64_t campaign_id) {
  return Guard("reading what the campaign waits for", [&]() -> Result<WaitInfo> {
    pqxx::read_transaction tx(*conn_);
    pqxx::result r = tx.exec_params(
        "SELECT count(*) FILTER (WHERE next_attempt_at <= now() AND (lease_until IS NULL OR "
        "lease_until < now())), count(*) FILTER (WHERE next_attempt_at > now() AND (lease_until "
        "IS NULL OR lease_until < now())), extract(epoch from min(next_attempt_at) FILTER (WHERE "
        "next_attempt_at > now() AND (lease_until IS NULL OR lease_until < now())))::float8, "
        "count(*) FILTER (WHERE lease_until >= now()), extract(epoch from max(next_attempt_at) "
        "FILTER (WHERE next_attempt_at > now()))::float8 FROM deliveries WHERE campaign_id = $1 AND "
        "status IN ('pending', 'deferred')",
        campaign_id);
    WaitInfo w;
    w.due_now = r[0][0].as<int64_t>();
    w.waiting = r[0][1].as<int64_t>();
    w.next_attempt_at = OptTime(r[0][2]);
    w.leased = r[0][3].as<int64_t>();
    w.last_attempt_at = OptTime(r[0][4]);
    // Final results over the last five minutes (or since the start, when
    // more recent), per second.
    pqxx::result rate = tx.exec_params(
        "SELECT count(*)::float8 / greatest(1, extract(epoch from now() - greatest(now() - "
        "interval '5 minutes', coalesce(c.started_at, now()))))::float8 FROM campaigns c LEFT "
        "JOIN delivery_events e ON e.campaign_id = c.id AND e.at > now() - interval '5 minutes' "
        "AND e.status IN ('delivered', 'bounced', 'expired', 'failed') WHERE c.id = $1 "
        "GROUP BY c.started_at",
        campaign_id);
    if (!rate.empty()) w.recent_rate = rate[0][0].as<double>();
    return w;
  });
}

Result<std::vector<Database::TimelinePoint>> PgDatabase::CampaignTimeline(int64_t campaign_id,
                                                                         int bucket_seconds) {
  return Guard("reading the campaign's timeline", [&]() -> Result<std::vector<TimelinePoint>> {
    pqxx::read_transaction tx(*conn_);
    pqxx::result r = tx.exec_params(
        "SELECT floor(extract(epoch from at) / $2) * $2 AS b, count(*) FILTER (WHERE status = "
        "'delivered'), count(*) FILTER (WHERE status IN ('deferred', 'soft_bounced')), count(*) "
        "FILTER (WHERE status = 'bounced'), count(*) FILTER (WHERE status NOT IN ('delivered', "
        "'deferred', 'soft_bounced', 'bounced')) FROM delivery_events WHERE campaign_id = $1 "
        "GROUP BY 1 ORDER BY 1",
        campaign_id, bucket_seconds < 1 ? 1 : bucket_seconds);
    std::vector<TimelinePoint> out;
    out.reserve(r.size());
    for (const auto& row : r) {
      out.push_back({FromEpoch(row[0].as<double>()), row[1].as<int64_t>(), row[2].as<int64_t>(),
                     row[3].as<int64_t>(), row[4].as<int64_t>()});
    }
    return out;
  });
}

Result<std::optional<std::pair<TimePoint, TimePoint>>> PgDatabase::CampaignEventSpan(
    int64_t campaign_id) {
  using Span = std::optional<std::pair<TimePoint, TimePoint>>;
  return Guard("reading the campaign's time span", [&]() -> Result<Span> {
    pqxx::read_transaction tx(*conn_);
    pqxx::result r = tx.exec_params(
        "SELECT extract(epoch from min(at))::float8, extract(epoch from max(at))::float8 FROM "
        "delivery_events WHERE campaign_id = $1",
        campaign_id);
    if (r[0][0].is_null()) return Span();
    return Span(std::make_pair(FromEpoch(r[0][0].as<double>()), FromEpoch(r[0][1].as<double>())));
  });
}

Result<std::vector<Database::ReasonCount>> PgDatabase::DeferralReasons(int64_t campaign_id,
                                                                       int limit) {
  return Guard("reading deferral reasons", [&]() -> Result<std::vector<ReasonCount>> {
    pqxx::read_transaction tx(*conn_);
    pqxx::result r = tx.exec_params(
        "SELECT status, coalesce(smtp_code, 0), coalesce(enhanced_code, ''), "
        "postino_reply_key(reply), count(*) FROM delivery_events WHERE campaign_id = $1 AND "
        "status IN ('deferred', 'soft_bounced') GROUP BY 1, 2, 3, 4 ORDER BY 5 DESC, 4 LIMIT $2",
        campaign_id, limit);
    std::vector<ReasonCount> out;
    for (const auto& row : r) {
      out.push_back(
          {Str(row[0]), row[1].as<int>(), Str(row[2]), Str(row[3]), row[4].as<int64_t>()});
    }
    return out;
  });
}

Result<std::vector<Database::EgressEvent>> PgDatabase::EgressEventsBetween(TimePoint from,
                                                                          TimePoint to,
                                                                          int limit) {
  return Guard("reading egress events", [&]() -> Result<std::vector<EgressEvent>> {
    pqxx::read_transaction tx(*conn_);
    pqxx::result r = tx.exec_params(
        "SELECT source_name, source_ip, site, domain, action, coalesce(reply, ''), coalesce(rate, "
        "''), extract(epoch from at)::float8, extract(epoch from until)::float8 FROM "
        "egress_events WHERE (at BETWEEN to_timestamp($1::float8) AND to_timestamp($2::float8)) "
        "OR (at < to_timestamp($1::float8) AND until > to_timestamp($1::float8)) "
        "ORDER BY at, id LIMIT $3",
        EpochText(from), EpochText(to), limit);
    std::vector<EgressEvent> out;
    for (const auto& row : r) out.push_back(EgressEventFromRow(row));
    return out;
  });
}

}  // namespace postino::db::internal
