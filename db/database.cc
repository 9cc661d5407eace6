// database.cc: PgDatabase (see pg_database.h), part one: connecting, the
// schema version and migrations, lists and their CSV import, templates,
// subscribers and suppressions. Every libpqxx exception is caught here and
// turned into a Status.
#include "db/database.h"

#include <fmt/format.h>

#include <pqxx/pqxx>

#include "db/conninfo.h"
#include "db/migrations.h"
#include "db/pg_database.h"

namespace postino::db::internal {

Result<int> PgDatabase::SchemaVersion() {
  return Guard("reading the schema version", [&]() -> Result<int> {
    pqxx::work tx(*conn_);
    pqxx::result exists = tx.exec("SELECT to_regclass('schema_migrations') IS NOT NULL");
    if (!exists[0][0].as<bool>()) return 0;
    pqxx::result r = tx.exec("SELECT coalesce(max(version), 0) FROM schema_migrations");
    return r[0][0].as<int>();
  });
}

Result<MigrateReport> PgDatabase::Migrate() {
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

Status PgDatabase::CheckSchema() {
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

Result<std::vector<ListInfo>> PgDatabase::Lists() {
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

Status PgDatabase::AddTemplate(const TemplateRow& t, bool replace) {
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

Result<TemplateRow> PgDatabase::GetTemplate(const std::string& name) {
  return Guard("reading the template", [&]() -> Result<TemplateRow> {
    pqxx::read_transaction tx(*conn_);
    pqxx::result r = tx.exec_params(
        "SELECT id, name, subject, html_body, text_body FROM templates WHERE name = $1", name);
    if (r.empty()) return Status::NotFound(fmt::format("no template named \"{}\"", name));
    return TemplateRow{r[0][0].as<int64_t>(), Str(r[0][1]), Str(r[0][2]), Str(r[0][3]),
                       Str(r[0][4])};
  });
}

Result<TemplateRow> PgDatabase::GetTemplateById(int64_t id) {
  return Guard("reading the template", [&]() -> Result<TemplateRow> {
    pqxx::read_transaction tx(*conn_);
    pqxx::result r = tx.exec_params(
        "SELECT id, name, subject, html_body, text_body FROM templates WHERE id = $1", id);
    if (r.empty()) return Status::NotFound(fmt::format("no template with id {}", id));
    return TemplateRow{r[0][0].as<int64_t>(), Str(r[0][1]), Str(r[0][2]), Str(r[0][3]),
                       Str(r[0][4])};
  });
}

Result<std::string> PgDatabase::SubscriberAttributes(const std::string& email) {
  return Guard("reading the subscriber", [&]() -> Result<std::string> {
    pqxx::read_transaction tx(*conn_);
    pqxx::result r = tx.exec_params(
        "SELECT attributes::text FROM subscribers WHERE email_key = lower($1)", email);
    if (r.empty()) return Status::NotFound(fmt::format("no subscriber with address {}", email));
    return Str(r[0][0]);
  });
}

Result<int64_t> PgDatabase::AddSuppressions(
    const std::vector<std::pair<std::string, std::string>>& entries, const std::string& detail) {
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

Result<bool> PgDatabase::RemoveSuppression(const std::string& email) {
  return Guard("removing a suppression", [&]() -> Result<bool> {
    pqxx::work tx(*conn_);
    pqxx::result r =
        tx.exec_params("DELETE FROM suppressions WHERE email_key = lower($1)", email);
    tx.commit();
    return r.affected_rows() > 0;
  });
}

namespace {

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

}  // namespace

Result<std::unique_ptr<ListImport>> PgDatabase::BeginListImport(const std::string& list) {
  return Guard("starting the import", [&]() -> Result<std::unique_ptr<ListImport>> {
    return std::unique_ptr<ListImport>(std::make_unique<PgListImport>(*conn_, list));
  });
}

}  // namespace postino::db::internal

namespace postino::db {
namespace {

// The URL without its password, for messages (parsed by libpq).
std::string RedactUrl(const std::string& url) { return MaskConnectionString(url); }

}  // namespace

Result<std::unique_ptr<Database>> Database::Connect(const std::string& url) {
  try {
    auto conn = std::make_unique<pqxx::connection>(url);
    return std::unique_ptr<Database>(std::make_unique<internal::PgDatabase>(std::move(conn)));
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
