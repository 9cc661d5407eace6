// partitions.cc: PgDatabase (see pg_database.h), part four: the monthly
// partitions of delivery_events (migration 7) — creating them ahead, listing
// them, and retention (`postino db prune`), which drops whole months.
// Every libpqxx exception is caught here and turned into a Status.
#include <pqxx/pqxx>

#include "db/database.h"
#include "db/pg_database.h"

namespace postino::db::internal {

namespace {

// Partitions of delivery_events with their bounds, read from the catalog
// (the bound text carries its UTC offset, so the session time zone does not
// matter). Columns: name, is_default, from, to (epoch; NULL for the default
// or a bound that is not a plain range), estimated rows (-1: never
// analyzed), bytes.
constexpr const char* kPartitionsSql =
    "SELECT c.relname, p.partstrat IS NULL AND pg_get_expr(c.relpartbound, c.oid) = 'DEFAULT',"
    " extract(epoch FROM b.m[1]::timestamptz)::float8, extract(epoch FROM b.m[2]::timestamptz)::float8,"
    " c.reltuples::bigint, pg_total_relation_size(c.oid)"
    " FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid"
    " LEFT JOIN pg_partitioned_table p ON p.partrelid = c.oid"
    " CROSS JOIN LATERAL (SELECT regexp_match(pg_get_expr(c.relpartbound, c.oid),"
    "  'FROM \\(''([^'']+)''\\) TO \\(''([^'']+)''\\)') AS m) b"
    " WHERE i.inhparent = 'delivery_events'::regclass"
    " ORDER BY 3 NULLS FIRST, 1";

std::vector<Database::EventPartition> ReadPartitions(pqxx::transaction_base& tx) {
  std::vector<Database::EventPartition> out;
  for (const auto& row : tx.exec(kPartitionsSql)) {
    Database::EventPartition p;
    p.name = Str(row[0]);
    p.is_default = row[1].as<bool>();
    if (!row[2].is_null()) p.from = FromEpoch(row[2].as<double>());
    if (!row[3].is_null()) p.to = FromEpoch(row[3].as<double>());
    p.rows = row[4].as<int64_t>();
    p.bytes = row[5].as<int64_t>();
    out.push_back(std::move(p));
  }
  return out;
}

}  // namespace

Result<std::vector<std::string>> PgDatabase::EnsureEventPartitions(int months_ahead) {
  return Guard("creating delivery_events partitions", [&]() -> Result<std::vector<std::string>> {
    pqxx::work tx(*conn_);
    // Waiting behind a long report for the default partition's lock is
    // better given up and retried at the next housekeeping than blocking.
    tx.exec("SET LOCAL lock_timeout = '10s'");
    pqxx::result r =
        tx.exec_params("SELECT * FROM postino_ensure_event_partitions($1)", months_ahead);
    tx.commit();
    std::vector<std::string> created;
    for (const auto& row : r) created.push_back(Str(row[0]));
    return created;
  });
}

Result<std::vector<Database::EventPartition>> PgDatabase::EventPartitions() {
  return Guard("listing delivery_events partitions",
               [&]() -> Result<std::vector<EventPartition>> {
                 pqxx::read_transaction tx(*conn_);
                 return ReadPartitions(tx);
               });
}

Result<Database::PruneReport> PgDatabase::PruneEvents(TimePoint cutoff, bool dry_run) {
  return Guard("pruning delivery_events", [&]() -> Result<PruneReport> {
    pqxx::work tx(*conn_);
    const std::string cut = EpochText(cutoff);
    pqxx::result month = tx.exec_params(
        "SELECT to_timestamp($1::float8) > date_trunc('month', now() AT TIME ZONE 'UTC') AT TIME "
        "ZONE 'UTC', to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM'),"
        " to_char(to_timestamp($1::float8) AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS')",
        cut);
    if (month[0][0].as<bool>()) {
      return Status::InvalidArgument(fmt::format(
          "the cutoff {} UTC is inside the current month ({}): its partition is never dropped; "
          "keep at least everything since the start of this month",
          Str(month[0][2]), Str(month[0][1])));
    }
    PruneReport report;
    // Dropping a partition locks delivery_events briefly; do not queue
    // behind a long-running query for ever.
    tx.exec("SET LOCAL lock_timeout = '30s'");
    for (EventPartition& p : ReadPartitions(tx)) {
      if (p.is_default || p.to == TimePoint{} || p.to > cutoff) continue;
      if (!dry_run) tx.exec("DROP TABLE " + tx.quote_name(p.name));
      report.dropped.push_back(std::move(p));
    }
    const char* verb = dry_run ? "SELECT count(*) FROM" : "WITH gone AS (DELETE FROM";
    const char* tail = dry_run ? "" : " RETURNING 1) SELECT count(*) FROM gone";
    report.default_rows =
        tx.exec_params(fmt::format("{} delivery_events_default WHERE at < to_timestamp($1::float8){}",
                                   verb, tail),
                       cut)[0][0]
            .as<int64_t>();
    for (const char* rollup : {"delivery_minutes WHERE minute", "delivery_hours WHERE hour"}) {
      report.minute_rows +=
          tx.exec_params(
                fmt::format("{} {} < to_timestamp($1::float8){}", verb, rollup, tail), cut)[0][0]
              .as<int64_t>();
    }
    if (dry_run) {
      tx.abort();
    } else {
      tx.commit();
    }
    return report;
  });
}

}  // namespace postino::db::internal
