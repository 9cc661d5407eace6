// engine_test.cc: delivery engine behaviour over plain SMTP against the fake
// MX and Postfix's smtp-sink: pipelining, connection reuse, per-recipient
// replies, RSET, timeouts, broken servers, source binding, shutdown.
#include <gtest/gtest.h>

#include <unistd.h>

#include <filesystem>
#include <set>

#include "tests/fakemx/fake_mx.h"
#include "tests/integration/engine/engine_fixture.h"

namespace postino::testing {
namespace {

using namespace std::chrono_literals;
using delivery::Disposition;
using fakemx::FakeMx;
using fakemx::Script;

TEST_F(EngineTest, DeliversManyMessagesOverFewPipelinedConnections) {
  FakeMx mx(Script{});
  auto config = BaseConfig();
  config.routes.push_back(StaticRoute("example.com", mx.port()));
  config.max_connections_per_destination = 2;
  StartEngine(config);
  for (int i = 0; i < 30; ++i) Send("example.com", "user" + std::to_string(i));
  ASSERT_TRUE(WaitForOutcomes(30));
  for (const auto& o : outcomes_) {
    EXPECT_EQ(o.disposition, Disposition::kDelivered) << o.reply.ToString();
    EXPECT_EQ(o.reply.code, 250);
    EXPECT_EQ(o.phase, smtp::Phase::kEndOfData);
    EXPECT_EQ(o.source_address, "127.0.0.1");
    EXPECT_EQ(o.mx_host, "127.0.0.1");
    EXPECT_TRUE(o.tls_version.empty());
  }
  EXPECT_EQ(engine_->in_flight(), 0u);
  ASSERT_EQ(mx.accepted_messages(), 30u);
  EXPECT_LE(mx.total_connections(), 2);
  EXPECT_LE(mx.max_concurrent_connections(), 2);
  // The body arrives intact (dot-stuffing undone by the server).
  auto messages = mx.messages();
  EXPECT_EQ(messages[0].data, *body_);
  // PIPELINING: MAIL, RCPT and DATA of one transaction arrive in one segment.
  auto conns = mx.connections();
  const auto& cmds = conns[0].commands;
  bool checked = false;
  for (size_t i = 0; i + 2 < cmds.size(); ++i) {
    if (cmds[i].line.rfind("MAIL FROM:", 0) == 0) {
      EXPECT_EQ(cmds[i + 1].line.rfind("RCPT TO:", 0), 0u);
      EXPECT_EQ(cmds[i + 2].line, "DATA");
      EXPECT_EQ(cmds[i].read_index, cmds[i + 1].read_index);
      EXPECT_EQ(cmds[i].read_index, cmds[i + 2].read_index);
      checked = true;
    }
  }
  EXPECT_TRUE(checked);
  EXPECT_EQ(conns[0].ehlo_name, "client.postino.test");
}

TEST_F(EngineTest, ManyTransactionsPerConnectionThenQuit) {
  FakeMx mx(Script{});
  auto config = BaseConfig();
  config.routes.push_back(StaticRoute("example.com", mx.port()));
  config.max_connections_per_destination = 1;
  config.max_messages_per_connection = 4;
  StartEngine(config);
  for (int i = 0; i < 10; ++i) Send("example.com");
  ASSERT_TRUE(WaitForOutcomes(10));
  ASSERT_TRUE(RunUntil([&] { return mx.open_connections() == 0; }, 5s));
  EXPECT_EQ(mx.accepted_messages(), 10u);
  EXPECT_EQ(mx.total_connections(), 3);  // 4 + 4 + 2
  for (const auto& c : mx.connections()) {
    ASSERT_FALSE(c.commands.empty());
    EXPECT_EQ(c.commands.back().line, "QUIT");
    int mails = 0;
    for (const auto& cmd : c.commands) mails += cmd.line.rfind("MAIL", 0) == 0;
    EXPECT_LE(mails, 4);
  }
}

TEST_F(EngineTest, IdleConnectionQuitsAfterIdleTimeout) {
  FakeMx mx(Script{});
  auto config = BaseConfig();
  config.routes.push_back(StaticRoute("example.com", mx.port()));
  config.idle_timeout = 100ms;
  StartEngine(config);
  Send("example.com");
  ASSERT_TRUE(WaitForOutcomes(1));
  ASSERT_TRUE(RunUntil([&] { return mx.open_connections() == 0 && mx.total_connections() == 1; },
                       3s));
  auto conns = mx.connections();
  EXPECT_EQ(conns[0].commands.back().line, "QUIT");
}

TEST_F(EngineTest, RecipientRepliesBecomeDispositionsAndRsetFollowsFailure) {
  Script script;
  script.override = [](std::string_view verb, std::string_view arg,
                       int) -> std::optional<fakemx::Step> {
    if (verb == "RCPT" && arg.find("full@") != std::string_view::npos) {
      return fakemx::Reply("452 4.2.2 Mailbox full");
    }
    if (verb == "RCPT" && arg.find("nobody@") != std::string_view::npos) {
      return fakemx::Reply("550 5.1.1 No such user");
    }
    return std::nullopt;
  };
  FakeMx mx(script);
  auto config = BaseConfig();
  config.routes.push_back(StaticRoute("example.com", mx.port()));
  config.max_connections_per_destination = 1;
  StartEngine(config);
  uint64_t full = Send("example.com", "full");
  uint64_t nobody = Send("example.com", "nobody");
  uint64_t ok = Send("example.com", "ok");
  ASSERT_TRUE(WaitForOutcomes(3));
  ASSERT_NE(OutcomeFor(full), nullptr);
  EXPECT_EQ(OutcomeFor(full)->disposition, Disposition::kDeferred);
  EXPECT_EQ(OutcomeFor(full)->reply.code, 452);
  EXPECT_EQ(OutcomeFor(full)->phase, smtp::Phase::kRcpt);
  EXPECT_EQ(OutcomeFor(nobody)->disposition, Disposition::kBounced);
  EXPECT_EQ(OutcomeFor(nobody)->reply.enhanced, "5.1.1");
  EXPECT_EQ(OutcomeFor(ok)->disposition, Disposition::kDelivered);
  EXPECT_EQ(mx.accepted_messages(), 1u);
  // RSET after each failed transaction, none after the good one.
  std::vector<std::string> verbs;
  auto conns = mx.connections();
  for (const auto& c : conns[0].commands) verbs.push_back(c.line.substr(0, 4));
  int rsets = static_cast<int>(std::count(verbs.begin(), verbs.end(), "RSET"));
  EXPECT_EQ(rsets, 2);
}

TEST_F(EngineTest, EndOfDataRepliesDecide) {
  Script script;
  int n = 0;
  script.end_of_data = fakemx::Reply("554 5.7.1 Message rejected as spam");
  script.override = [&n](std::string_view verb, std::string_view,
                         int) -> std::optional<fakemx::Step> {
    if (verb == "EOD" && n++ == 1) return fakemx::Reply("451 4.7.1 Try again later");
    return std::nullopt;
  };
  FakeMx mx(script);
  auto config = BaseConfig();
  config.routes.push_back(StaticRoute("example.com", mx.port()));
  config.max_connections_per_destination = 1;
  StartEngine(config);
  uint64_t a = Send("example.com");
  uint64_t b = Send("example.com");
  ASSERT_TRUE(WaitForOutcomes(2));
  EXPECT_EQ(OutcomeFor(a)->disposition, Disposition::kBounced);
  EXPECT_EQ(OutcomeFor(a)->phase, smtp::Phase::kEndOfData);
  EXPECT_EQ(OutcomeFor(b)->disposition, Disposition::kDeferred);
  EXPECT_EQ(OutcomeFor(b)->reply.code, 451);
}

// Issue 11 item 2: a server answering 250 (not 354) to DATA used to leave
// the message recorded as delivered though no body was sent.
TEST_F(EngineTest, A2xxReplyToDataIsNotADelivery) {
  Script script;
  script.data = fakemx::Reply("250 2.0.0 Ok");
  FakeMx mx(script);
  StartRoutedTo(mx);
  uint64_t id = Send("example.com");
  ASSERT_TRUE(WaitForOutcomes(1));
  const auto* o = OutcomeFor(id);
  EXPECT_EQ(o->disposition, Disposition::kDeferred) << o->reply.ToString();
  EXPECT_EQ(o->phase, smtp::Phase::kData);
  EXPECT_EQ(o->reply.code, 451);
  EXPECT_TRUE(o->reply.local);
  EXPECT_FALSE(o->decision.suppress);
  EXPECT_EQ(mx.messages().size(), 0u);
}

// Issue 11 item 1: one 550 of 20 lines x 3,900 characters (about 78 KB)
// crashed `postino run` (std::regex recursion while matching backoff
// rules). The recipient gets a decision and the engine goes on sending.
TEST_F(EngineTest, AHugeMultiLineReplyIsClassifiedAndTheEngineLives) {
  std::string huge;
  for (int i = 0; i < 20; ++i) {
    huge += (i < 19 ? "550-5.6.0 " : "550 5.6.0 ");
    for (int j = 0; j < 216; ++j) huge += "content rejected. ";
    huge.resize(huge.size() - 1);
    if (i < 19) huge += "\r\n";
  }
  Script script;
  script.override = [huge](std::string_view verb, std::string_view arg,
                           int) -> std::optional<fakemx::Step> {
    if (verb == "RCPT" && arg.find("huge@") != std::string_view::npos) return fakemx::Reply(huge);
    return std::nullopt;
  };
  FakeMx mx(script);
  StartRoutedTo(mx);
  uint64_t bad = Send("example.com", "huge");
  ASSERT_TRUE(WaitForOutcomes(1, std::chrono::seconds(60)));
  const auto* o = OutcomeFor(bad);
  ASSERT_NE(o, nullptr);
  EXPECT_EQ(o->disposition, Disposition::kBounced) << o->reply.ToString().substr(0, 200);
  EXPECT_EQ(o->reply.code, 550);
  EXPECT_FALSE(o->decision.suppress);  // content: no recipient to blame
  // Still alive and sending: a later message to another recipient goes out.
  uint64_t good = Send("example.com", "fine");
  ASSERT_TRUE(WaitForOutcomes(2, std::chrono::seconds(60)));
  ASSERT_NE(OutcomeFor(good), nullptr);
  EXPECT_NE(OutcomeFor(good)->reply.code, 0);
}

TEST_F(EngineTest, ConnectionRefusedIsDeferred) {
  uint16_t port = FreePort();  // nothing listens there
  auto config = BaseConfig();
  config.routes.push_back(StaticRoute("example.com", port));
  StartEngine(config);
  uint64_t a = Send("example.com");
  uint64_t b = Send("example.com");
  ASSERT_TRUE(WaitForOutcomes(2));
  for (uint64_t id : {a, b}) {
    EXPECT_EQ(OutcomeFor(id)->disposition, Disposition::kDeferred);
    EXPECT_TRUE(OutcomeFor(id)->reply.local);
    EXPECT_EQ(OutcomeFor(id)->reply.code / 100, 4);
  }
}

// Every phase timing out defers the message and nothing hangs.
struct TimeoutCase {
  const char* name;
  std::function<void(Script*)> setup;
};

// gtest prints a parameter with PrintTo: the phase name, not raw bytes.
void PrintTo(const TimeoutCase& c, std::ostream* os) { *os << c.name; }

class EngineTimeoutTest : public EngineTest,
                          public ::testing::WithParamInterface<TimeoutCase> {};

TEST_P(EngineTimeoutTest, PhaseTimeoutDefers) {
  Script script;
  GetParam().setup(&script);
  FakeMx mx(script);
  auto config = BaseConfig();
  config.routes.push_back(StaticRoute("example.com", mx.port()));
  for (auto* t : {&config.timeouts.banner, &config.timeouts.ehlo, &config.timeouts.mail,
                  &config.timeouts.rcpt, &config.timeouts.data, &config.timeouts.end_of_data,
                  &config.timeouts.starttls, &config.timeouts.rset}) {
    *t = 300ms;
  }
  StartEngine(config);
  auto start = std::chrono::steady_clock::now();
  uint64_t id = Send("example.com");
  ASSERT_TRUE(WaitForOutcomes(1, 10s));
  EXPECT_LT(std::chrono::steady_clock::now() - start, 5s);
  EXPECT_EQ(OutcomeFor(id)->disposition, Disposition::kDeferred)
      << OutcomeFor(id)->reply.ToString();
  EXPECT_TRUE(OutcomeFor(id)->reply.local);
  EXPECT_NE(OutcomeFor(id)->reply.Text().find("timeout"), std::string::npos)
      << OutcomeFor(id)->reply.ToString();
  mx.Stop();
}

fakemx::Step Silent() {
  fakemx::Step s;
  s.silent = true;
  return s;
}

INSTANTIATE_TEST_SUITE_P(
    Phases, EngineTimeoutTest,
    ::testing::Values(TimeoutCase{"banner", [](Script* s) { s->banner = Silent(); }},
                      TimeoutCase{"ehlo", [](Script* s) { s->ehlo = Silent(); }},
                      TimeoutCase{"mail", [](Script* s) { s->mail = Silent(); }},
                      TimeoutCase{"rcpt", [](Script* s) { s->rcpt = Silent(); }},
                      TimeoutCase{"data", [](Script* s) { s->data = Silent(); }},
                      TimeoutCase{"end_of_data", [](Script* s) { s->end_of_data = Silent(); }}),
    [](const ::testing::TestParamInfo<TimeoutCase>& info) { return info.param.name; });

TEST_F(EngineTest, CloseMidDataIsDeferred) {
  Script script;
  script.close_mid_data_after = 10;
  FakeMx mx(script);
  StartRoutedTo(mx);
  uint64_t id = Send("example.com");
  ASSERT_TRUE(WaitForOutcomes(1));
  EXPECT_EQ(OutcomeFor(id)->disposition, Disposition::kDeferred);
  EXPECT_TRUE(OutcomeFor(id)->reply.local);
  EXPECT_EQ(mx.accepted_messages(), 0u);
}

TEST_F(EngineTest, GarbageReplyIsDeferred) {
  Script script;
  script.mail = fakemx::Reply("HELLO THERE \x01\x02 not smtp");
  FakeMx mx(script);
  StartRoutedTo(mx);
  uint64_t id = Send("example.com");
  ASSERT_TRUE(WaitForOutcomes(1));
  EXPECT_EQ(OutcomeFor(id)->disposition, Disposition::kDeferred);
  EXPECT_TRUE(OutcomeFor(id)->reply.local);
}

TEST_F(EngineTest, OverlongReplyIsDeferred) {
  Script script;
  script.rcpt = fakemx::Reply("250-" + std::string(200000, 'x') + "\r\n250 ok");
  FakeMx mx(script);
  StartRoutedTo(mx);
  uint64_t id = Send("example.com");
  ASSERT_TRUE(WaitForOutcomes(1));
  EXPECT_EQ(OutcomeFor(id)->disposition, Disposition::kDeferred);
  EXPECT_TRUE(OutcomeFor(id)->reply.local);
  EXPECT_EQ(mx.accepted_messages(), 0u);
}

TEST_F(EngineTest, RepliesSplitAcrossSegmentsAreReassembled) {
  Script script;
  script.banner.split_at = 5;
  script.end_of_data = fakemx::Reply("250-2.0.0 first line\r\n250 2.0.0 queued as X");
  script.end_of_data.split_at = 10;
  FakeMx mx(script);
  StartRoutedTo(mx);
  uint64_t id = Send("example.com");
  ASSERT_TRUE(WaitForOutcomes(1));
  EXPECT_EQ(OutcomeFor(id)->disposition, Disposition::kDelivered);
  EXPECT_EQ(OutcomeFor(id)->reply.lines.size(), 2u);
}

TEST_F(EngineTest, BindsSourceAddressAndAnnouncesItsEhloName) {
  FakeMx mx(Script{});
  auto config = BaseConfig();
  config.sources = {delivery::Source{"ip2", "127.0.0.2", "ip2.postino.test", 1, "bulk"}};
  config.routes.push_back(StaticRoute("example.com", mx.port()));
  StartEngine(config);
  uint64_t id = Send("example.com", "user", "bulk");
  ASSERT_TRUE(WaitForOutcomes(1));
  EXPECT_EQ(OutcomeFor(id)->disposition, Disposition::kDelivered)
      << OutcomeFor(id)->reply.ToString();
  EXPECT_EQ(OutcomeFor(id)->source_address, "127.0.0.2");
  ASSERT_EQ(mx.messages().size(), 1u);
  EXPECT_EQ(mx.messages()[0].peer, "127.0.0.2");
  auto conns = mx.connections();
  EXPECT_EQ(conns[0].ehlo_name, "ip2.postino.test");
}

TEST_F(EngineTest, SourcesAreChosenByPoolAndWeight) {
  FakeMx mx(Script{});
  auto config = BaseConfig();
  config.sources = {delivery::Source{"a", "127.0.0.2", "a.test", 1, "p"},
                    delivery::Source{"b", "127.0.0.3", "b.test", 1, "p"},
                    delivery::Source{"c", "127.0.0.4", "c.test", 1, "other"}};
  config.routes.push_back(StaticRoute("example.com", mx.port()));
  config.max_connections_per_destination = 1;  // per source: two sources, two connections
  StartEngine(config);
  for (int i = 0; i < 20; ++i) Send("example.com", "u", "p");
  ASSERT_TRUE(WaitForOutcomes(20));
  std::set<std::string> peers;
  for (const auto& c : mx.connections()) peers.insert(c.peer);
  EXPECT_EQ(peers.count("127.0.0.4"), 0u);
  EXPECT_GE(peers.size(), 1u);
  EXPECT_LE(mx.max_concurrent_connections(), 2);
  // A pool without sources: deferred, not lost.
  uint64_t lost = Send("example.com", "u", "nosuchpool");
  ASSERT_TRUE(WaitForOutcomes(21));
  EXPECT_EQ(OutcomeFor(lost)->disposition, Disposition::kDeferred);
}

TEST_F(EngineTest, ShutdownDefersQueuedMessagesAndQuits) {
  Script script;
  script.end_of_data.delay = 200ms;
  FakeMx mx(script);
  auto config = BaseConfig();
  config.routes.push_back(StaticRoute("example.com", mx.port()));
  config.max_connections_per_destination = 1;
  StartEngine(config);
  for (int i = 0; i < 50; ++i) Send("example.com");
  // Let the first transaction start.
  ASSERT_TRUE(RunUntil([&] { return mx.total_connections() > 0; }, 5s));
  ASSERT_TRUE(ShutdownEngine());
  EXPECT_EQ(outcomes_.size(), 50u);
  EXPECT_EQ(engine_->in_flight(), 0u);
  size_t delivered = 0, deferred = 0;
  for (const auto& o : outcomes_) {
    delivered += o.disposition == Disposition::kDelivered;
    deferred += o.disposition == Disposition::kDeferred;
  }
  EXPECT_EQ(delivered + deferred, 50u);
  EXPECT_EQ(delivered, mx.accepted_messages());
  EXPECT_GT(deferred, 0u);
  // Each message has exactly one Outcome.
  std::set<uint64_t> ids;
  for (const auto& o : outcomes_) ids.insert(o.id);
  EXPECT_EQ(ids.size(), 50u);
}

// Postfix's smtp-sink: a real, fast SMTP server.
TEST_F(EngineTest, DeliversToPostfixSmtpSink) {
  if (!std::filesystem::exists("/usr/sbin/smtp-sink")) GTEST_SKIP() << "smtp-sink not installed";
  uint16_t port = FreePort();
  std::string dump = std::filesystem::temp_directory_path() /
                     ("postino-sink-" + std::to_string(getpid()));
  std::filesystem::create_directories(dump);
  std::vector<std::string> argv = {"/usr/sbin/smtp-sink", "-d", dump + "/%M."};
  if (geteuid() == 0) {
    argv.push_back("-u");
    argv.push_back("nobody");
    std::filesystem::permissions(dump, std::filesystem::perms::all);
  }
  argv.push_back("127.0.0.1:" + std::to_string(port));
  argv.push_back("100");
  ChildProcess sink(argv);
  ASSERT_TRUE(WaitForPort(port, 5s)) << "smtp-sink did not start";
  auto config = BaseConfig();
  config.routes.push_back(StaticRoute("example.com", port));
  config.max_connections_per_destination = 4;
  StartEngine(config);
  for (int i = 0; i < 200; ++i) Send("example.com", "u" + std::to_string(i));
  ASSERT_TRUE(WaitForOutcomes(200, 30s));
  size_t delivered = 0;
  for (const auto& o : outcomes_) delivered += o.disposition == Disposition::kDelivered;
  EXPECT_EQ(delivered, 200u);
  ASSERT_TRUE(ShutdownEngine());
  size_t files = 0;
  for (auto& e : std::filesystem::recursive_directory_iterator(dump)) files += e.is_regular_file();
  EXPECT_EQ(files, 200u);
  std::filesystem::remove_all(dump);
}

}  // namespace
}  // namespace postino::testing
