// campaigns.cc: PgDatabase (see pg_database.h), part two: creating, reading
// and launching campaigns, their status changes (pause, resume, cancel,
// start when due, finish), progress and per-domain counts, and the read-only
// report queries. Every libpqxx exception is caught here and turned into a
// Status.
#include <fmt/format.h>

#include <pqxx/pqxx>

#include "db/database.h"
#include "db/pg_database.h"

namespace postino::db::internal {
namespace {

constexpr const char* kCampaignColumns = R"SQL(
  c.id, c.name, c.status, l.name, t.name, c.list_id, c.template_id, c.from_name, c.from_address,
  coalesce(c.reply_to, ''), c.pool, c.settings::text, extract(epoch from c.max_age)::float8,
  extract(epoch from c.scheduled_at)::float8, extract(epoch from c.launched_at)::float8,
  extract(epoch from c.started_at)::float8, extract(epoch from c.finished_at)::float8
  FROM campaigns c JOIN lists l ON l.id = c.list_id JOIN templates t ON t.id = c.template_id
)SQL";

CampaignRow ReadCampaign(const pqxx::row& r) {
  CampaignRow c;
  c.id = r[0].as<int64_t>();
  c.name = Str(r[1]);
  c.status = Str(r[2]);
  c.list_name = Str(r[3]);
  c.template_name = Str(r[4]);
  c.list_id = r[5].as<int64_t>();
  c.template_id = r[6].as<int64_t>();
  c.from_name = Str(r[7]);
  c.from_address = Str(r[8]);
  c.reply_to = Str(r[9]);
  c.pool = Str(r[10]);
  c.settings_json = Str(r[11]);
  c.max_age = std::chrono::seconds(static_cast<int64_t>(r[12].as<double>()));
  c.scheduled_at = OptTime(r[13]);
  c.launched_at = OptTime(r[14]);
  c.started_at = OptTime(r[15]);
  c.finished_at = OptTime(r[16]);
  return c;
}

}  // namespace

Status PgDatabase::CreateCampaign(const CampaignSpec& s) {
  return Guard("creating the campaign", [&]() -> Status {
    pqxx::work tx(*conn_);
    pqxx::result l = tx.exec_params("SELECT id FROM lists WHERE name = $1", s.list);
    if (l.empty()) {
      return Status::NotFound(fmt::format(
          "no list named \"{}\"; import one with `postino list import {} FILE.csv`", s.list,
          s.list));
    }
    pqxx::result t = tx.exec_params("SELECT id FROM templates WHERE name = $1", s.template_name);
    if (t.empty()) {
      return Status::NotFound(fmt::format(
          "no template named \"{}\"; add one with `postino template add`", s.template_name));
    }
    pqxx::result c = tx.exec_params(
        "INSERT INTO campaigns (name, list_id, template_id, from_name, from_address, reply_to, "
        "pool, scheduled_at, max_age, settings) VALUES ($1, $2, $3, $4, $5, NULLIF($6, ''), $7, "
        "CASE WHEN $8 = '' THEN NULL ELSE to_timestamp($8::float8) END, "
        "coalesce(NULLIF($9, '')::interval, interval '3 days'), coalesce(NULLIF($10, ''), "
        "'{}')::jsonb) ON CONFLICT (name) DO NOTHING RETURNING id",
        s.name, l[0][0].as<int64_t>(), t[0][0].as<int64_t>(), s.from_name, s.from_address,
        s.reply_to, s.pool, s.scheduled_at ? EpochText(*s.scheduled_at) : std::string(),
        s.max_age, s.settings_json);
    if (c.empty()) {
      return Status::AlreadyExists(fmt::format("a campaign named \"{}\" already exists", s.name));
    }
    tx.commit();
    return Status::Ok();
  });
}

Result<CampaignRow> PgDatabase::GetCampaign(const std::string& name) {
  return Guard("reading the campaign", [&]() -> Result<CampaignRow> {
    pqxx::read_transaction tx(*conn_);
    pqxx::result r =
        tx.exec_params(std::string("SELECT ") + kCampaignColumns + " WHERE c.name = $1", name);
    if (r.empty()) return Status::NotFound(fmt::format("no campaign named \"{}\"", name));
    return ReadCampaign(r[0]);
  });
}

Result<CampaignRow> PgDatabase::GetCampaignById(int64_t id) {
  return Guard("reading the campaign", [&]() -> Result<CampaignRow> {
    pqxx::read_transaction tx(*conn_);
    pqxx::result r =
        tx.exec_params(std::string("SELECT ") + kCampaignColumns + " WHERE c.id = $1", id);
    if (r.empty()) return Status::NotFound(fmt::format("no campaign with id {}", id));
    return ReadCampaign(r[0]);
  });
}

Result<LaunchResult> PgDatabase::LaunchCampaign(const std::string& name) {
  return Guard("launching the campaign", [&]() -> Result<LaunchResult> {
    pqxx::work tx(*conn_);
    pqxx::result c = tx.exec_params(
        "SELECT c.id, c.status, c.list_id, c.scheduled_at > now(), "
        "(SELECT count(*) FROM list_members m WHERE m.list_id = c.list_id) "
        "FROM campaigns c WHERE c.name = $1 FOR UPDATE",
        name);
    if (c.empty()) return Status::NotFound(fmt::format("no campaign named \"{}\"", name));
    std::string status = Str(c[0][1]);
    if (status != "draft") {
      return Status::FailedPrecondition(fmt::format(
          "campaign \"{}\" is {}; only a draft campaign can be launched{}", name, status,
          status == "paused" ? " (use `postino campaign resume`)" : ""));
    }
    if (c[0][4].as<int64_t>() == 0) {
      return Status::FailedPrecondition(
          fmt::format("campaign \"{}\": its list has no members; nothing to send", name));
    }
    int64_t id = c[0][0].as<int64_t>();
    bool later = !c[0][3].is_null() && c[0][3].as<bool>();
    // One set-based statement creates every delivery; suppressed or
    // inactive subscribers are recorded as `suppressed` straight away.
    pqxx::result ins = tx.exec_params(
        "WITH ins AS ("
        " INSERT INTO deliveries (campaign_id, subscriber_id, email, domain, next_attempt_at, "
        "status, finished_at)"
        " SELECT $1, s.id, s.email, s.domain,"
        "  greatest(now(), (SELECT scheduled_at FROM campaigns WHERE id = $1)),"
        "  CASE WHEN s.status <> 'active' OR sp.email_key IS NOT NULL THEN 'suppressed' ELSE "
        "'pending' END,"
        "  CASE WHEN s.status <> 'active' OR sp.email_key IS NOT NULL THEN now() END"
        " FROM list_members m JOIN subscribers s ON s.id = m.subscriber_id"
        " LEFT JOIN suppressions sp ON sp.email_key = s.email_key"
        " WHERE m.list_id = $2 ORDER BY s.id"
        " ON CONFLICT (campaign_id, subscriber_id) DO NOTHING RETURNING status)"
        " SELECT count(*), count(*) FILTER (WHERE status = 'suppressed') FROM ins",
        id, c[0][2].as<int64_t>());
    std::string new_status = later ? "scheduled" : "running";
    tx.exec_params(
        "UPDATE campaigns SET status = $2, launched_at = now(), started_at = CASE WHEN $2 = "
        "'running' THEN now() END, updated_at = now() WHERE id = $1",
        id, new_status);
    tx.commit();
    return LaunchResult{ins[0][0].as<int64_t>(), ins[0][1].as<int64_t>(), new_status};
  });
}

Status PgDatabase::Transition(const std::string& name, const std::vector<std::string>& from,
                              const std::string& to, const std::string& verb,
                              const std::string& extra_set) {
  return Guard("changing the campaign status", [&]() -> Status {
    pqxx::work tx(*conn_);
    pqxx::result c =
        tx.exec_params("SELECT status FROM campaigns WHERE name = $1 FOR UPDATE", name);
    if (c.empty()) return Status::NotFound(fmt::format("no campaign named \"{}\"", name));
    std::string status = Str(c[0][0]);
    bool allowed = false;
    for (const auto& f : from) allowed = allowed || f == status;
    if (!allowed) {
      std::string list;
      for (const auto& f : from) list += (list.empty() ? "" : " or ") + f;
      return Status::FailedPrecondition(fmt::format(
          "campaign \"{}\" is {}; only a {} campaign can be {}", name, status, list, verb));
    }
    tx.exec_params("UPDATE campaigns SET status = $2, updated_at = now()" + extra_set +
                       " WHERE name = $1",
                   name, to);
    tx.commit();
    return Status::Ok();
  });
}

Status PgDatabase::PauseCampaign(const std::string& name) {
  return Transition(name, {"running", "scheduled"}, "paused", "paused", ", paused_at = now()");
}

Status PgDatabase::ResumeCampaign(const std::string& name) {
  return Transition(name, {"paused"}, "running", "resumed",
                    ", paused_at = NULL, started_at = coalesce(started_at, now())");
}

Result<int64_t> PgDatabase::CancelCampaign(const std::string& name) {
  return Guard("cancelling the campaign", [&]() -> Result<int64_t> {
    pqxx::work tx(*conn_);
    pqxx::result c =
        tx.exec_params("SELECT id, status FROM campaigns WHERE name = $1 FOR UPDATE", name);
    if (c.empty()) return Status::NotFound(fmt::format("no campaign named \"{}\"", name));
    std::string status = Str(c[0][1]);
    if (status == "finished" || status == "cancelled") {
      return Status::FailedPrecondition(
          fmt::format("campaign \"{}\" is already {}; nothing to cancel", name, status));
    }
    int64_t id = c[0][0].as<int64_t>();
    tx.exec_params(
        "UPDATE campaigns SET status = 'cancelled', cancelled_at = now(), finished_at = now(), "
        "updated_at = now() WHERE id = $1",
        id);
    // Rows leased by a node stay with it: its result (if the message went
    // out) is recorded; the node drops the rest and they are cancelled
    // when released (see ReleaseLeases).
    pqxx::result u = tx.exec_params(
        "UPDATE deliveries SET status = 'cancelled', finished_at = now() WHERE campaign_id = $1 "
        "AND status IN ('pending', 'deferred') AND (lease_until IS NULL OR lease_until < now())",
        id);
    tx.commit();
    return static_cast<int64_t>(u.affected_rows());
  });
}

Result<CampaignProgress> PgDatabase::Progress(const std::string& name) {
  return Guard("reading campaign progress", [&]() -> Result<CampaignProgress> {
    pqxx::read_transaction tx(*conn_);
    pqxx::result c = tx.exec_params(
        "SELECT id, status, extract(epoch from started_at)::float8, extract(epoch from "
        "finished_at)::float8, extract(epoch from coalesce(finished_at, now()) - "
        "started_at)::float8 FROM campaigns WHERE name = $1",
        name);
    if (c.empty()) return Status::NotFound(fmt::format("no campaign named \"{}\"", name));
    CampaignProgress p;
    p.status = Str(c[0][1]);
    p.started_at = OptTime(c[0][2]);
    p.finished_at = OptTime(c[0][3]);
    p.elapsed_seconds = c[0][4].is_null() ? 0 : c[0][4].as<double>();
    pqxx::result r = tx.exec_params(
        "SELECT status, count(*) FROM deliveries WHERE campaign_id = $1 GROUP BY status",
        c[0][0].as<int64_t>());
    for (const auto& row : r) {
      std::string s = Str(row[0]);
      int64_t n = row[1].as<int64_t>();
      p.total += n;
      if (s == "pending") p.pending = n;
      else if (s == "deferred") p.deferred = n;
      else if (s == "delivered") p.delivered = n;
      else if (s == "bounced") p.bounced = n;
      else if (s == "expired") p.expired = n;
      else if (s == "suppressed") p.suppressed = n;
      else if (s == "cancelled") p.cancelled = n;
      else if (s == "failed") p.failed = n;
    }
    return p;
  });
}

Result<std::vector<DomainCount>> PgDatabase::DomainCounts(const std::string& name) {
  return Guard("reading per-domain counts", [&]() -> Result<std::vector<DomainCount>> {
    pqxx::read_transaction tx(*conn_);
    pqxx::result r = tx.exec_params(
        "SELECT domain, s.status, s.n FROM domain_summary v, LATERAL (VALUES "
        "('delivered', delivered), ('deferred', deferred), ('bounced', bounced), ('expired', "
        "expired), ('suppressed', suppressed), ('cancelled', cancelled), ('failed', failed), "
        "('pending', pending)) AS s(status, n) WHERE v.campaign = $1 AND s.n > 0 ORDER BY v.total DESC, "
        "v.domain, s.status",
        name);
    std::vector<DomainCount> out;
    for (const auto& row : r) out.push_back({Str(row[0]), Str(row[1]), row[2].as<int64_t>()});
    return out;
  });
}

Result<int> PgDatabase::StartDueCampaigns() {
  return Guard("starting scheduled campaigns", [&]() -> Result<int> {
    pqxx::work tx(*conn_);
    pqxx::result r = tx.exec(
        "UPDATE campaigns SET status = 'running', started_at = now(), updated_at = now() "
        "WHERE status = 'scheduled' AND scheduled_at <= now()");
    tx.commit();
    return static_cast<int>(r.affected_rows());
  });
}

Result<std::vector<std::string>> PgDatabase::FinishCampaigns() {
  return Guard("finishing campaigns", [&]() -> Result<std::vector<std::string>> {
    pqxx::work tx(*conn_);
    pqxx::result r = tx.exec(
        "UPDATE campaigns c SET status = 'finished', finished_at = now(), updated_at = now()"
        " WHERE c.status = 'running' AND NOT EXISTS (SELECT 1 FROM deliveries d WHERE "
        "d.campaign_id = c.id AND d.status IN ('pending', 'deferred')) RETURNING c.name");
    // Cancelled campaigns: rows whose lease expired without a result.
    tx.exec(
        "UPDATE deliveries d SET status = 'cancelled', finished_at = now() FROM campaigns c"
        " WHERE c.id = d.campaign_id AND c.status = 'cancelled' AND d.status IN ('pending', "
        "'deferred') AND (d.lease_until IS NULL OR d.lease_until < now())");
    tx.commit();
    std::vector<std::string> out;
    for (const auto& row : r) out.push_back(Str(row[0]));
    return out;
  });
}

Result<std::vector<CampaignState>> PgDatabase::CampaignStates(const std::vector<int64_t>& ids) {
  return Guard("reading campaign states", [&]() -> Result<std::vector<CampaignState>> {
    std::string array = IdArray(ids);
    pqxx::read_transaction tx(*conn_);
    pqxx::result r =
        tx.exec_params("SELECT id, status FROM campaigns WHERE id = ANY($1::bigint[])", array);
    std::vector<CampaignState> out;
    for (const auto& row : r) out.push_back({row[0].as<int64_t>(), Str(row[1])});
    return out;
  });
}

Result<Database::Table> PgDatabase::Query(const std::string& sql,
                                          const std::vector<std::string>& params) {
  return Guard("running a report query", [&]() -> Result<Table> {
    pqxx::read_transaction tx(*conn_);
    pqxx::result r;
    switch (params.size()) {
      case 0: r = tx.exec(sql); break;
      case 1: r = tx.exec_params(sql, params[0]); break;
      case 2: r = tx.exec_params(sql, params[0], params[1]); break;
      default: return Status::Internal("Query supports at most two parameters");
    }
    Table t;
    for (pqxx::row::size_type i = 0; i < r.columns(); ++i) t.columns.push_back(r.column_name(i));
    for (const auto& row : r) {
      std::vector<std::optional<std::string>> cells;
      for (const auto& f : row) {
        cells.push_back(f.is_null() ? std::nullopt : std::optional<std::string>(f.c_str()));
      }
      t.rows.push_back(std::move(cells));
    }
    return t;
  });
}

}  // namespace postino::db::internal
