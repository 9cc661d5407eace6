// unsubscribes.cc: the SQL behind one-click and page unsubscribes (http/).
// Both are single statements (one round trip each, autocommit); the record
// is one statement with data-modifying CTEs, so the subscriber update, the
// suppression and the event commit together or not at all.
#include "db/pg_database.h"

namespace postino::db::internal {
namespace {

constexpr const char* kFindTarget = "postino_unsubscribe_find";
constexpr const char* kFindTargetSql =
    "SELECT d.id, d.campaign_id, d.email,"
    "       coalesce(s.attributes->>'language', s.attributes->>'lang',"
    "                s.attributes->>'locale', '') AS language,"
    "       c.name, coalesce(l.name, ''), coalesce(s.status = 'unsubscribed', false)"
    "  FROM deliveries d"
    "  JOIN campaigns c ON c.id = d.campaign_id"
    "  LEFT JOIN lists l ON l.id = c.list_id"
    "  LEFT JOIN subscribers s ON s.id = d.subscriber_id"
    " WHERE d.id = $1 AND d.campaign_id = $2";

// The UPDATE's WHERE makes concurrent requests for one subscriber record
// once: the second waits for the first's row lock, then sees `unsubscribed`
// and updates nothing, so its inserts select no rows.
constexpr const char* kRecord = "postino_unsubscribe_record";
constexpr const char* kRecordSql =
    "WITH d AS ("
    "  SELECT id, campaign_id, subscriber_id, email, attempts, message_id FROM deliveries"
    "   WHERE id = $1 AND campaign_id = $2),"
    " s AS ("
    "  UPDATE subscribers SET status = 'unsubscribed', updated_at = now() FROM d"
    "   WHERE subscribers.id = d.subscriber_id AND subscribers.status <> 'unsubscribed'"
    "  RETURNING subscribers.id),"
    " sup AS ("
    "  INSERT INTO suppressions (email_key, reason, detail, campaign_id)"
    "  SELECT lower(d.email), 'unsubscribe', $4, d.campaign_id FROM d, s"
    "  ON CONFLICT (email_key) DO NOTHING RETURNING 1),"
    " ev AS ("
    "  INSERT INTO delivery_events (delivery_id, campaign_id, attempt, status, phase, reply,"
    "                               message_id, node)"
    "  SELECT d.id, d.campaign_id, d.attempts, 'unsubscribed', 'http', $4, d.message_id, $3"
    "    FROM d, s RETURNING 1)"
    " SELECT (SELECT count(*) FROM s), (SELECT count(*) FROM ev), (SELECT count(*) FROM sup)";

}  // namespace

Result<std::optional<UnsubscribeTarget>> PgDatabase::FindUnsubscribeTarget(int64_t campaign_id,
                                                                           int64_t delivery_id) {
  return Guard("looking up an unsubscribe token", [&]() -> Result<std::optional<UnsubscribeTarget>> {
    conn_->prepare(kFindTarget, kFindTargetSql);
    pqxx::nontransaction tx(*conn_);
    pqxx::result r = tx.exec_prepared(kFindTarget, delivery_id, campaign_id);
    if (r.empty()) return std::optional<UnsubscribeTarget>();
    UnsubscribeTarget t;
    t.delivery_id = r[0][0].as<int64_t>();
    t.campaign_id = r[0][1].as<int64_t>();
    t.email = Str(r[0][2]);
    t.language = Str(r[0][3]);
    t.campaign_name = Str(r[0][4]);
    t.list_name = Str(r[0][5]);
    t.unsubscribed = r[0][6].as<bool>();
    return std::optional<UnsubscribeTarget>(std::move(t));
  });
}

Result<bool> PgDatabase::RecordUnsubscribe(const UnsubscribeRecord& u) {
  return Guard("recording an unsubscribe", [&]() -> Result<bool> {
    conn_->prepare(kRecord, kRecordSql);
    pqxx::nontransaction tx(*conn_);
    pqxx::result r = tx.exec_prepared(kRecord, u.delivery_id, u.campaign_id, u.node, u.method);
    return !r.empty() && r[0][0].as<int64_t>() > 0;
  });
}

}  // namespace postino::db::internal
