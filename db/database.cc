// database.cc: the PostgreSQL implementation of Database (libpqxx 6.4).
// Every libpqxx exception is caught here and turned into a Status.
#include "db/database.h"

#include <fmt/format.h>

#include <cmath>
#include <map>
#include <pqxx/pqxx>

#include "db/conninfo.h"
#include "db/migrations.h"

namespace postino::db {
namespace {

TimePoint FromEpoch(double seconds) {
  return TimePoint(std::chrono::duration_cast<TimePoint::duration>(
      std::chrono::duration<double>(seconds)));
}

double ToEpoch(TimePoint t) {
  return std::chrono::duration<double>(t.time_since_epoch()).count();
}

std::string EpochText(TimePoint t) { return fmt::format("{:.6f}", ToEpoch(t)); }

std::optional<TimePoint> OptTime(const pqxx::field& f) {
  if (f.is_null()) return std::nullopt;
  return FromEpoch(f.as<double>());
}

std::string Str(const pqxx::field& f) { return f.is_null() ? std::string() : f.as<std::string>(); }

// Runs `body`, converting libpqxx exceptions into a Status naming `what`.
template <typename F>
auto Guard(const char* what, F&& body) -> decltype(body()) {
  try {
    return body();
  } catch (const pqxx::broken_connection& e) {
    return Status::IoError(fmt::format("{}: database connection lost: {}", what, e.what()));
  } catch (const pqxx::sql_error& e) {
    std::string msg = e.what();
    while (!msg.empty() && (msg.back() == '\n' || msg.back() == ' ')) msg.pop_back();
    return Status::Internal(fmt::format("{}: SQL error: {}", what, msg));
  } catch (const std::exception& e) {
    return Status::Internal(fmt::format("{}: {}", what, e.what()));
  }
}

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

class PgListImport;

class PgDatabase final : public Database {
 public:
  explicit PgDatabase(std::unique_ptr<pqxx::connection> conn) : conn_(std::move(conn)) {}

  pqxx::connection& conn() { return *conn_; }

  Result<int> SchemaVersion() override {
    return Guard("reading the schema version", [&]() -> Result<int> {
      pqxx::work tx(*conn_);
      pqxx::result exists = tx.exec("SELECT to_regclass('schema_migrations') IS NOT NULL");
      if (!exists[0][0].as<bool>()) return 0;
      pqxx::result r = tx.exec("SELECT coalesce(max(version), 0) FROM schema_migrations");
      return r[0][0].as<int>();
    });
  }

  Result<MigrateReport> Migrate() override {
    return Guard("migrating the schema", [&]() -> Result<MigrateReport> {
      MigrateReport report;
      const auto& all = AllMigrations();
      int known = all.empty() ? 0 : all.back().version;
      pqxx::work tx(*conn_);
      // One migrator at a time, across processes.
      tx.exec("SELECT pg_advisory_xact_lock(7254101)");
      tx.exec(
          "CREATE TABLE IF NOT EXISTS schema_migrations ("
          " version integer PRIMARY KEY, name text NOT NULL,"
          " applied_at timestamptz NOT NULL DEFAULT now())");
      int current = tx.exec("SELECT coalesce(max(version), 0) FROM schema_migrations")[0][0].as<int>();
      report.from_version = current;
      if (current > known) {
        return Status::FailedPrecondition(fmt::format(
            "the database schema is at version {}, newer than this postino knows ({}); "
            "upgrade postino before running it against this database",
            current, known));
      }
      for (const Migration& m : all) {
        if (m.version <= current) continue;
        tx.exec(m.sql);
        tx.exec_params("INSERT INTO schema_migrations (version, name) VALUES ($1, $2)", m.version,
                       m.name);
        report.applied.push_back(fmt::format("{} {}", m.version, m.name));
      }
      tx.commit();
      report.to_version = std::max(current, known);
      return report;
    });
  }

  Status CheckSchema() override {
    Result<int> v = SchemaVersion();
    if (!v.ok()) return v.status();
    int known = AllMigrations().back().version;
    if (*v == known) return Status::Ok();
    if (*v < known) {
      return Status::FailedPrecondition(fmt::format(
          "the database schema is at version {} but this postino needs {}; run `postino db migrate`",
          *v, known));
    }
    return Status::FailedPrecondition(fmt::format(
        "the database schema is at version {}, newer than this postino knows ({}); upgrade postino",
        *v, known));
  }

  Result<std::unique_ptr<ListImport>> BeginListImport(const std::string& list) override;

  Result<std::vector<ListInfo>> Lists() override {
    return Guard("listing lists", [&]() -> Result<std::vector<ListInfo>> {
      pqxx::read_transaction tx(*conn_);
      pqxx::result r = tx.exec(
          "SELECT l.name, count(m.subscriber_id), count(m.subscriber_id) FILTER (WHERE s.status = "
          "'active'), extract(epoch from l.created_at)::float8 FROM lists l "
          "LEFT JOIN list_members m ON m.list_id = l.id LEFT JOIN subscribers s ON s.id = "
          "m.subscriber_id GROUP BY l.id ORDER BY l.name");
      std::vector<ListInfo> out;
      for (const auto& row : r) {
        out.push_back({Str(row[0]), row[1].as<int64_t>(), row[2].as<int64_t>(),
                       FromEpoch(row[3].as<double>())});
      }
      return out;
    });
  }

  Status AddTemplate(const TemplateRow& t, bool replace) override {
    return Guard("adding the template", [&]() -> Status {
      pqxx::work tx(*conn_);
      pqxx::result r;
      if (replace) {
        r = tx.exec_params(
            "INSERT INTO templates (name, subject, html_body, text_body) VALUES ($1,$2,$3,$4) "
            "ON CONFLICT (name) DO UPDATE SET subject = excluded.subject, html_body = "
            "excluded.html_body, text_body = excluded.text_body, updated_at = now() RETURNING id",
            t.name, t.subject, t.html, t.text);
      } else {
        r = tx.exec_params(
            "INSERT INTO templates (name, subject, html_body, text_body) VALUES ($1,$2,$3,$4) "
            "ON CONFLICT (name) DO NOTHING RETURNING id",
            t.name, t.subject, t.html, t.text);
        if (r.empty()) {
          return Status::AlreadyExists(fmt::format(
              "template \"{}\" already exists; use --replace to overwrite it", t.name));
        }
      }
      tx.commit();
      return Status::Ok();
    });
  }

  Result<TemplateRow> GetTemplate(const std::string& name) override {
    return Guard("reading the template", [&]() -> Result<TemplateRow> {
      pqxx::read_transaction tx(*conn_);
      pqxx::result r = tx.exec_params(
          "SELECT id, name, subject, html_body, text_body FROM templates WHERE name = $1", name);
      if (r.empty()) return Status::NotFound(fmt::format("no template named \"{}\"", name));
      return TemplateRow{r[0][0].as<int64_t>(), Str(r[0][1]), Str(r[0][2]), Str(r[0][3]),
                         Str(r[0][4])};
    });
  }

  Result<TemplateRow> GetTemplateById(int64_t id) override {
    return Guard("reading the template", [&]() -> Result<TemplateRow> {
      pqxx::read_transaction tx(*conn_);
      pqxx::result r = tx.exec_params(
          "SELECT id, name, subject, html_body, text_body FROM templates WHERE id = $1", id);
      if (r.empty()) return Status::NotFound(fmt::format("no template with id {}", id));
      return TemplateRow{r[0][0].as<int64_t>(), Str(r[0][1]), Str(r[0][2]), Str(r[0][3]),
                         Str(r[0][4])};
    });
  }

  Result<std::string> SubscriberAttributes(const std::string& email) override {
    return Guard("reading the subscriber", [&]() -> Result<std::string> {
      pqxx::read_transaction tx(*conn_);
      pqxx::result r = tx.exec_params(
          "SELECT attributes::text FROM subscribers WHERE email_key = lower($1)", email);
      if (r.empty()) return Status::NotFound(fmt::format("no subscriber with address {}", email));
      return Str(r[0][0]);
    });
  }

  Status CreateCampaign(const CampaignSpec& s) override {
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

  Result<CampaignRow> GetCampaign(const std::string& name) override {
    return Guard("reading the campaign", [&]() -> Result<CampaignRow> {
      pqxx::read_transaction tx(*conn_);
      pqxx::result r =
          tx.exec_params(std::string("SELECT ") + kCampaignColumns + " WHERE c.name = $1", name);
      if (r.empty()) return Status::NotFound(fmt::format("no campaign named \"{}\"", name));
      return ReadCampaign(r[0]);
    });
  }

  Result<CampaignRow> GetCampaignById(int64_t id) override {
    return Guard("reading the campaign", [&]() -> Result<CampaignRow> {
      pqxx::read_transaction tx(*conn_);
      pqxx::result r =
          tx.exec_params(std::string("SELECT ") + kCampaignColumns + " WHERE c.id = $1", id);
      if (r.empty()) return Status::NotFound(fmt::format("no campaign with id {}", id));
      return ReadCampaign(r[0]);
    });
  }

  Result<LaunchResult> LaunchCampaign(const std::string& name) override {
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

  Status Transition(const std::string& name, const std::vector<std::string>& from,
                    const std::string& to, const std::string& verb, const std::string& extra_set) {
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

  Status PauseCampaign(const std::string& name) override {
    return Transition(name, {"running", "scheduled"}, "paused", "paused", ", paused_at = now()");
  }

  Status ResumeCampaign(const std::string& name) override {
    return Transition(name, {"paused"}, "running", "resumed",
                      ", paused_at = NULL, started_at = coalesce(started_at, now())");
  }

  Result<int64_t> CancelCampaign(const std::string& name) override {
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

  Result<CampaignProgress> Progress(const std::string& name) override {
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

  Result<std::vector<DomainCount>> DomainCounts(const std::string& name) override {
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

  Result<int> StartDueCampaigns() override {
    return Guard("starting scheduled campaigns", [&]() -> Result<int> {
      pqxx::work tx(*conn_);
      pqxx::result r = tx.exec(
          "UPDATE campaigns SET status = 'running', started_at = now(), updated_at = now() "
          "WHERE status = 'scheduled' AND scheduled_at <= now()");
      tx.commit();
      return static_cast<int>(r.affected_rows());
    });
  }

  Result<std::vector<ClaimedDelivery>> Claim(const std::string& node, int limit,
                                             std::chrono::seconds lease) override {
    return Guard("claiming deliveries", [&]() -> Result<std::vector<ClaimedDelivery>> {
      pqxx::work tx(*conn_);
      // Per running campaign, its due rows in next_attempt_at order through
      // deliveries_claim (campaign_id, next_attempt_at): paused or scheduled
      // campaigns cost nothing however many rows they hold.
      pqxx::result r = tx.exec_params(
          "WITH due AS ("
          " SELECT x.id FROM campaigns c CROSS JOIN LATERAL ("
          "  SELECT d.id, d.next_attempt_at FROM deliveries d"
          "  WHERE d.campaign_id = c.id AND d.status IN ('pending', 'deferred')"
          "   AND d.next_attempt_at <= now() AND (d.lease_until IS NULL OR d.lease_until < now())"
          "  ORDER BY d.next_attempt_at LIMIT $2 FOR UPDATE OF d SKIP LOCKED) x"
          " WHERE c.status = 'running' ORDER BY x.next_attempt_at LIMIT $2)"
          " UPDATE deliveries d SET lease_owner = $1, lease_until = now() + make_interval(secs => "
          "$3)"
          " FROM due, subscribers s WHERE d.id = due.id AND s.id = d.subscriber_id"
          " RETURNING d.id, d.campaign_id, d.subscriber_id, d.email, d.domain, d.attempts,"
          "  coalesce(d.message_id, ''), s.attributes::text,"
          "  extract(epoch from coalesce(d.first_attempt_at, now()))::float8,"
          "  (s.status <> 'active' OR EXISTS (SELECT 1 FROM suppressions sp WHERE sp.email_key = "
          "s.email_key)) AS blocked",
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
        out.push_back(std::move(d));
      }
      return out;
    });
  }

  Status RecordResults(const std::string& node, const std::vector<AttemptResult>& results) override {
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
      // Events first: they number the attempt from the row's counter.
      tx.exec_params(
          "INSERT INTO delivery_events (delivery_id, campaign_id, attempt, status, smtp_code, "
          "enhanced_code, reply, phase, source_ip, mx_host, tls_version, tls_cipher, message_id, "
          "node, at, site)"
          " SELECT r.delivery_id, r.campaign_id, d.attempts + 1, r.status, NULLIF(r.smtp_code, 0),"
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
          "r.campaign_id"
          " FROM results_in r WHERE r.suppress AND r.email <> ''"
          " ON CONFLICT (email_key) DO NOTHING");
      tx.commit();
      return Status::Ok();
    });
  }

  Status ReleaseLeases(const std::string& node, const std::vector<int64_t>& ids) override {
    return GiveBack(node, ids, std::nullopt);
  }

  Status PostponeLeases(const std::string& node, const std::vector<int64_t>& ids,
                        TimePoint not_before) override {
    return GiveBack(node, ids, not_before);
  }

  Status GiveBack(const std::string& node, const std::vector<int64_t>& ids,
                  std::optional<TimePoint> not_before) {
    if (ids.empty()) return Status::Ok();
    return Guard("releasing leases", [&]() -> Status {
      pqxx::work tx(*conn_);
      std::string array = "{";
      for (size_t i = 0; i < ids.size(); ++i) {
        if (i) array += ',';
        array += std::to_string(ids[i]);
      }
      array += "}";
      // Rows of a cancelled campaign become `cancelled` as they come back.
      tx.exec_params(
          "UPDATE deliveries d SET lease_owner = NULL, lease_until = NULL,"
          " next_attempt_at = CASE WHEN $3::float8 IS NULL THEN d.next_attempt_at ELSE "
          "greatest(d.next_attempt_at, to_timestamp($3::float8)) END,"
          " status = CASE WHEN c.status = 'cancelled' AND d.status IN ('pending', 'deferred') "
          "THEN 'cancelled' ELSE d.status END,"
          " finished_at = CASE WHEN c.status = 'cancelled' AND d.status IN ('pending', "
          "'deferred') THEN now() ELSE d.finished_at END"
          " FROM campaigns c WHERE c.id = d.campaign_id AND d.id = ANY($2::bigint[]) AND "
          "d.lease_owner = $1",
          node, array,
          not_before ? std::optional<double>(ToEpoch(*not_before)) : std::optional<double>());
      tx.commit();
      return Status::Ok();
    });
  }

  Status RenewLeases(const std::string& node, std::chrono::seconds lease) override {
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

  Result<std::vector<std::string>> FinishCampaigns() override {
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

  Result<std::vector<CampaignState>> CampaignStates(const std::vector<int64_t>& ids) override {
    return Guard("reading campaign states", [&]() -> Result<std::vector<CampaignState>> {
      std::string array = "{";
      for (size_t i = 0; i < ids.size(); ++i) {
        if (i) array += ',';
        array += std::to_string(ids[i]);
      }
      array += "}";
      pqxx::read_transaction tx(*conn_);
      pqxx::result r =
          tx.exec_params("SELECT id, status FROM campaigns WHERE id = ANY($1::bigint[])", array);
      std::vector<CampaignState> out;
      for (const auto& row : r) out.push_back({row[0].as<int64_t>(), Str(row[1])});
      return out;
    });
  }

  Result<bool> HasDueWork() override {
    return Guard("looking for due work", [&]() -> Result<bool> {
      pqxx::read_transaction tx(*conn_);
      pqxx::result r = tx.exec(
          "SELECT EXISTS (SELECT 1 FROM campaigns c WHERE c.status = 'running' AND EXISTS ("
          "SELECT 1 FROM deliveries d WHERE d.campaign_id = c.id AND d.status IN ('pending', "
          "'deferred') AND d.next_attempt_at <= now() AND (d.lease_until IS NULL OR d.lease_until "
          "< now())))"
          " OR EXISTS (SELECT 1 FROM campaigns WHERE status = 'scheduled' AND scheduled_at <= "
          "now())");
      return r[0][0].as<bool>();
    });
  }

  Result<int64_t> OutstandingDeliveries() override {
    return Guard("counting outstanding deliveries", [&]() -> Result<int64_t> {
      pqxx::read_transaction tx(*conn_);
      pqxx::result r = tx.exec(
          "SELECT count(*) FROM deliveries d JOIN campaigns c ON c.id = d.campaign_id WHERE "
          "c.status = 'running' AND d.status IN ('pending', 'deferred')");
      return r[0][0].as<int64_t>();
    });
  }

  Result<bool> TryLockNode(const std::string& node) override {
    return Guard("locking the node identity", [&]() -> Result<bool> {
      // Session level (outside a transaction): held as long as the connection.
      pqxx::nontransaction tx(*conn_);
      pqxx::result r =
          tx.exec_params("SELECT pg_try_advisory_lock(7254102, hashtext($1))", node);
      return r[0][0].as<bool>();
    });
  }

  Result<int64_t> ReclaimLeases(const std::string& node) override {
    return Guard("taking back leases", [&]() -> Result<int64_t> {
      pqxx::work tx(*conn_);
      pqxx::result r = tx.exec_params(
          "UPDATE deliveries d SET lease_owner = NULL, lease_until = NULL,"
          " status = CASE WHEN c.status = 'cancelled' AND d.status IN ('pending', 'deferred') "
          "THEN 'cancelled' ELSE d.status END,"
          " finished_at = CASE WHEN c.status = 'cancelled' AND d.status IN ('pending', "
          "'deferred') THEN now() ELSE d.finished_at END"
          " FROM campaigns c WHERE c.id = d.campaign_id AND d.lease_owner = $1",
          node);
      tx.commit();
      return static_cast<int64_t>(r.affected_rows());
    });
  }

  Result<LeaseReport> OtherNodesLeases(const std::string& node) override {
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

  Result<std::vector<EgressEvent>> ActivePathStates() override {
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
      for (const auto& row : r) {
        EgressEvent e;
        e.source_name = Str(row[0]);
        e.source_ip = Str(row[1]);
        e.site = Str(row[2]);
        e.domain = Str(row[3]);
        e.action = Str(row[4]);
        e.reply = Str(row[5]);
        e.rate = Str(row[6]);
        e.at = FromEpoch(row[7].as<double>());
        e.until = OptTime(row[8]);
        out.push_back(std::move(e));
      }
      return out;
    });
  }

  Result<int64_t> AddSuppressions(const std::vector<std::pair<std::string, std::string>>& entries,
                                  const std::string& detail) override {
    if (entries.empty()) return int64_t{0};
    return Guard("adding suppressions", [&]() -> Result<int64_t> {
      pqxx::work tx(*conn_);
      tx.exec(
          "CREATE TEMP TABLE IF NOT EXISTS suppress_in (email text, reason text) ON COMMIT DROP");
      {
        pqxx::stream_to copy(tx, "suppress_in");
        for (const auto& [email, reason] : entries) copy << std::make_tuple(email, reason);
        copy.complete();
      }
      pqxx::result r = tx.exec_params(
          "INSERT INTO suppressions (email_key, reason, detail)"
          " SELECT DISTINCT ON (lower(email)) lower(email), reason, NULLIF($1, '') FROM suppress_in"
          " ON CONFLICT (email_key) DO NOTHING",
          detail);
      tx.commit();
      return static_cast<int64_t>(r.affected_rows());
    });
  }

  Result<bool> RemoveSuppression(const std::string& email) override {
    return Guard("removing a suppression", [&]() -> Result<bool> {
      pqxx::work tx(*conn_);
      pqxx::result r =
          tx.exec_params("DELETE FROM suppressions WHERE email_key = lower($1)", email);
      tx.commit();
      return r.affected_rows() > 0;
    });
  }

  Status RecordEgressEvents(const std::string& node,
                            const std::vector<EgressEvent>& events) override {
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

  Result<std::vector<std::pair<std::string, int64_t>>> DeliveredTodayBySource() override {
    Result<std::vector<SentCount>> by_site = DeliveredTodayBySourceAndSite();
    if (!by_site.ok()) return by_site.status();
    std::map<std::string, int64_t> totals;
    for (const SentCount& c : *by_site) totals[c.source_ip] += c.count;
    return std::vector<std::pair<std::string, int64_t>>(totals.begin(), totals.end());
  }

  Result<std::vector<SentCount>> DeliveredTodayBySourceAndSite() override {
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

  Result<Table> Query(const std::string& sql, const std::vector<std::string>& params) override {
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

 private:
  std::unique_ptr<pqxx::connection> conn_;
};

// ListImport: COPY into a temporary table inside one transaction; Finish()
// merges set-based and commits (or rolls back for a dry run).
class PgListImport final : public ListImport {
 public:
  PgListImport(pqxx::connection& conn, std::string list) : tx_(conn), list_(std::move(list)) {
    tx_.exec(
        "CREATE TEMP TABLE import_in (line bigint, email text, domain text, attributes jsonb, "
        "email_key text GENERATED ALWAYS AS (lower(email)) STORED) ON COMMIT DROP");
    copy_ = std::make_unique<pqxx::stream_to>(tx_, "import_in");
  }

  Status Add(const ImportRow& row) override {
    return Guard("streaming rows to PostgreSQL", [&]() -> Status {
      // email_key is lower(email), computed by PostgreSQL as everywhere else.
      *copy_ << std::make_tuple(static_cast<int64_t>(row.line), row.email, row.domain,
                                row.attributes);
      return Status::Ok();
    });
  }

  Result<ImportCounts> Finish(bool dry_run) override {
    return Guard("importing the list", [&]() -> Result<ImportCounts> {
      copy_->complete();
      copy_.reset();
      ImportCounts counts;
      pqxx::result dups = tx_.exec(
          "SELECT line, first_line FROM (SELECT line, min(line) OVER (PARTITION BY email_key) AS "
          "first_line FROM import_in) x WHERE line <> first_line ORDER BY line");
      counts.duplicates_in_file = static_cast<int64_t>(dups.size());
      for (const auto& row : dups) {
        if (counts.duplicate_lines.size() >= 100) break;
        counts.duplicate_lines.emplace_back(row[0].as<size_t>(), row[1].as<size_t>());
      }
      counts.rows = tx_.exec("SELECT count(*) FROM import_in")[0][0].as<int64_t>();
      tx_.exec_params("INSERT INTO lists (name) VALUES ($1) ON CONFLICT (name) DO NOTHING", list_);
      int64_t list_id =
          tx_.exec_params("SELECT id FROM lists WHERE name = $1", list_)[0][0].as<int64_t>();
      // Later rows of the same address win, as a later edit would.
      pqxx::result up = tx_.exec(
          "WITH src AS (SELECT DISTINCT ON (email_key) * FROM import_in ORDER BY email_key, line "
          "DESC)"
          " INSERT INTO subscribers (email, email_key, domain, attributes)"
          " SELECT email, email_key, domain, attributes FROM src"
          " ON CONFLICT (email_key) DO UPDATE SET attributes = subscribers.attributes || "
          "excluded.attributes, updated_at = now()"
          " RETURNING (xmax = 0) AS inserted");
      for (const auto& row : up) {
        if (row[0].as<bool>()) ++counts.new_subscribers;
        else ++counts.updated_subscribers;
      }
      pqxx::result mem = tx_.exec_params(
          "INSERT INTO list_members (list_id, subscriber_id)"
          " SELECT $1, s.id FROM (SELECT DISTINCT email_key FROM import_in) i JOIN subscribers s "
          "ON s.email_key = i.email_key ON CONFLICT DO NOTHING",
          list_id);
      counts.added_to_list = static_cast<int64_t>(mem.affected_rows());
      counts.already_in_list = counts.rows - counts.duplicates_in_file - counts.added_to_list;
      if (dry_run) {
        tx_.abort();
      } else {
        tx_.commit();
      }
      return counts;
    });
  }

 private:
  pqxx::work tx_;
  std::string list_;
  std::unique_ptr<pqxx::stream_to> copy_;
};

Result<std::unique_ptr<ListImport>> PgDatabase::BeginListImport(const std::string& list) {
  return Guard("starting the import", [&]() -> Result<std::unique_ptr<ListImport>> {
    return std::unique_ptr<ListImport>(std::make_unique<PgListImport>(*conn_, list));
  });
}

// The URL without its password, for messages (parsed by libpq).
std::string RedactUrl(const std::string& url) { return MaskConnectionString(url); }

}  // namespace

Result<std::unique_ptr<Database>> Database::Connect(const std::string& url) {
  try {
    auto conn = std::make_unique<pqxx::connection>(url);
    return std::unique_ptr<Database>(std::make_unique<PgDatabase>(std::move(conn)));
  } catch (const std::exception& e) {
    std::string msg = e.what();
    while (!msg.empty() && (msg.back() == '\n' || msg.back() == ' ')) msg.pop_back();
    return Status::IoError(
        fmt::format("cannot connect to PostgreSQL ({}): {}; check database.url in the config or "
                    "POSTINO_DATABASE_URL",
                    RedactUrl(url), MaskPasswordIn(msg, url)));
  }
}

}  // namespace postino::db
