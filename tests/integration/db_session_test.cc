// db_session_test.cc: how db::Guard reports a session the server ended,
// against a real PostgreSQL. pg_terminate_backend() ends a session the way
// a fast shutdown does (FATAL 57P01 during the statement), and that must
// come back as kIoError ("connection lost": reconnect or journal) rather
// than as an SQL error, which the scheduler would treat as bad rows and
// write one by one (the duplicate sends of stop 18's outage test).
#include <gtest/gtest.h>

#include <chrono>
#include <thread>

#include "db/database.h"
#include "tests/integration/postino_fixture.h"

// LeakSanitizer: libpqxx 6.4 leaks the PGresult of a statement cut short by
// a lost connection (the same suppression as cli/run_command.cc, for the
// same reason); this test cuts one short on purpose.
extern "C" const char* __lsan_default_suppressions() { return "leak:libpqxx\n"; }

namespace postino::testing {
namespace {

class DbSessionTest : public PostinoTest {
 protected:
  void SetUp() override {
    PostinoTest::SetUp();
    if (HasFatalFailure()) return;
    WriteConfig(25);
    ProcessResult m = Postino({"db", "migrate"});
    ASSERT_EQ(m.exit_code, 0) << m.err;
  }
};

TEST_F(DbSessionTest, ASessionEndedByTheServerIsAConnectionLostNotAnSqlError) {
  Result<std::unique_ptr<db::Database>> d = db::Database::Connect(db_url_);
  ASSERT_TRUE(d.ok()) << d.status().message();
  std::unique_ptr<db::Database> db = std::move(d).value();
  Status status;
  std::thread victim([&] {
    Result<db::Database::Table> r = db->Query("SELECT 'postino-victim', pg_sleep(30)", {});
    status = r.ok() ? Status::Ok() : r.status();
  });
  std::string ended = "0";
  for (int i = 0; i < 200 && ended != "1"; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(25));
    ended = Sql(
        "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
        "WHERE query LIKE 'SELECT ''postino-victim''%' AND pid <> pg_backend_pid()");
  }
  victim.join();
  ASSERT_EQ(ended, "1") << "the statement never showed in pg_stat_activity";
  EXPECT_EQ(status.code(), Status::Code::kIoError) << status.message();
  EXPECT_NE(status.message().find("connection lost"), std::string::npos) << status.message();
}

TEST_F(DbSessionTest, AStatementTheServerRefusesStaysAnSqlError) {
  Result<std::unique_ptr<db::Database>> d = db::Database::Connect(db_url_);
  ASSERT_TRUE(d.ok()) << d.status().message();
  Result<db::Database::Table> r = d.value()->Query("SELECT no_such_column FROM campaigns", {});
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().code(), Status::Code::kIoError) << r.status().message();
  EXPECT_NE(r.status().message().find("SQL error"), std::string::npos) << r.status().message();
}

// A result written again after a lost connection (AttemptResult::replay)
// whose first write did commit: its attempt is found and not counted twice,
// even when it came back through the journal's decimal epoch.
TEST_F(DbSessionTest, AReplayedResultIsRecordedOnce) {
  Sql("INSERT INTO lists (name) VALUES ('l');"
      "INSERT INTO templates (name, subject, html_body, text_body) VALUES ('t', 's', 'h', 'x');"
      "INSERT INTO campaigns (name, list_id, template_id, from_address, status)"
      " VALUES ('c', 1, 1, 'a@news.example', 'running');"
      "INSERT INTO subscribers (email, email_key, domain)"
      " VALUES ('u@d.example', 'u@d.example', 'd.example');"
      "INSERT INTO deliveries (campaign_id, subscriber_id, email, domain, status)"
      " VALUES (1, 1, 'u@d.example', 'd.example', 'pending')");
  Result<std::unique_ptr<db::Database>> d = db::Database::Connect(db_url_);
  ASSERT_TRUE(d.ok()) << d.status().message();
  std::unique_ptr<db::Database> db = std::move(d).value();
  db::AttemptResult r;
  r.delivery_id = 1;
  r.campaign_id = 1;
  r.status = "deferred";
  r.code = 451;
  r.reply = "451 4.7.1 try later";
  r.at = std::chrono::system_clock::now();
  r.next_attempt_at = r.at + std::chrono::minutes(5);
  ASSERT_TRUE(db->RecordResults("n1", {r}).ok());
  db::AttemptResult again = r;
  again.replay = true;
  again.at += std::chrono::nanoseconds(700);  // the journal's rounding
  ASSERT_TRUE(db->RecordResults("n1", {again}).ok());
  EXPECT_EQ(Sql("SELECT count(*) FROM delivery_events WHERE delivery_id = 1"), "1");
  EXPECT_EQ(Sql("SELECT attempts FROM deliveries WHERE id = 1"), "1");
  // A later attempt of the same delivery, replayed too, is recorded.
  db::AttemptResult later = r;
  later.replay = true;
  later.status = "delivered";
  later.at += std::chrono::seconds(300);
  ASSERT_TRUE(db->RecordResults("n1", {later}).ok());
  EXPECT_EQ(Sql("SELECT count(*) FROM delivery_events WHERE delivery_id = 1"), "2");
  EXPECT_EQ(Sql("SELECT attempts || ' ' || status FROM deliveries WHERE id = 1"), "2 delivered");
}

}  // namespace
}  // namespace postino::testing
