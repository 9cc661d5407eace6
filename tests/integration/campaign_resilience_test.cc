// campaign_resilience_test.cc: what a database outage, a crash, a second
// process with the same identity and a restart do to a campaign (issue 11,
// items 5-7), through the real `postino` binary, PostgreSQL and smtp-sink.
#include <fmt/format.h>
#include <signal.h>

#include <chrono>
#include <filesystem>
#include <map>
#include <thread>

#include "tests/integration/postino_fixture.h"

namespace postino::testing {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

class CampaignResilienceTest : public PostinoTest {
 protected:
  // The fixture's config with `node_extra` added to [node] and `extra` at the end.
  void Configure(int sink_port, const std::string& node_extra, const std::string& extra = "") {
    WriteConfig(sink_port, extra);
    std::string cfg = ReadFile(config_path_);
    cfg.replace(cfg.find("lease_seconds = 60"), 18, "lease_seconds = 60\n" + node_extra);
    Write("postino.toml", cfg);
  }
  static int Lines(const std::string& text, const std::string& needle) {
    int n = 0;
    for (size_t at = text.find(needle); at != std::string::npos; at = text.find(needle, at + 1)) ++n;
    return n;
  }
  // Every recipient reached the sink exactly once.
  void ExpectEachOnce(const SmtpSink& sink, int n) {
    std::map<std::string, int> mult = Multiplicity(sink.Recipients());
    EXPECT_EQ(static_cast<int>(mult.size()), n) << "every recipient reached the sink";
    int duplicates = 0;
    for (const auto& [rcpt, count] : mult) duplicates += count - 1;
    EXPECT_EQ(duplicates, 0);
  }
};

// Issue 11 item 5: PostgreSQL stopped mid-campaign for longer than the
// give-up time. The run stops feeding the engine, keeps its results, gives up
// after db_give_up_seconds and journals what it could not write; the next
// run writes the journal first. Nothing is lost, nothing is sent twice.
TEST_F(CampaignResilienceTest, DatabaseOutageLongerThanTheGiveUpTimeLosesNothingAndSendsNothingTwice) {
  SmtpSink sink;
  std::string journal_dir = dir_ + "/journal";
  Configure(sink.port(), fmt::format("db_give_up_seconds = 3\njournal_dir = \"{}\"", journal_dir),
            "[limits]\nmax_message_rate = \"150/s\"\n");
  const int n = 1500;
  Prepare(n);
  auto run = StartPostino({"run"}, "run.log");
  ASSERT_TRUE(WaitFor([&] { return Count("status = 'delivered'") >= 200; }, seconds(60)))
      << ReadFile(dir_ + "/run.log");
  ASSERT_TRUE(cluster_->Stop());
  int code = run->Wait(seconds(60));
  std::string log = ReadFile(dir_ + "/run.log");
  EXPECT_EQ(code, 4) << log;
  EXPECT_NE(log.find("database unreachable"), std::string::npos) << log;
  EXPECT_NE(log.find("kept in the journal"), std::string::npos) << log;
  // One line per reconnection step, not thousands.
  EXPECT_LE(Lines(log, "still unreachable"), 6) << log;
  std::string journal = journal_dir + "/postino-journal-test.jsonl";
  EXPECT_TRUE(std::filesystem::exists(journal));
  size_t at_outage = sink.Recipients().size();
  EXPECT_LT(at_outage, static_cast<size_t>(n)) << "finished before the outage; slow it down";

  ASSERT_TRUE(cluster_->Start());
  ProcessResult rest = Postino({"run", "--until-idle"});
  EXPECT_EQ(rest.exit_code, 0) << rest.err;
  EXPECT_NE(rest.err.find("kept in the journal"), std::string::npos) << rest.err;
  EXPECT_FALSE(std::filesystem::exists(journal));
  EXPECT_EQ(Sql("SELECT status || ':' || count(*) FROM deliveries GROUP BY status"),
            fmt::format("delivered:{}", n));
  ExpectEachOnce(sink, n);
  if (HasFailure()) {
    // What a rare failure needs for a diagnosis: who was sent twice, and
    // what both runs logged about them.
    for (const auto& [rcpt, count] : Multiplicity(sink.Recipients())) {
      if (count > 1) ADD_FAILURE() << rcpt << " reached the sink " << count << " times";
    }
    ADD_FAILURE() << "first run:\n" << log << "\nsecond run:\n" << rest.err;
  }
  // One final state and one recorded delivery event per recipient.
  EXPECT_EQ(Sql("SELECT count(*) FROM deliveries WHERE finished_at IS NULL OR lease_owner IS NOT "
                "NULL"),
            "0");
  EXPECT_EQ(Sql("SELECT count(DISTINCT delivery_id) FROM delivery_events WHERE status = "
                "'delivered'"),
            std::to_string(n));
}

// SIGTERM during an outage: the results in hand go to the journal at once.
TEST_F(CampaignResilienceTest, SigtermDuringAnOutageJournalsTheResults) {
  SmtpSink sink;
  std::string journal_dir = dir_ + "/journal";
  Configure(sink.port(), fmt::format("db_give_up_seconds = 300\njournal_dir = \"{}\"", journal_dir),
            "[limits]\nmax_message_rate = \"150/s\"\n");
  const int n = 1000;
  Prepare(n);
  auto run = StartPostino({"run"}, "run.log");
  ASSERT_TRUE(WaitFor([&] { return Count("status = 'delivered'") >= 100; }, seconds(60)));
  ASSERT_TRUE(cluster_->Stop());
  ASSERT_TRUE(WaitFor([&] {
    return ReadFile(dir_ + "/run.log").find("database unreachable") != std::string::npos;
  }, seconds(20))) << ReadFile(dir_ + "/run.log");
  run->Signal(SIGTERM);
  EXPECT_EQ(run->Wait(seconds(60)), 4) << ReadFile(dir_ + "/run.log");
  ASSERT_TRUE(cluster_->Start());
  ProcessResult rest = Postino({"run", "--until-idle"});
  EXPECT_EQ(rest.exit_code, 0) << rest.err;
  EXPECT_EQ(Count("status = 'delivered'"), n);
  ExpectEachOnce(sink, n);
}

// Issue 11 item 6: after kill -9, the same node takes its leases back at once.
TEST_F(CampaignResilienceTest, AfterSigkillTheSameNodeTakesBackItsLeasesAtOnce) {
  SmtpSink sink;
  Configure(sink.port(), "", "[limits]\nmax_message_rate = \"200/s\"\n");
  const int n = 2000;
  Prepare(n);
  auto run = StartPostino({"run"}, "run.log");
  ASSERT_TRUE(WaitFor([&] { return Count("status = 'delivered'") >= 200; }, seconds(60)));
  run->Signal(SIGKILL);
  run->Wait();
  int leased = Count("lease_owner IS NOT NULL");
  ASSERT_GT(leased, 0) << "the killed process held no leases";
  auto start = std::chrono::steady_clock::now();
  ProcessResult rest = Postino({"run", "--until-idle"});
  auto took = std::chrono::steady_clock::now() - start;
  EXPECT_EQ(rest.exit_code, 0) << rest.err;
  EXPECT_NE(rest.err.find("took back"), std::string::npos) << rest.err;
  EXPECT_EQ(Count("status = 'delivered'"), n) << rest.err;
  EXPECT_LT(took, seconds(50)) << "waited for the 60 s leases";
  EXPECT_EQ(Sql("SELECT status FROM campaigns"), "finished");
}

// Issue 11 item 6: two live processes can never share one node identity.
TEST_F(CampaignResilienceTest, ASecondProcessWithTheSameNodeIdRefuses) {
  SmtpSink sink;
  Configure(sink.port(), "");
  Prepare(10);
  auto run = StartPostino({"run"}, "run.log");
  ASSERT_TRUE(WaitFor([&] {
    return ReadFile(dir_ + "/run.log").find("started") != std::string::npos;
  }, seconds(30))) << ReadFile(dir_ + "/run.log");
  ProcessResult second = Postino({"run", "--until-idle"});
  EXPECT_EQ(second.exit_code, 7) << second.err;
  EXPECT_NE(second.err.find("node id \"test\""), std::string::npos) << second.err;
  // Another identity may run beside it.
  ProcessResult other = Postino({"run", "--until-idle", "--node", "other"});
  EXPECT_EQ(other.exit_code, 0) << other.err;
  run->Signal(SIGTERM);
  EXPECT_EQ(run->Wait(), 0);
}

// Issue 11 item 7: a suspension recorded by one --until-idle run is honoured
// by the next: no new attempt, no new suspension row.
TEST_F(CampaignResilienceTest, ASuspensionOutlivesTheProcess) {
  SmtpSink yahoo({"-r", "RCPT", "-b",
                  "421 4.7.0 [TSS04] Messages from 127.0.0.1 temporarily deferred due to "
                  "unexpected volume or user complaints"});
  Configure(yahoo.port(), "");
  Prepare(5);
  ProcessResult first = Postino({"run", "--until-idle"});
  EXPECT_EQ(first.exit_code, 0) << first.err;
  std::string suspensions = Sql("SELECT count(*) FROM egress_events WHERE action = 'suspended'");
  ASSERT_NE(suspensions, "0") << first.err;
  int attempts = std::stoi(Sql("SELECT count(*) FROM delivery_events"));
  // Make everything due again: only the path state may hold it back.
  Sql("UPDATE deliveries SET next_attempt_at = now() WHERE status IN ('pending', 'deferred')");
  ProcessResult second = Postino({"run", "--until-idle"});
  EXPECT_EQ(second.exit_code, 0) << second.err;
  EXPECT_NE(second.err.find("still in force"), std::string::npos) << second.err;
  EXPECT_EQ(Sql("SELECT count(*) FROM egress_events WHERE action = 'suspended'"), suspensions)
      << second.err;
  EXPECT_EQ(std::stoi(Sql("SELECT count(*) FROM delivery_events")), attempts) << second.err;
}

}  // namespace
}  // namespace postino::testing
