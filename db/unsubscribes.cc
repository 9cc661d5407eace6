// unsubscribes.cc: the SQL behind one-click and page unsubscribes (http/).
// Requests come in batches (http/batcher.h groups concurrent ones): one
// statement looks up every token of a batch, one statement records every
// unsubscribe of a batch. The record is one statement with data-modifying
// CTEs, so the subscriber updates, the suppressions and the events commit
// together or not at all, and the statement-level triggers that keep the
// analysts' counts run once per batch.
#include <unordered_map>

#include "db/pg_database.h"

namespace postino::db::internal {
namespace {

// k.i is the key's position in the batch (1-based): a token asked twice gets
// its answer twice.
constexpr const char* kFindTargets = "postino_unsubscribe_find_batch";
constexpr const char* kFindTargetsSql =
    "SELECT k.i, d.id, d.campaign_id, d.email,"
    "       coalesce(s.attributes->>'language', s.attributes->>'lang',"
    "                s.attributes->>'locale', '') AS language,"
    "       c.name, coalesce(l.name, ''), coalesce(s.status = 'unsubscribed', false)"
    "  FROM unnest($1::bigint[], $2::bigint[]) WITH ORDINALITY AS k(delivery_id, campaign_id, i)"
    "  JOIN deliveries d ON d.id = k.delivery_id AND d.campaign_id = k.campaign_id"
    "  JOIN campaigns c ON c.id = d.campaign_id"
    "  LEFT JOIN lists l ON l.id = c.list_id"
    "  LEFT JOIN subscribers s ON s.id = d.subscriber_id";

// One row per subscriber (its first record in the batch). The UPDATE's WHERE
// makes concurrent batches for one subscriber record once: the second waits
// for the first's row lock, then sees `unsubscribed` and updates nothing, so
// its inserts select no rows. Returns the delivery ids recorded.
constexpr const char* kRecord = "postino_unsubscribe_record_batch";
constexpr const char* kRecordSql =
    "WITH d AS ("
    "  SELECT DISTINCT ON (dl.subscriber_id) dl.id, dl.campaign_id, dl.subscriber_id, dl.email,"
    "         dl.attempts, dl.message_id, k.node, k.method"
    "    FROM unnest($1::bigint[], $2::bigint[], $3::text[], $4::text[]) WITH ORDINALITY"
    "         AS k(delivery_id, campaign_id, node, method, i)"
    "    JOIN deliveries dl ON dl.id = k.delivery_id AND dl.campaign_id = k.campaign_id"
    "   WHERE dl.subscriber_id IS NOT NULL"
    "   ORDER BY dl.subscriber_id, k.i),"
    " s AS ("
    "  UPDATE subscribers SET status = 'unsubscribed', updated_at = now() FROM d"
    "   WHERE subscribers.id = d.subscriber_id AND subscribers.status <> 'unsubscribed'"
    "  RETURNING d.id, d.campaign_id, d.email, d.attempts, d.message_id, d.node, d.method),"
    " sup AS ("
    "  INSERT INTO suppressions (email_key, reason, detail, campaign_id)"
    "  SELECT lower(s.email), 'unsubscribe', s.method, s.campaign_id FROM s"
    "  ON CONFLICT (email_key) DO NOTHING),"
    " ev AS ("
    "  INSERT INTO delivery_events (delivery_id, campaign_id, attempt, status, phase, reply,"
    "                               message_id, node)"
    "  SELECT s.id, s.campaign_id, s.attempts, 'unsubscribed', 'http', s.method, s.message_id,"
    "         s.node"
    "    FROM s RETURNING delivery_id)"
    " SELECT delivery_id FROM ev";

}  // namespace

Result<std::vector<std::optional<UnsubscribeTarget>>> PgDatabase::FindUnsubscribeTargets(
    const std::vector<UnsubscribeKey>& keys) {
  using Out = std::vector<std::optional<UnsubscribeTarget>>;
  if (keys.empty()) return Out();
  return Guard("looking up unsubscribe tokens", [&]() -> Result<Out> {
    std::vector<int64_t> deliveries, campaigns;
    deliveries.reserve(keys.size());
    campaigns.reserve(keys.size());
    for (const UnsubscribeKey& k : keys) {
      deliveries.push_back(k.delivery_id);
      campaigns.push_back(k.campaign_id);
    }
    conn_->prepare(kFindTargets, kFindTargetsSql);
    pqxx::nontransaction tx(*conn_);
    pqxx::result r = tx.exec_prepared(kFindTargets, IdArray(deliveries), IdArray(campaigns));
    Out out(keys.size());
    for (const auto& row : r) {
      int64_t i = row[0].as<int64_t>();
      if (i < 1 || static_cast<size_t>(i) > keys.size()) continue;
      UnsubscribeTarget t;
      t.delivery_id = row[1].as<int64_t>();
      t.campaign_id = row[2].as<int64_t>();
      t.email = Str(row[3]);
      t.language = Str(row[4]);
      t.campaign_name = Str(row[5]);
      t.list_name = Str(row[6]);
      t.unsubscribed = row[7].as<bool>();
      out[static_cast<size_t>(i - 1)] = std::move(t);
    }
    return out;
  });
}

Result<std::vector<bool>> PgDatabase::RecordUnsubscribes(
    const std::vector<UnsubscribeRecord>& records) {
  if (records.empty()) return std::vector<bool>();
  return Guard("recording unsubscribes", [&]() -> Result<std::vector<bool>> {
    std::vector<int64_t> deliveries, campaigns;
    std::vector<std::string> nodes, methods;
    for (const UnsubscribeRecord& u : records) {
      deliveries.push_back(u.delivery_id);
      campaigns.push_back(u.campaign_id);
      nodes.push_back(u.node);
      methods.push_back(u.method);
    }
    conn_->prepare(kRecord, kRecordSql);
    pqxx::nontransaction tx(*conn_);
    pqxx::result r = tx.exec_prepared(kRecord, IdArray(deliveries), IdArray(campaigns),
                                      TextArray(nodes), TextArray(methods));
    std::unordered_map<int64_t, bool> recorded;  // delivery id -> not yet reported
    for (const auto& row : r) recorded[row[0].as<int64_t>()] = true;
    std::vector<bool> out(records.size(), false);
    for (size_t i = 0; i < records.size(); ++i) {
      auto it = recorded.find(records[i].delivery_id);
      if (it != recorded.end() && it->second) {
        out[i] = true;
        it->second = false;  // the same delivery twice in one batch is recorded once
      }
    }
    return out;
  });
}

Status PgDatabase::PreferGenericPlans() {
  return Guard("setting plan_cache_mode", [&]() -> Status {
    conn_->set_variable("plan_cache_mode", "force_generic_plan");
    return Status::Ok();
  });
}

}  // namespace postino::db::internal
