// campaign_scale_test.cc: crash safety, several nodes, cron, pause/resume/
// cancel, scheduling and suppression, through the real `postino` binary, a
// real PostgreSQL and real smtp-sink instances.
#include <fmt/format.h>
#include <signal.h>

#include <chrono>
#include <map>
#include <random>
#include <set>
#include <thread>

#include "tests/integration/postino_fixture.h"

namespace postino::testing {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

class CampaignScaleTest : public PostinoTest {
 protected:
  // The test config plus a warm-up plan for source "lo" starting today (UTC)
  // with `plan` ("caps = [...]", optionally "sites = [...]").
  void WriteWarmupConfig(int sink_port, const std::string& plan) {
    std::string today = Sql("SELECT to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD')");
    WriteConfig(sink_port,
                fmt::format("\n[[warmup]]\nsource = \"lo\"\nstart = \"{}\"\n{}\n", today, plan));
  }
};

// The duplicate window per crash: transactions in flight (one per
// connection) plus results delivered but not yet flushed to PostgreSQL
// (written every ~20 ms). See README "Delivery guarantee".
constexpr int kMaxConnections = 10;
constexpr int kFlushBatch = 500;  // replies of the last flush interval and write, generously

TEST_F(CampaignScaleTest, KilledThreeTimesWithSigkillLosesNobody) {
  SmtpSink sink;
  WriteConfig(sink.port(), fmt::format("[limits]\nmax_connections = {}\n", kMaxConnections));
  // Short leases so a killed node's rows come back quickly.
  std::string cfg = ReadFile(config_path_);
  cfg.replace(cfg.find("lease_seconds = 60"), 18, "lease_seconds = 10");
  Write("postino.toml", cfg);
  const int n = 20000;
  Prepare(n);

  std::mt19937 rng(std::random_device{}());
  for (int kill = 0; kill < 3; ++kill) {
    auto engine = StartPostino({"run"}, fmt::format("run{}.log", kill));
    int before = Count("status = 'delivered'");
    // Let it work a random while (at least some deliveries), then SIGKILL.
    ASSERT_TRUE(WaitFor([&] { return Count("status = 'delivered'") > before + 200; }, seconds(60)))
        << ReadFile(dir_ + fmt::format("/run{}.log", kill));
    std::this_thread::sleep_for(milliseconds(std::uniform_int_distribution<int>(0, 1500)(rng)));
    engine->Signal(SIGKILL);
    engine->Wait();
    ASSERT_LT(Count("status = 'delivered'"), n) << "finished before the kill; use more recipients";
  }
  // The same node takes the killed processes' leases back at once.
  ProcessResult rest = Postino({"run", "--until-idle"});
  ASSERT_EQ(rest.exit_code, 0) << rest.err;

  EXPECT_EQ(Sql("SELECT status || ':' || count(*) FROM deliveries GROUP BY status"),
            fmt::format("delivered:{}", n));
  EXPECT_EQ(Sql("SELECT status FROM campaigns"), "finished");
  auto mult = Multiplicity(sink.Recipients());
  EXPECT_EQ(static_cast<int>(mult.size()), n) << "every recipient reached the sink";
  int duplicates = 0;
  for (const auto& [rcpt, count] : mult) duplicates += count - 1;
  std::printf("duplicates after 3 SIGKILLs: %d (window bound %d)\n", duplicates,
              3 * (kMaxConnections + kFlushBatch));
  EXPECT_LE(duplicates, 3 * (kMaxConnections + kFlushBatch));
  // Exactly one final state per delivery, and one event per recorded attempt.
  EXPECT_EQ(Sql("SELECT count(*) FROM deliveries WHERE finished_at IS NULL OR lease_owner IS NOT "
                "NULL"),
            "0");
}

TEST_F(CampaignScaleTest, TwoNodesShareACampaignAndTheSurvivorFinishesIt) {
  SmtpSink sink;
  WriteConfig(sink.port(), fmt::format("[limits]\nmax_connections = {}\n", kMaxConnections));
  std::string cfg = ReadFile(config_path_);
  cfg.replace(cfg.find("lease_seconds = 60"), 18, "lease_seconds = 10");
  // Node B sends from 127.0.0.2.
  std::string cfg_b = cfg;
  cfg_b.replace(cfg_b.find("address = \"127.0.0.1\""), 21, "address = \"127.0.0.2\"");
  Write("postino.toml", cfg);
  std::string path_b = Write("postino-b.toml", cfg_b);
  const int n = 12000;
  Prepare(n);

  auto a = StartPostino({"run", "--node", "a"}, "a.log");
  auto b = std::make_unique<BackgroundProcess>(
      std::vector<std::string>{Binary(), "run", "--node", "b"},
      std::map<std::string, std::string>{{"POSTINO_CONFIG", path_b}}, dir_ + "/b.log");
  ASSERT_TRUE(WaitFor([&] { return Count("status = 'delivered'") > n / 4; }, seconds(60)));
  b->Signal(SIGKILL);
  b->Wait();
  ASSERT_TRUE(WaitFor([&] { return Sql("SELECT status FROM campaigns") == "finished"; },
                      seconds(120)))
      << ReadFile(dir_ + "/a.log");
  a->Signal(SIGTERM);
  EXPECT_EQ(a->Wait(), 0);

  EXPECT_EQ(Count("status = 'delivered'"), n);
  auto mult = Multiplicity(sink.Recipients());
  EXPECT_EQ(static_cast<int>(mult.size()), n);
  int duplicates = 0;
  for (const auto& [rcpt, count] : mult) duplicates += count - 1;
  EXPECT_LE(duplicates, kMaxConnections + kFlushBatch);
  // Both nodes sent: each from its own source address.
  EXPECT_EQ(Sql("SELECT string_agg(DISTINCT source_ip, ',' ORDER BY source_ip) FROM deliveries"),
            "127.0.0.1,127.0.0.2");
}

TEST_F(CampaignScaleTest, OverlappingCronRunsNeverDoubleSend) {
  SmtpSink sink;
  WriteConfig(sink.port());
  const int n = 3000;
  Prepare(n);
  // Two identities: one identity cannot run twice at once (the second
  // process refuses, see campaign_resilience_test).
  auto first = StartPostino({"run", "--until-idle", "--node", "cron1"}, "cron1.log");
  auto second = StartPostino({"run", "--until-idle", "--node", "cron2"}, "cron2.log");
  EXPECT_EQ(first->Wait(seconds(180)), 0) << ReadFile(dir_ + "/cron1.log");
  EXPECT_EQ(second->Wait(seconds(180)), 0) << ReadFile(dir_ + "/cron2.log");
  ProcessResult third = Postino({"run", "--until-idle"});  // whatever is left
  EXPECT_EQ(third.exit_code, 0);
  EXPECT_EQ(Count("status = 'delivered'"), n);
  std::vector<std::string> rcpts = sink.Recipients();
  EXPECT_EQ(rcpts.size(), static_cast<size_t>(n)) << "no duplicates without a crash";
  EXPECT_EQ(Multiplicity(rcpts).size(), static_cast<size_t>(n));
}

TEST_F(CampaignScaleTest, PauseResumeAndCancelTakeEffectWithinTwoSeconds) {
  // A slow sink (1 s before answering DATA on 20% of transactions) and two
  // connections keep the campaign running long enough to steer it.
  SmtpSink sink({"-W", "DATA:1:20"});
  WriteConfig(sink.port(), "[limits]\nmax_connections = 2\n");
  const int n = 3000;
  Prepare(n);
  auto engine = StartPostino({"run"}, "run.log");
  ASSERT_TRUE(WaitFor([&] { return sink.Recipients().size() > 30; }, seconds(60)));

  // After 2 s no new transaction may start; the ones already in flight (at
  // most one per connection, 2 here) may still complete.
  ASSERT_EQ(Postino({"campaign", "pause", "c"}).exit_code, 0);
  std::this_thread::sleep_for(seconds(2));
  size_t at_pause = sink.Recipients().size();
  std::this_thread::sleep_for(seconds(3));
  EXPECT_LE(sink.Recipients().size(), at_pause + 2) << "messages still sent 2 s after pause";
  at_pause = sink.Recipients().size();
  EXPECT_EQ(Sql("SELECT count(*) FROM deliveries WHERE lease_owner IS NOT NULL"), "0")
      << "a paused campaign's queued rows are given back";

  ASSERT_EQ(Postino({"campaign", "resume", "c"}).exit_code, 0);
  ASSERT_TRUE(WaitFor([&] { return sink.Recipients().size() > at_pause + 20; }, seconds(10)))
      << "resume did not restart sending";

  ProcessResult cancel = Postino({"campaign", "cancel", "c"});
  ASSERT_EQ(cancel.exit_code, 0) << cancel.err;
  std::this_thread::sleep_for(seconds(2));
  size_t at_cancel = sink.Recipients().size();
  std::this_thread::sleep_for(seconds(3));
  EXPECT_LE(sink.Recipients().size(), at_cancel + 2) << "messages still sent 2 s after cancel";
  // No recipient in limbo: everything is delivered or cancelled.
  ASSERT_TRUE(WaitFor([&] { return Count("status IN ('pending', 'deferred')") == 0; }, seconds(10)))
      << Sql("SELECT status, count(*), count(lease_owner) FROM deliveries GROUP BY status");
  EXPECT_EQ(Count("status = 'delivered'") + Count("status = 'cancelled'"), n);
  EXPECT_EQ(Count("status = 'delivered'"), static_cast<int>(Multiplicity(sink.Recipients()).size()));
  EXPECT_GT(Count("status = 'cancelled'"), 0);
  engine->Signal(SIGTERM);
  EXPECT_EQ(engine->Wait(), 0);
  EXPECT_EQ(Sql("SELECT status FROM campaigns"), "cancelled");
}

TEST_F(CampaignScaleTest, HardBouncesAreSuppressedAndSkippedByTheNextCampaign) {
  SmtpSink good;
  // This sink refuses every recipient as unknown.
  SmtpSink bad({"-f", "RCPT", "-B", "550 5.1.1 <x>: Recipient address rejected: User unknown"});
  WriteConfig(good.port(), fmt::format("\n[[routes]]\ndomain = \"example.org\"\nto = "
                                       "\"127.0.0.1:{}\"\ntls = \"none\"\n",
                                       bad.port()));
  const int n = 300;  // a third of them at example.org
  Prepare(n, "first");
  ASSERT_EQ(Postino({"run", "--until-idle"}).exit_code, 0);
  EXPECT_EQ(Count("status = 'bounced'"), n / 3);
  EXPECT_EQ(Sql("SELECT count(*) FROM suppressions WHERE reason = 'hard_bounce'"),
            std::to_string(n / 3));
  EXPECT_EQ(Sql("SELECT DISTINCT last_enhanced FROM deliveries WHERE status = 'bounced'"), "5.1.1");

  Launch("second");
  ProcessResult r = Postino({"run", "--until-idle"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(Sql("SELECT count(*) FROM deliveries d JOIN campaigns c ON c.id = d.campaign_id WHERE "
                "c.name = 'second' AND d.status = 'suppressed'"),
            std::to_string(n / 3));
  EXPECT_EQ(Sql("SELECT count(*) FROM deliveries d JOIN campaigns c ON c.id = d.campaign_id WHERE "
                "c.name = 'second' AND d.status = 'delivered'"),
            std::to_string(n - n / 3));
  ProcessResult report = Postino({"campaign", "report", "first"});
  EXPECT_NE(report.out.find("5.1.1"), std::string::npos) << report.out;
}

TEST_F(CampaignScaleTest, TemporaryFailuresAreRetriedOnScheduleAndThenDelivered) {
  // First every RCPT gets 450 4.2.1; after the route is switched to a sink
  // that accepts, the retry (1 s later, from the database) delivers.
  // The reply carries a Latin-1 byte, as some European MXes send: it must be
  // stored (sanitised), never block the results.
  SmtpSink soft({"-r", "RCPT", "-b", "450 4.2.1 Empf\xe4nger busy, try again later"});
  SmtpSink good;
  WriteConfig(soft.port(), "[retry]\nschedule = [\"1s\"]\njitter = 0.0\n");
  const int n = 60;
  Prepare(n);
  ProcessResult first = Postino({"run", "--until-idle"});
  ASSERT_EQ(first.exit_code, 0) << first.err;
  EXPECT_EQ(Count("status = 'deferred' AND attempts = 1 AND last_code = 450 AND last_enhanced = "
                  "'4.2.1' AND next_attempt_at > now() - interval '1 second'"),
            n);
  EXPECT_EQ(Count("last_reply LIKE '%Empf\xEF\xBF\xBDnger busy, try again later'"), n)
      << Sql("SELECT last_reply FROM deliveries LIMIT 1");
  EXPECT_EQ(Sql("SELECT status FROM campaigns"), "running");
  WriteConfig(good.port(), "[retry]\nschedule = [\"1s\"]\njitter = 0.0\n");
  std::this_thread::sleep_for(milliseconds(1500));
  ProcessResult second = Postino({"run", "--until-idle"});
  ASSERT_EQ(second.exit_code, 0) << second.err;
  EXPECT_EQ(Count("status = 'delivered' AND attempts = 2"), n);
  EXPECT_EQ(Sql("SELECT string_agg(status || ':' || n, ',' ORDER BY status) FROM (SELECT status, "
                "count(*) n FROM delivery_events GROUP BY status) x"),
            fmt::format("deferred:{0},delivered:{0}", n));
  EXPECT_EQ(good.Recipients().size(), static_cast<size_t>(n));
}

TEST_F(CampaignScaleTest, ARuleForADomainSetsItsOwnRetrySchedule) {
  SmtpSink soft({"-r", "RCPT", "-b", "450 4.2.1 try again later"});
  WriteConfig(soft.port(), R"([retry]
schedule = ["10m"]
jitter = 0.0

[limits]
[[limits.rules]]
match = "example.org"
retry_schedule = ["30s"]
)");
  Prepare(30);  // 10 of them at example.org
  ASSERT_EQ(Postino({"run", "--until-idle"}).exit_code, 0);
  EXPECT_EQ(Count("domain = 'example.org' AND next_attempt_at - last_attempt_at BETWEEN "
                  "interval '29 seconds' AND interval '31 seconds'"),
            10);
  EXPECT_EQ(Count("domain <> 'example.org' AND next_attempt_at - last_attempt_at BETWEEN "
                  "interval '599 seconds' AND interval '601 seconds'"),
            20);
}

TEST_F(CampaignScaleTest, UntilIdleFailsWithAMessageWhenTheDatabaseIsDown) {
  WriteConfig(2525);
  std::string cfg = ReadFile(config_path_);
  size_t at = cfg.find("url = \"");
  cfg.replace(at, cfg.find('\n', at) - at, "url = \"postgresql://postgres@127.0.0.1:1/none\"");
  Write("postino.toml", cfg);
  ProcessResult r = Postino({"run", "--until-idle"});
  EXPECT_EQ(r.exit_code, 4);
  EXPECT_NE(r.err.find("cannot connect to PostgreSQL"), std::string::npos) << r.err;
}

TEST_F(CampaignScaleTest, RecipientsPastTheirMaximumAgeExpire) {
  SmtpSink soft({"-r", "RCPT", "-b", "451 4.7.1 Greylisted, please try again"});
  WriteConfig(soft.port(), "[retry]\nschedule = [\"1s\"]\njitter = 0.0\n");
  ASSERT_EQ(Postino({"db", "migrate"}).exit_code, 0);
  ASSERT_EQ(Postino({"list", "import", "news", WriteRecipients(20)}).exit_code, 0);
  AddTemplate();
  ASSERT_EQ(Postino({"campaign", "create", "old", "--list", "news", "--template", "t", "--from",
                     "a@news.example.com", "--max-age", "2s"})
                .exit_code,
            0);
  ASSERT_EQ(Postino({"campaign", "launch", "old"}).exit_code, 0);
  // Time before the first attempt (paused, scheduled, queued) never counts.
  std::this_thread::sleep_for(milliseconds(2500));
  ASSERT_EQ(Postino({"run", "--until-idle"}).exit_code, 0);
  EXPECT_EQ(Count("status = 'deferred'"), 20) << "expired before its first attempt";
  std::this_thread::sleep_for(milliseconds(2500));
  ProcessResult r = Postino({"run", "--until-idle"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(Count("status = 'expired' AND attempts = 2 AND last_code = 451 AND last_reply LIKE "
                  "'%Greylisted%'"),
            20);
  EXPECT_EQ(Sql("SELECT status FROM campaigns"), "finished");
  ProcessResult report = Postino({"campaign", "report", "old", "--format", "json"});
  EXPECT_NE(report.out.find("\"expired\": 20"), std::string::npos) << report.out;
}

// A provider's rate-limit reply slows the egress path down (shipped backoff
// rules); the slow-down is recorded and shown by `postino sources`; SIGHUP
// reloads a valid configuration and refuses a broken one.
TEST_F(CampaignScaleTest, ThrottleReplySlowsThePathAndSourcesShowsIt) {
  SmtpSink gmail({"-r", "RCPT", "-b",
                  "421 4.7.28 Our system has detected an unusual rate of unsolicited mail "
                  "originating from your IP address. - gsmtp"});
  WriteConfig(gmail.port());
  Prepare(30);
  auto engine = StartPostino({"run"}, "run.log");
  ASSERT_TRUE(WaitFor([&] {
    return Sql("SELECT count(*) FROM egress_events WHERE action = 'slowed'") != "0";
  }, seconds(60))) << ReadFile(dir_ + "/run.log");
  EXPECT_EQ(Sql("SELECT DISTINCT source_name FROM egress_events WHERE action = 'slowed'"), "lo");
  EXPECT_EQ(Sql("SELECT DISTINCT rate FROM egress_events WHERE action = 'slowed'"), "100/hour");
  EXPECT_NE(Sql("SELECT DISTINCT reply FROM egress_events WHERE action = 'slowed'").find("4.7.28"),
            std::string::npos);
  ProcessResult sources = Postino({"sources"});
  ASSERT_EQ(sources.exit_code, 0) << sources.err;
  EXPECT_NE(sources.out.find("limited"), std::string::npos) << sources.out;
  EXPECT_NE(sources.out.find("slowed to 100/hour"), std::string::npos) << sources.out;

  // A broken file is refused on SIGHUP; the engine keeps running.
  std::string good = ReadFile(config_path_);
  Write("postino.toml", good + "\n[limits]\nmax_message_rate = \"fast\"\n");
  engine->Signal(SIGHUP);
  ASSERT_TRUE(WaitFor([&] {
    return ReadFile(dir_ + "/run.log").find("configuration not reloaded") != std::string::npos;
  }, seconds(10)));
  EXPECT_NE(ReadFile(dir_ + "/run.log").find("max_message_rate"), std::string::npos);
  EXPECT_TRUE(engine->Running());
  Write("postino.toml", good);
  engine->Signal(SIGHUP);
  ASSERT_TRUE(WaitFor([&] {
    return ReadFile(dir_ + "/run.log").find("configuration reloaded") != std::string::npos;
  }, seconds(10)));
  EXPECT_TRUE(engine->Running());
  engine->Signal(SIGTERM);
  EXPECT_EQ(engine->Wait(), 0);
  // Recipients were deferred, never bounced, never lost.
  EXPECT_EQ(Count("status IN ('deferred', 'pending')"), 30);
}

TEST_F(CampaignScaleTest, SuppressCommands) {
  WriteConfig(2525);
  ASSERT_EQ(Postino({"db", "migrate"}).exit_code, 0);
  ProcessResult add = Postino({"suppress", "add", "Someone@Example.COM", "--reason", "unsubscribe"});
  ASSERT_EQ(add.exit_code, 0) << add.err;
  std::string csv = Write("sup.csv",
                          "email,reason\na@example.com,complaint\nbroken,manual\n"
                          "b@example.com,\nc@example.com,nonsense\n");
  ProcessResult imp = Postino({"suppress", "import", csv});
  EXPECT_EQ(imp.exit_code, 5);
  EXPECT_NE(imp.err.find("sup.csv:3: invalid address \"broken\""), std::string::npos) << imp.err;
  EXPECT_NE(imp.err.find("sup.csv:5: reason \"nonsense\""), std::string::npos) << imp.err;
  EXPECT_EQ(Sql("SELECT string_agg(email_key || '=' || reason, ',' ORDER BY email_key) FROM "
                "suppressions"),
            "a@example.com=complaint,b@example.com=manual,someone@example.com=unsubscribe");
  ProcessResult ls = Postino({"suppress", "ls"});
  EXPECT_NE(ls.out.find("someone@example.com"), std::string::npos);
  EXPECT_EQ(Postino({"suppress", "rm", "a@example.com"}).exit_code, 0);
  EXPECT_EQ(Postino({"suppress", "rm", "a@example.com"}).exit_code, 6);
}

TEST_F(CampaignScaleTest, ScheduledCampaignStartsWhenDue) {
  SmtpSink sink;
  WriteConfig(sink.port());
  ASSERT_EQ(Postino({"db", "migrate"}).exit_code, 0);
  ASSERT_EQ(Postino({"list", "import", "news", WriteRecipients(50)}).exit_code, 0);
  AddTemplate();
  // Three seconds from now, written as Rome local time.
  std::string at = Sql(
      "SELECT to_char((now() + interval '3 seconds') AT TIME ZONE 'Europe/Rome', "
      "'YYYY-MM-DD HH24:MI:SS')") + " Europe/Rome";
  ProcessResult c = Postino({"campaign", "create", "later", "--list", "news", "--template", "t",
                             "--from", "a@news.example.com", "--at", at});
  ASSERT_EQ(c.exit_code, 0) << c.err;
  ASSERT_EQ(Postino({"campaign", "launch", "later"}).exit_code, 0);
  EXPECT_EQ(Sql("SELECT status FROM campaigns"), "scheduled");
  ProcessResult early = Postino({"run", "--until-idle"});
  EXPECT_EQ(early.exit_code, 0);
  EXPECT_EQ(Count("status = 'delivered'"), 0) << "sent before its time";
  std::this_thread::sleep_for(seconds(4));
  ProcessResult due = Postino({"run", "--until-idle"});
  EXPECT_EQ(due.exit_code, 0) << due.err;
  EXPECT_EQ(Count("status = 'delivered'"), 50);
  EXPECT_EQ(Sql("SELECT status FROM campaigns"), "finished");
}

TEST_F(CampaignScaleTest, BadSchedulingAndLaunchInputChangesNothing) {
  WriteConfig(2525);
  ASSERT_EQ(Postino({"db", "migrate"}).exit_code, 0);
  ASSERT_EQ(Postino({"list", "import", "news", WriteRecipients(5)}).exit_code, 0);
  AddTemplate();
  auto create = [&](const std::string& name, const std::string& at) {
    return Postino({"campaign", "create", name, "--list", "news", "--template", "t", "--from",
                    "a@news.example.com", "--at", at});
  };
  ProcessResult bad_time = create("x", "next tuesday");
  EXPECT_EQ(bad_time.exit_code, 2);
  EXPECT_NE(bad_time.err.find("cannot read time \"next tuesday\""), std::string::npos)
      << bad_time.err;
  ProcessResult bad_zone = create("x", "2026-12-01 09:00 Mars/Olympus");
  EXPECT_EQ(bad_zone.exit_code, 2);
  EXPECT_NE(bad_zone.err.find("unknown time zone \"Mars/Olympus\""), std::string::npos);
  ProcessResult bad_date = create("x", "2026-02-30 09:00 UTC");
  EXPECT_EQ(bad_date.exit_code, 2);
  EXPECT_EQ(Sql("SELECT count(*) FROM campaigns"), "0");

  // A campaign on an empty list cannot be launched.
  std::string empty = Write("empty.csv", "email\n");
  ASSERT_EQ(Postino({"list", "import", "empty", empty}).exit_code, 0);
  ASSERT_EQ(Postino({"campaign", "create", "e", "--list", "empty", "--template", "t", "--from",
                     "a@news.example.com"})
                .exit_code,
            0);
  ProcessResult launch_empty = Postino({"campaign", "launch", "e"});
  EXPECT_EQ(launch_empty.exit_code, 7);
  EXPECT_NE(launch_empty.err.find("no members"), std::string::npos) << launch_empty.err;
  EXPECT_EQ(Sql("SELECT status FROM campaigns WHERE name = 'e'"), "draft");

  // Launching twice, or a cancelled campaign, is refused and changes nothing.
  ASSERT_EQ(Postino({"campaign", "create", "f", "--list", "news", "--template", "t", "--from",
                     "a@news.example.com"})
                .exit_code,
            0);
  ASSERT_EQ(Postino({"campaign", "launch", "f"}).exit_code, 0);
  ProcessResult again = Postino({"campaign", "launch", "f"});
  EXPECT_EQ(again.exit_code, 7);
  EXPECT_NE(again.err.find("only a draft campaign can be launched"), std::string::npos);
  ASSERT_EQ(Postino({"campaign", "cancel", "f"}).exit_code, 0);
  ProcessResult relaunch = Postino({"campaign", "launch", "f"});
  EXPECT_EQ(relaunch.exit_code, 7);
  EXPECT_EQ(Sql("SELECT count(*) FROM deliveries d JOIN campaigns c ON c.id = d.campaign_id "
                "WHERE c.name = 'f'"),
            "5");
  EXPECT_EQ(Postino({"campaign", "launch", "nope"}).exit_code, 6);
}

}  // namespace
}  // namespace postino::testing

namespace postino::testing {
namespace {

// A per-site warm-up cap still holds after a restart: today's deliveries are
// read back per source and MX site (delivery_events.site).
TEST_F(CampaignScaleTest, PerSiteWarmupCapsHoldAcrossARestart) {
  SmtpSink sink;
  // Every recipient goes through the static route to 127.0.0.1: one site,
  // capped at 30 a day; the source itself may send 1,000.
  WriteWarmupConfig(sink.port(), "caps = [1000]\nsites = [{ site = \"127.0.0.1\", caps = [30] }]");
  Prepare(100);
  auto run = [&](const std::string& log) {
    auto engine = StartPostino({"run"}, log);
    // Give it time to send more than the cap if it would.
    std::this_thread::sleep_for(seconds(3));
    engine->Signal(SIGTERM);
    EXPECT_EQ(engine->Wait(seconds(60)), 0);
  };
  run("run1.log");
  EXPECT_EQ(Count("status = 'delivered'"), 30);
  // The site of a static route is its host and port (issue 14); the cap's
  // pattern names the host alone.
  EXPECT_EQ(Sql("SELECT DISTINCT site FROM delivery_events"),
            "127.0.0.1:" + std::to_string(sink.port()));
  run("run2.log");
  EXPECT_EQ(Count("status = 'delivered'"), 30) << "the restarted run forgot today's site count";
  EXPECT_EQ(sink.Recipients().size(), 30u);
  EXPECT_EQ(Count("lease_owner IS NOT NULL"), 0);
}

}  // namespace
}  // namespace postino::testing

namespace postino::testing {
namespace {

// A cron `run --until-idle` must not wait for tomorrow's warm-up cap: the
// recipients it cannot send now go back to the database, postponed, and it
// exits 0.
TEST_F(CampaignScaleTest, UntilIdleEndsWhenOnlyCappedRecipientsAreLeft) {
  SmtpSink sink;
  WriteWarmupConfig(sink.port(), "caps = [25]");
  Prepare(60);
  auto start = std::chrono::steady_clock::now();
  ProcessResult run = Postino({"run", "--until-idle"});
  EXPECT_EQ(run.exit_code, 0) << run.err;
  EXPECT_LT(std::chrono::steady_clock::now() - start, seconds(60));
  EXPECT_NE(run.err.find("35 recipients cannot be sent now"), std::string::npos) << run.err;
  EXPECT_EQ(Count("status = 'delivered'"), 25);
  EXPECT_EQ(sink.Recipients().size(), 25u);
  // The rest wait, untouched: no attempt, no lease, due in about 15 minutes.
  EXPECT_EQ(Count("status = 'pending' AND attempts = 0 AND lease_owner IS NULL AND "
                  "next_attempt_at > now() + interval '10 minutes'"),
            35);
  EXPECT_EQ(Sql("SELECT count(*) FROM delivery_events"), "25");
  // A second cron run finds nothing due and exits at once.
  ProcessResult again = Postino({"run", "--until-idle"});
  EXPECT_EQ(again.exit_code, 0) << again.err;
  EXPECT_EQ(Count("status = 'delivered'"), 25);
}

// A path whose rate allows the next message within a minute is waited for,
// not postponed: --until-idle sends all of it.
TEST_F(CampaignScaleTest, UntilIdleWaitsForARateThatAllowsTheNextMessageSoon) {
  SmtpSink sink;
  // One site (the static route's host) at one message per 20 s: longer than
  // the idle timeout plus the stall grace, shorter than a minute.
  WriteConfig(sink.port(), "[limits]\nmax_message_rate = \"3/min\"\n");
  Prepare(3);
  auto start = std::chrono::steady_clock::now();
  ProcessResult run = Postino({"run", "--until-idle"});
  EXPECT_EQ(run.exit_code, 0) << run.err;
  EXPECT_EQ(Count("status = 'delivered'"), 3) << run.err;
  EXPECT_EQ(run.err.find("cannot be sent now"), std::string::npos) << run.err;
  EXPECT_GE(std::chrono::steady_clock::now() - start, seconds(35));  // the rate did apply
}

}  // namespace
}  // namespace postino::testing
