// operator_cli_test.cc: the operators' commands of issue 14 through the real
// binary: queue ls / retry-now / hold / release, sources resume (also on a
// running `postino run`), config check, --log-format json. Real PostgreSQL
// and fake MX. DNS checks are in dns_check_cli_test.cc.
#include <fmt/format.h>
#include <signal.h>

#include <string>
#include <thread>
#include <vector>

#include "tests/fakemx/fake_mx.h"
#include "tests/integration/postino_fixture.h"

namespace postino::testing {
namespace {

using fakemx::FakeMx;
using fakemx::Script;
using fakemx::Step;

class OperatorCliTest : public PostinoTest {};

TEST_F(OperatorCliTest, QueueLsRetryNowHoldAndRelease) {
  Script script;
  script.rcpt = Step{"451 4.2.1 mailbox busy, try later"};
  FakeMx mx(script);
  WriteConfig(mx.port());
  Prepare(6);
  ProcessResult run = Postino({"run", "--until-idle"});
  ASSERT_EQ(run.exit_code, 0) << run.err;
  ASSERT_EQ(Count("status = 'deferred'"), 6);

  ProcessResult ls = Postino({"queue", "ls"});
  ASSERT_EQ(ls.exit_code, 0) << ls.err;
  EXPECT_NE(ls.out.find("WAITING"), std::string::npos) << ls.out;
  EXPECT_NE(ls.out.find("451 4.2.1 mailbox busy"), std::string::npos) << ls.out;
  EXPECT_EQ(ls.out.find("4.2.1 4.2.1"), std::string::npos) << "reply code repeated:\n" << ls.out;
  EXPECT_NE(ls.out.find("0 due now, 6 waiting for a later attempt (6 deferred"), std::string::npos)
      << ls.out;
  ProcessResult js = Postino({"queue", "ls", "--format", "json", "--domain", "example.com"});
  ASSERT_EQ(js.exit_code, 0) << js.err;
  EXPECT_NE(js.out.find("\"campaign\": \"c\""), std::string::npos) << js.out;
  EXPECT_NE(js.out.find("\"next_attempt\": \"20"), std::string::npos) << js.out;

  ProcessResult retry = Postino({"queue", "retry-now", "--campaign", "c"});
  ASSERT_EQ(retry.exit_code, 0) << retry.err;
  EXPECT_NE(retry.out.find("6 recipient(s) of campaign \"c\" made due now"), std::string::npos)
      << retry.out;
  EXPECT_EQ(Count("next_attempt_at <= now()"), 6);

  ProcessResult hold = Postino({"queue", "hold"});
  ASSERT_EQ(hold.exit_code, 0) << hold.err;
  EXPECT_NE(hold.out.find("6 recipient(s) held"), std::string::npos) << hold.out;
  EXPECT_EQ(Count("next_attempt_at = 'infinity'"), 6);
  // Held recipients are not sent: an --until-idle run has nothing to do.
  ProcessResult idle = Postino({"run", "--until-idle"});
  ASSERT_EQ(idle.exit_code, 0) << idle.err;
  EXPECT_EQ(Sql("SELECT count(*) FROM delivery_events"), "6");
  ls = Postino({"queue", "ls"});
  EXPECT_NE(ls.out.find("6 held"), std::string::npos) << ls.out;
  // retry-now leaves them held.
  EXPECT_NE(Postino({"queue", "retry-now"}).out.find("0 recipient(s) made due now"),
            std::string::npos);

  ProcessResult release = Postino({"queue", "release", "--campaign", "c"});
  ASSERT_EQ(release.exit_code, 0) << release.err;
  EXPECT_NE(release.out.find("6 held recipient(s) of campaign \"c\" released"), std::string::npos)
      << release.out;
  EXPECT_EQ(Count("next_attempt_at <= now()"), 6);

  EXPECT_EQ(Postino({"queue", "ls", "--campaign", "nope"}).exit_code, 6);
  EXPECT_EQ(Postino({"queue", "release", "--campaign", "nope"}).exit_code, 6);
}

TEST_F(OperatorCliTest, SourcesResumeLiftsASuspensionForARunningEngine) {
  FakeMx mx(Script{});
  WriteConfig(mx.port());
  Prepare(3);
  const std::string site = "127.0.0.1:" + std::to_string(mx.port());
  Sql(fmt::format("INSERT INTO egress_events (node, source_name, source_ip, site, action, reply, "
                  "until) VALUES ('test', 'lo', '127.0.0.1', '{}', 'suspended', '421 4.7.0 "
                  "blocked', now() + interval '4 hours')",
                  site));
  ProcessResult before = Postino({"sources"});
  ASSERT_EQ(before.exit_code, 0) << before.err;
  EXPECT_NE(before.out.find("limited"), std::string::npos) << before.out;

  auto engine = StartPostino({"run"}, "run.log");
  std::this_thread::sleep_for(std::chrono::seconds(2));
  EXPECT_EQ(Count("status = 'delivered'"), 0) << "sent on a suspended path";

  EXPECT_EQ(Postino({"sources", "resume", "nosuch"}).exit_code, 6);
  ProcessResult resume = Postino({"sources", "resume", "lo", "--site", "127.0.0.1"});
  ASSERT_EQ(resume.exit_code, 0) << resume.err;
  EXPECT_NE(resume.out.find("resumed lo -> " + site), std::string::npos) << resume.out;
  EXPECT_TRUE(WaitFor([&] { return Count("status = 'delivered'") == 3; }, std::chrono::seconds(20)))
      << "the running engine did not pick up the resume";
  engine->Signal(SIGTERM);
  EXPECT_EQ(engine->Wait(std::chrono::seconds(60)), 0);

  ProcessResult after = Postino({"sources"});
  EXPECT_EQ(after.out.find("limited"), std::string::npos) << after.out;
  ProcessResult again = Postino({"sources", "resume", "lo"});
  EXPECT_EQ(again.exit_code, 0);
  EXPECT_NE(again.out.find("nothing to resume"), std::string::npos) << again.out;
}

TEST_F(OperatorCliTest, ConfigCheckNeedsNoDatabaseAndNamesWhatIsWrong) {
  WriteConfig(25);
  // The database of this config is never contacted.
  std::string good = Write("good.toml", "[database]\nurl = \"postgresql://nobody@127.0.0.1:1/x\"\n"
                                        "[[sources]]\nname = \"lo\"\naddress = \"127.0.0.1\"\n");
  ProcessResult ok = Postino({"config", "check", good});
  EXPECT_EQ(ok.exit_code, 0) << ok.err;
  EXPECT_NE(ok.out.find("valid (1 source(s)"), std::string::npos) << ok.out;

  std::string typo = Write("typo.toml", "[node]\nbatch_sise = 5\n");
  ProcessResult bad = Postino({"config", "check", typo});
  EXPECT_EQ(bad.exit_code, 3);
  EXPECT_NE(bad.err.find("typo.toml:2"), std::string::npos) << bad.err;

  std::string nokey = Write("nokey.toml",
                            "[database]\nurl = \"postgresql://nobody@127.0.0.1:1/x\"\n"
                            "[[dkim.keys]]\ndomain = \"x.example\"\nselector = \"s1\"\n"
                            "key_file = \"/nonexistent/s1.pem\"\n");
  ProcessResult dk = Postino({"config", "check", nokey});
  EXPECT_EQ(dk.exit_code, 3);
  EXPECT_NE(dk.err.find("/nonexistent/s1.pem"), std::string::npos) << dk.err;

  // Default file: the test's own config (--config).
  EXPECT_EQ(Postino({"config", "check"}).exit_code, 0);
}

TEST_F(OperatorCliTest, JsonLogsAreOneObjectPerLineWithIsoTimes) {
  FakeMx mx(Script{});
  WriteConfig(mx.port());
  Prepare(2);
  ProcessResult run = Postino({"--log-format", "json", "--log-level", "debug", "run", "--until-idle"});
  ASSERT_EQ(run.exit_code, 0) << run.err;
  size_t lines = 0, with_delivery = 0, with_connection = 0;
  size_t start = 0;
  while (start < run.err.size()) {
    size_t nl = run.err.find('\n', start);
    std::string line = run.err.substr(start, nl - start);
    start = nl == std::string::npos ? run.err.size() : nl + 1;
    if (line.empty()) continue;
    ++lines;
    EXPECT_EQ(line.front(), '{') << line;
    EXPECT_EQ(line.back(), '}') << line;
    EXPECT_EQ(line.rfind("{\"time\":\"20", 0), 0u) << line;
    if (line.find("\"delivery\":") != std::string::npos &&
        line.find("\"campaign\":") != std::string::npos) {
      ++with_delivery;
    }
    if (line.find("\"connection\":") != std::string::npos &&
        line.find("\"host\":\"127.0.0.1 [127.0.0.1]:") != std::string::npos) {
      ++with_connection;
    }
  }
  EXPECT_GT(lines, 3u);
  EXPECT_EQ(with_delivery, 2u) << run.err;
  EXPECT_GT(with_connection, 0u) << run.err;
}

}  // namespace
}  // namespace postino::testing
