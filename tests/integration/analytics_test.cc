// analytics_test.cc: issue 15 against a real PostgreSQL and the real binary:
// migration 7 on a populated schema-6 database (rows, indexes, partitions,
// view results unchanged), partitions created ahead by `db migrate` and
// `run`, the default partition, `db prune` (dry run, real, refusals), the
// counts and time series against direct COUNTs after a campaign and after
// the after-delivery events other writers insert, and every ```sql block of
// docs/analytics.md run against a migrated database.
#include <fmt/format.h>

#include <fstream>
#include <regex>
#include <sstream>

#include "db/migrations.h"
#include "tests/integration/postino_fixture.h"

namespace postino::testing {
namespace {

class AnalyticsTest : public PostinoTest {
 protected:
  // Schema version 6 (before issue 15), as a database of that time has it.
  void MigrateToSix() {
    ASSERT_EQ(Sql("CREATE TABLE schema_migrations (version integer PRIMARY KEY, name text NOT "
                  "NULL, applied_at timestamptz NOT NULL DEFAULT now())"),
              "");
    for (const auto& m : db::AllMigrations()) {
      if (m.version > 6) break;
      std::string out = Sql(m.sql + fmt::format(
                                        "\n;INSERT INTO schema_migrations (version, name) VALUES "
                                        "({}, 'v{}')",
                                        m.version, m.version));
      ASSERT_EQ(out.rfind("ERROR", 0), std::string::npos) << m.version << ": " << out;
    }
  }
  void Exec(const std::string& sql) {
    std::string out = Sql(sql);
    ASSERT_EQ(out.rfind("ERROR", 0), std::string::npos) << sql << "\n" << out;
  }
  // The rows of `query`, canonical (sorted) and hashed, with their count:
  // short enough for a failure message, equal only when the rows are.
  std::string Rows(const std::string& query) {
    return Sql("SELECT count(*) || ' rows, md5 ' || coalesce(md5(string_agg(t::text, '|' ORDER "
               "BY t::text)), '-') FROM (" +
               query + ") t");
  }
  // Counts per (campaign, domain, source, status) straight from deliveries,
  // and from the kept counts: equal when the triggers did their job.
  void ExpectCountsMatchRawTables() {
    EXPECT_EQ(Rows("SELECT campaign_id, domain, source_ip, status, sum(n) FROM delivery_counts "
                   "GROUP BY 1, 2, 3, 4 HAVING sum(n) <> 0"),
              Rows("SELECT campaign_id, domain, coalesce(source_ip, ''), status, count(*) FROM "
                   "deliveries GROUP BY 1, 2, 3, 4"));
    EXPECT_EQ(Rows("SELECT minute, campaign_id, site, source_ip, status, events FROM "
                   "delivery_minutes"),
              Rows("SELECT date_trunc('minute', at), campaign_id, coalesce(site, ''), "
                   "coalesce(source_ip, ''), status, count(*) FROM delivery_events "
                   "GROUP BY 1, 2, 3, 4, 5"));
    EXPECT_EQ(Rows("SELECT hour, campaign_id, site, source_ip, status, events FROM "
                   "delivery_hours"),
              Rows("SELECT date_bin('1 hour', at, timestamptz '2000-01-01 00:00:00+00'), "
                   "campaign_id, coalesce(site, ''), coalesce(source_ip, ''), status, count(*) "
                   "FROM delivery_events GROUP BY 1, 2, 3, 4, 5"));
    EXPECT_EQ(Rows("SELECT campaign_id, domain, kind, n FROM event_counts WHERE n <> 0"),
              Rows("SELECT e.campaign_id, d.domain, CASE WHEN e.status = 'bounced' THEN "
                   "'async_bounced' ELSE e.status END, count(*) FROM delivery_events e JOIN "
                   "deliveries d ON d.id = e.delivery_id WHERE e.status IN ('complained', "
                   "'unsubscribed', 'soft_bounced') OR (e.status = 'bounced' AND e.phase = "
                   "'async') GROUP BY 1, 2, 3"));
  }
};

// The pre-7 views' columns, each view ordered fully: compared before and
// after the migration.
const char* kOldViews =
    "SELECT (SELECT string_agg(x::text, E'\\n' ORDER BY x::text) FROM (SELECT campaign_id, "
    "campaign, campaign_status, total, delivered, deferred, bounced, expired, suppressed, "
    "cancelled, failed, pending, delivery_rate, created_at, launched_at, started_at, finished_at "
    "FROM campaign_summary) x) || (SELECT string_agg(x::text, E'\\n' ORDER BY x::text) FROM "
    "(SELECT campaign_id, campaign, domain, total, delivered, deferred, bounced, expired, "
    "suppressed, cancelled, failed, pending FROM domain_summary) x) || (SELECT string_agg(x::text, "
    "E'\\n' ORDER BY x::text) FROM (SELECT * FROM source_summary) x) || (SELECT "
    "string_agg(x::text, E'\\n' ORDER BY x::text) FROM (SELECT * FROM bounce_reasons) x)";

// A schema-6 database with two campaigns, 3,000 deliveries and events over
// the last 100 days (so 4-5 months), retries and after-delivery events.
const char* kPopulate = R"SQL(
INSERT INTO lists (name) VALUES ('l');
INSERT INTO templates (name, subject, html_body, text_body) VALUES ('t', 's', 'h', 'x');
INSERT INTO campaigns (name, list_id, template_id, from_address, status, launched_at)
  VALUES ('old', 1, 1, 'a@news.example', 'finished', now() - interval '100 days'),
         ('new', 1, 1, 'a@news.example', 'running', now() - interval '1 hour'),
         ('empty', 1, 1, 'a@news.example', 'draft', NULL);
INSERT INTO subscribers (email, email_key, domain)
  SELECT 'u' || i || '@d' || (i % 7) || '.example', 'u' || i || '@d' || (i % 7) || '.example',
         'd' || (i % 7) || '.example' FROM generate_series(1, 1500) i;
INSERT INTO deliveries (campaign_id, subscriber_id, email, domain, status, attempts, source_ip,
                        last_code, last_enhanced, last_reply)
  SELECT c.id, s.id, s.email, s.domain,
         (ARRAY['delivered', 'delivered', 'delivered', 'bounced', 'expired', 'suppressed',
                'failed', 'deferred', 'pending', 'cancelled'])[1 + (s.id + c.id) % 10],
         1, CASE WHEN (s.id + c.id) % 10 IN (5, 8) THEN NULL ELSE '192.0.2.' || (s.id % 3) END,
         550, '5.1.1', 'User unknown <u' || s.id || '@x> id ' || (s.id % 4)
    FROM campaigns c, subscribers s WHERE c.name IN ('old', 'new');
UPDATE deliveries SET last_reply_key = postino_reply_key(last_reply)
 WHERE status IN ('bounced', 'expired');
INSERT INTO delivery_events (delivery_id, campaign_id, attempt, status, smtp_code, reply, phase,
                             source_ip, node, at, site)
  SELECT d.id, d.campaign_id, 1, CASE WHEN d.status IN ('delivered', 'bounced') THEN 'deferred'
         ELSE d.status END, 451, 'later', 'rcpt', d.source_ip, 'n1',
         now() - make_interval(days => (d.id % 100)::int, mins => (d.id % 3)::int),
         'mx.' || d.domain
    FROM deliveries d WHERE d.status NOT IN ('suppressed', 'pending', 'cancelled');
INSERT INTO delivery_events (delivery_id, campaign_id, attempt, status, phase, source_ip, node, at)
  SELECT d.id, d.campaign_id, 2,
         (ARRAY['bounced', 'complained', 'unsubscribed', 'delivered'])[1 + d.id % 4],
         (ARRAY['async', 'arf', 'http', 'data'])[1 + d.id % 4], d.source_ip, 'n1',
         now() - make_interval(days => (d.id % 100)::int)
    FROM deliveries d WHERE d.status = 'delivered';
)SQL";

TEST_F(AnalyticsTest, MigrationSevenConvertsAPopulatedDatabase) {
  WriteConfig(2525);
  MigrateToSix();
  Exec(kPopulate);
  const std::string rows_before =
      Sql("SELECT count(*), sum(id), sum(hashtext(e::text)) FROM delivery_events e");
  const std::string views_before = Sql(kOldViews);
  ASSERT_EQ(views_before.rfind("ERROR", 0), std::string::npos) << views_before;
  const std::string months = Sql(
      "SELECT string_agg(DISTINCT 'delivery_events_' || to_char(at AT TIME ZONE 'UTC', "
      "'YYYY_MM'), ',') FROM delivery_events");

  ProcessResult m = Postino({"db", "migrate"});
  ASSERT_EQ(m.exit_code, 0) << m.err;
  EXPECT_NE(m.out.find("applied migration 7"), std::string::npos) << m.out;

  // Every row, unchanged (the id sequence too), in a partition of its month.
  EXPECT_EQ(Sql("SELECT count(*), sum(id), sum(hashtext(e::text)) FROM delivery_events e"),
            rows_before);
  EXPECT_EQ(Sql("SELECT count(*) FROM delivery_events_default"), "0");
  std::stringstream ms(months);
  for (std::string part; std::getline(ms, part, ',');) {
    EXPECT_EQ(Sql("SELECT to_regclass('" + part + "') IS NOT NULL"), "t") << part;
  }
  EXPECT_EQ(Sql("SELECT relkind FROM pg_class WHERE relname = 'delivery_events'"), "p");
  EXPECT_EQ(Sql("SELECT string_agg(indexname, ',' ORDER BY indexname) FROM pg_indexes WHERE "
                "tablename = 'delivery_events'"),
            "delivery_events_at,delivery_events_campaign_at,delivery_events_delivery,"
            "delivery_events_pkey");
  EXPECT_EQ(Sql("SELECT pg_get_constraintdef(oid) FROM pg_constraint WHERE conrelid = "
                "'delivery_events'::regclass AND contype = 'p'"),
            "PRIMARY KEY (id, at)");
  EXPECT_EQ(Sql("SELECT count(*) FROM pg_constraint WHERE conrelid = "
                "'delivery_events'::regclass AND contype = 'f'"),
            "1");
  Exec("INSERT INTO delivery_events (delivery_id, campaign_id, attempt, status, node) "
       "SELECT min(id), NULL, 9, 'soft_bounced', 'n1' FROM deliveries");
  EXPECT_GT(std::stoll(Sql("SELECT max(id) FROM delivery_events")),
            std::stoll(Sql("SELECT max(id) FROM delivery_events WHERE attempt < 9")));
  // The views say what they said, now from the counts.
  EXPECT_EQ(Sql(kOldViews), views_before);
  ExpectCountsMatchRawTables();
  EXPECT_EQ(Sql("SELECT total FROM campaign_summary WHERE campaign = 'empty'"), "0");
}

TEST_F(AnalyticsTest, PartitionsAreCreatedAheadAndTheDefaultCatchesTheRest) {
  SmtpSink sink;
  WriteConfig(sink.port());
  ProcessResult m = Postino({"db", "migrate"});
  ASSERT_EQ(m.exit_code, 0) << m.err;
  const std::string ahead =
      "SELECT string_agg(to_regclass('delivery_events_' || to_char((now() AT TIME ZONE 'UTC') + "
      "make_interval(months => i), 'YYYY_MM')) IS NOT NULL ::text, ',' ORDER BY i) FROM "
      "generate_series(0, 3) i";
  EXPECT_EQ(Sql(ahead), "true,true,true,true");
  // `postino run` creates missing months when it starts.
  Exec("DROP TABLE delivery_events_" + Sql("SELECT to_char((now() AT TIME ZONE 'UTC') + "
                                           "interval '2 months', 'YYYY_MM')"));
  EXPECT_EQ(Sql(ahead), "true,true,false,true");
  ProcessResult run = Postino({"run", "--until-idle"});
  ASSERT_EQ(run.exit_code, 0) << run.err;
  EXPECT_EQ(Sql(ahead), "true,true,true,true") << run.err;
  EXPECT_NE(run.err.find("created partition"), std::string::npos) << run.err;
  // A month without a partition never fails an insert: the row waits in the
  // default partition and moves when its month is created.
  Prepare(3);
  Exec("INSERT INTO delivery_events (delivery_id, campaign_id, attempt, status, node, at) "
       "SELECT min(id), min(campaign_id), 1, 'deferred', 'n1', now() + interval '3 years' FROM "
       "deliveries");
  EXPECT_EQ(Sql("SELECT count(*) FROM delivery_events_default"), "1");
  EXPECT_EQ(Sql("SELECT postino_event_partition(now() + interval '3 years') IS NOT NULL"), "t");
  EXPECT_EQ(Sql("SELECT count(*) FROM delivery_events_default"), "0");
  EXPECT_EQ(Sql("SELECT count(*) FROM delivery_events WHERE at > now() + interval '2 years'"), "1");
  ProcessResult parts = Postino({"db", "partitions"});
  ASSERT_EQ(parts.exit_code, 0) << parts.err;
  EXPECT_NE(parts.out.find("delivery_events_default"), std::string::npos) << parts.out;
}

TEST_F(AnalyticsTest, PruneDropsWholeOldMonthsAndNeverTheCurrentOne) {
  WriteConfig(2525);
  Prepare(5);
  // Events 20, 15 and 2 months old, and one older than any partition.
  Exec("SELECT postino_event_partition(now() - make_interval(months => m)) FROM (VALUES (20), "
       "(15), (2)) v(m)");
  Exec("INSERT INTO delivery_events (delivery_id, campaign_id, attempt, status, node, at) "
       "SELECT min(id), min(campaign_id), 1, 'delivered', 'n1', now() - make_interval(months => m)"
       " FROM deliveries, (VALUES (20), (15), (2), (40)) v(m) GROUP BY m");
  const std::string old20 = Sql("SELECT 'delivery_events_' || to_char((now() AT TIME ZONE 'UTC') "
                                "- interval '20 months', 'YYYY_MM')");
  const std::string old15 = Sql("SELECT 'delivery_events_' || to_char((now() AT TIME ZONE 'UTC') "
                                "- interval '15 months', 'YYYY_MM')");
  ProcessResult dry = Postino({"db", "prune", "--older-than", "13m", "--dry-run"});
  ASSERT_EQ(dry.exit_code, 0) << dry.err;
  EXPECT_NE(dry.out.find("would drop " + old20), std::string::npos) << dry.out;
  EXPECT_NE(dry.out.find("would drop " + old15), std::string::npos) << dry.out;
  EXPECT_NE(dry.out.find("would delete 1 rows before the cutoff from delivery_events_default"),
            std::string::npos)
      << dry.out;
  EXPECT_EQ(Sql("SELECT count(*) FROM delivery_events"), "4");
  EXPECT_EQ(Sql("SELECT to_regclass('" + old20 + "') IS NOT NULL"), "t");

  ProcessResult real = Postino({"db", "prune", "--older-than", "13m"});
  ASSERT_EQ(real.exit_code, 0) << real.err;
  EXPECT_NE(real.out.find("dropped " + old20), std::string::npos) << real.out;
  EXPECT_NE(real.out.find("dropped " + old15), std::string::npos) << real.out;
  EXPECT_EQ(Sql("SELECT to_regclass('" + old20 + "') IS NULL AND to_regclass('" + old15 +
                "') IS NULL"),
            "t");
  EXPECT_EQ(Sql("SELECT count(*) FROM delivery_events"), "1");  // the 2-month-old one
  EXPECT_EQ(Sql("SELECT count(*) FROM delivery_minutes WHERE minute < now() - interval '13 "
                "months'"),
            "0");
  ProcessResult again = Postino({"db", "prune", "--older-than", "1y"});
  ASSERT_EQ(again.exit_code, 0) << again.err;
  EXPECT_NE(again.out.find("nothing to prune"), std::string::npos) << again.out;

  // The current month is never dropped; nonsense is refused, naming the flag.
  for (const char* bad : {"1d", "0m"}) {
    ProcessResult r = Postino({"db", "prune", "--older-than", bad});
    EXPECT_EQ(r.exit_code, 2) << bad << r.out;
    EXPECT_NE(r.err.find(bad == std::string("1d") ? "current month" : "--older-than"),
              std::string::npos)
        << r.err;
  }
  for (const char* bad : {"13", "m", "13x", "-3m", "13 m", "99999999999999999999y", "101y"}) {
    ProcessResult r = Postino({"db", "prune", "--older-than", bad});
    EXPECT_EQ(r.exit_code, 2) << bad << r.out;
    EXPECT_NE(r.err.find("--older-than"), std::string::npos) << bad << r.err;
  }
  EXPECT_EQ(Sql("SELECT count(*) FROM delivery_events"), "1");
}

TEST_F(AnalyticsTest, CountsAndTimeSeriesMatchRawRowsAfterACampaignAndLateEvents) {
  SmtpSink sink;
  WriteConfig(sink.port());
  Prepare(60);
  ProcessResult run = Postino({"run", "--until-idle"});
  ASSERT_EQ(run.exit_code, 0) << run.err;
  ASSERT_EQ(Count("status = 'delivered'"), 60);
  ExpectCountsMatchRawTables();
  // What the other writers do (CONTRACTS.md): an async bounce turns the row
  // bounced; complaints and unsubscribes only add events; submitted mail
  // has no campaign.
  Exec("INSERT INTO delivery_events (delivery_id, campaign_id, attempt, status, smtp_code, "
       "enhanced_code, reply, phase, node) SELECT id, campaign_id, attempts, 'bounced', 550, "
       "'5.1.1', 'mailbox gone', 'async', 'returns' FROM deliveries ORDER BY id LIMIT 3");
  Exec("UPDATE deliveries SET status = 'bounced' WHERE id IN (SELECT id FROM deliveries ORDER BY "
       "id LIMIT 3)");
  Exec("INSERT INTO delivery_events (delivery_id, campaign_id, attempt, status, phase, node) "
       "SELECT id, campaign_id, attempts, 'complained', 'arf', 'returns' FROM deliveries "
       "ORDER BY id DESC LIMIT 2");
  Exec("INSERT INTO delivery_events (delivery_id, campaign_id, attempt, status, phase, node) "
       "SELECT id, campaign_id, attempts, 'unsubscribed', 'http', 'http' FROM deliveries "
       "ORDER BY id DESC LIMIT 5");
  for (int i = 0; i < 2; ++i) {  // twice: the NULL campaign key must add up, not duplicate
    Exec("INSERT INTO delivery_events (delivery_id, campaign_id, attempt, status, source_ip, "
         "node, site, at) SELECT min(id), NULL, 1, 'delivered', '192.0.2.9', 'n1', 'mx.sub', "
         "date_trunc('minute', now()) FROM deliveries");
  }
  ExpectCountsMatchRawTables();
  EXPECT_EQ(Sql("SELECT count(*) FROM delivery_minutes WHERE campaign_id IS NULL"), "1");
  EXPECT_EQ(Sql("SELECT delivered, bounced, async_bounced, complained, unsubscribed FROM "
                "campaign_summary WHERE campaign = 'c'"),
            "57|3|3|2|5");
  EXPECT_EQ(Sql("SELECT sum(async_bounced), sum(complained), sum(unsubscribed), sum(bounced) "
                "FROM domain_summary WHERE campaign = 'c'"),
            "3|2|5|3");
  EXPECT_EQ(Sql("SELECT sum(recipients) FROM source_summary WHERE campaign = 'c'"), "60");
  EXPECT_EQ(Sql("SELECT count(*) FROM campaign_summary"), "1");  // no row for NULL campaign
  // The time series: per campaign, per source, per site.
  EXPECT_EQ(Sql("SELECT sum(value) FROM delivery_series(now() - interval '1 hour', now() + "
                "interval '1 minute', 'campaign') WHERE metric = 'c'"),
            "60");
  EXPECT_EQ(Sql("SELECT sum(value) FROM delivery_series(now() - interval '1 hour', now() + "
                "interval '1 minute', 'source', interval '1 hour')"),
            "62");
  EXPECT_EQ(Sql("SELECT sum(value) FROM delivery_series(now() - interval '1 hour', now() + "
                "interval '1 minute', 'site', interval '1 day', NULL)"),
            Sql("SELECT count(*) FROM delivery_events"));
  // Hour buckets (whole hours from delivery_hours, the edges from the
  // minutes) give the same totals as minute buckets over any range.
  for (const char* range : {"now() - interval '3 hours', now() + interval '2 hours'",
                            "date_trunc('hour', now()), now() + interval '1 minute'",
                            "now() - interval '17 minutes', now() + interval '3 hours 5 minutes'"}) {
    EXPECT_EQ(Sql(fmt::format("SELECT sum(value) FROM delivery_series({}, 'source', interval '1 "
                              "hour', NULL)",
                              range)),
              Sql(fmt::format("SELECT sum(value) FROM delivery_series({}, 'source', interval '1 "
                              "minute', NULL)",
                              range)))
        << range;
  }
  EXPECT_NE(Sql("SELECT * FROM delivery_series(now(), now(), 'domain')").find("by_what"),
            std::string::npos);
  // Deleting a campaign takes its counts and time series along.
  const std::string id = Sql("SELECT id FROM campaigns WHERE name = 'c'");
  Exec("DELETE FROM campaigns WHERE name = 'c'");
  EXPECT_EQ(Sql("SELECT count(*) FROM delivery_counts WHERE n <> 0 AND campaign_id = " + id), "0");
  EXPECT_EQ(Sql("SELECT count(*) FROM event_counts WHERE campaign_id = " + id), "0");
  EXPECT_EQ(Sql("SELECT count(*) FROM delivery_minutes WHERE campaign_id = " + id), "0");
  EXPECT_EQ(Sql("SELECT count(*) FROM delivery_hours WHERE campaign_id = " + id), "0");
}

// Every ```sql block of docs/analytics.md runs on a migrated database with a
// finished campaign named as in the examples.
TEST_F(AnalyticsTest, EveryExampleQueryInTheDocsRuns) {
  std::ifstream in(std::string(POSTINO_SOURCE_DIR) + "/docs/analytics.md");
  ASSERT_TRUE(in) << "docs/analytics.md not found";
  std::stringstream text;
  text << in.rdbuf();
  SmtpSink sink;
  WriteConfig(sink.port());
  Prepare(10, "nov-2026");
  ASSERT_EQ(Postino({"run", "--until-idle"}).exit_code, 0);
  std::regex block("```sql\\n([\\s\\S]*?)```");
  int blocks = 0;
  int statements = 0;
  const std::string doc = text.str();
  for (std::sregex_iterator it(doc.begin(), doc.end(), block), end; it != end; ++it) {
    ++blocks;
    // One statement at a time, so that a failure names it.
    std::string body = (*it)[1].str();
    std::string stmt;
    std::istringstream lines(body);
    for (std::string line; std::getline(lines, line);) {
      stmt += line + "\n";
      if (!line.empty() && line.back() == ';') {
        ++statements;
        std::string out = Sql(stmt);
        EXPECT_EQ(out.rfind("ERROR", 0), std::string::npos) << stmt << "\n" << out;
        stmt.clear();
      }
    }
  }
  EXPECT_GE(blocks, 2);
  EXPECT_GE(statements, 10);
}

}  // namespace
}  // namespace postino::testing
