// engine_multi_rcpt_test.cc: messages with several recipients. The engine
// sends the recipients of one destination in one pipelined transaction (MAIL,
// one RCPT each, DATA), at most max_recipients_per_message at a time, reports
// one Outcome per recipient, and carries recipients refused with 452 "too
// many recipients" into the next transaction.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <map>
#include <memory>
#include <mutex>
#include <set>

#include "tests/fakemx/fake_mx.h"
#include "tests/integration/engine/engine_fixture.h"

namespace postino::testing {
namespace {

using namespace std::chrono_literals;
using delivery::Disposition;
using fakemx::FakeMx;
using fakemx::Script;

class MultiRcptTest : public EngineTest {
 protected:
  static std::vector<std::string> Addresses(const std::string& domain, int n,
                                            const std::string& prefix = "user") {
    std::vector<std::string> out;
    for (int i = 0; i < n; ++i) out.push_back(prefix + std::to_string(i) + "@" + domain);
    return out;
  }
  // Limits with `max_rcpts` recipients per transaction for every site.
  static delivery::LimitsFunction RcptLimit(int max_rcpts, int max_connections = 1) {
    return [=](const std::string&, const std::vector<std::string>&) {
      delivery::PathLimits l;
      l.max_connections = max_connections;
      l.max_recipients_per_message = max_rcpts;
      return l;
    };
  }
  // Starts the engine with a static route for example.com to `mx`.
  void StartRoutedTo(const FakeMx& mx, delivery::LimitsFunction limits = nullptr) {
    if (!limits) return EngineTest::StartRoutedTo(mx);
    auto config = BaseConfig();
    config.routes.push_back(StaticRoute("example.com", mx.port()));
    config.limits_for = std::move(limits);
    StartEngine(config);
  }
  // A server that takes `n` RCPTs per transaction (per connection), then
  // answers `reply` to the others.
  static Script TooManyAfter(int n, std::string reply) {
    auto taken = std::make_shared<std::map<int, int>>();
    auto mu = std::make_shared<std::mutex>();
    Script script;
    script.override = [taken, mu, n, reply](std::string_view verb, std::string_view,
                                            int conn) -> std::optional<fakemx::Step> {
      std::lock_guard<std::mutex> lock(*mu);
      if (verb == "MAIL") (*taken)[conn] = 0;
      if (verb == "RCPT" && ++(*taken)[conn] > n) return fakemx::Reply(reply);
      return std::nullopt;
    };
    return script;
  }
  // RCPT lines of each MAIL transaction, per connection, from the server's record.
  static std::vector<std::vector<std::string>> Transactions(const FakeMx& mx) {
    std::vector<std::vector<std::string>> out;
    for (const auto& c : mx.connections()) {
      for (const auto& cmd : c.commands) {
        if (cmd.line.rfind("MAIL FROM:", 0) == 0) out.emplace_back();
        if (cmd.line.rfind("RCPT TO:", 0) == 0 && !out.empty()) out.back().push_back(cmd.line);
      }
    }
    return out;
  }
};

TEST_F(MultiRcptTest, RecipientsOfOneDomainShareOnePipelinedTransaction) {
  FakeMx mx(Script{});
  StartRoutedTo(mx);
  std::vector<uint64_t> ids = SendGroup(Addresses("example.com", 5));
  EXPECT_EQ(engine_->in_flight(), 5u);
  ASSERT_TRUE(WaitForOutcomes(5));
  for (uint64_t id : ids) {
    ASSERT_NE(OutcomeFor(id), nullptr) << id;
    EXPECT_EQ(OutcomeFor(id)->disposition, Disposition::kDelivered);
    EXPECT_EQ(OutcomeFor(id)->phase, smtp::Phase::kEndOfData);
  }
  EXPECT_EQ(engine_->in_flight(), 0u);
  auto messages = mx.messages();
  ASSERT_EQ(messages.size(), 1u);
  EXPECT_EQ(messages[0].rcpts.size(), 5u);
  EXPECT_EQ(messages[0].data, *body_);
  // MAIL, the five RCPTs and DATA in one write.
  auto conns = mx.connections();
  ASSERT_EQ(conns.size(), 1u);
  const auto& cmds = conns[0].commands;
  auto mail = std::find_if(cmds.begin(), cmds.end(),
                           [](const auto& c) { return c.line.rfind("MAIL FROM:", 0) == 0; });
  ASSERT_NE(mail, cmds.end());
  ASSERT_GE(cmds.end() - mail, 7);
  for (int i = 1; i <= 5; ++i) {
    EXPECT_EQ(mail[i].line, "RCPT TO:<user" + std::to_string(i - 1) + "@example.com>");
    EXPECT_EQ(mail[i].read_index, mail->read_index);
  }
  EXPECT_EQ(mail[6].line, "DATA");
  EXPECT_EQ(mail[6].read_index, mail->read_index);
}

TEST_F(MultiRcptTest, EachDestinationGetsItsOwnTransaction) {
  FakeMx a(Script{});
  FakeMx b(Script{}, "127.0.0.2");
  auto config = BaseConfig();
  config.routes.push_back(StaticRoute("a.test", a.port()));
  auto route_b = StaticRoute("b.test", b.port());
  route_b.host = "127.0.0.2";
  config.routes.push_back(route_b);
  StartEngine(config);
  SendGroup({"x@a.test", "y@b.test", "z@a.test", "w@b.test", "v@b.test"});
  ASSERT_TRUE(WaitForOutcomes(5));
  for (const auto& o : outcomes_) EXPECT_EQ(o.disposition, Disposition::kDelivered);
  ASSERT_EQ(a.messages().size(), 1u);
  ASSERT_EQ(b.messages().size(), 1u);
  EXPECT_EQ(a.messages()[0].rcpts, (std::vector<std::string>{"<x@a.test>", "<z@a.test>"}));
  EXPECT_EQ(b.messages()[0].rcpts,
            (std::vector<std::string>{"<y@b.test>", "<w@b.test>", "<v@b.test>"}));
}

TEST_F(MultiRcptTest, TransactionsHoldAtMostMaxRecipientsPerMessage) {
  FakeMx mx(Script{});
  StartRoutedTo(mx, RcptLimit(4));
  SendGroup(Addresses("example.com", 10));
  ASSERT_TRUE(WaitForOutcomes(10));
  for (const auto& o : outcomes_) EXPECT_EQ(o.disposition, Disposition::kDelivered);
  auto txns = Transactions(mx);
  ASSERT_EQ(txns.size(), 3u);  // 4 + 4 + 2, in order
  EXPECT_EQ(txns[0].size(), 4u);
  EXPECT_EQ(txns[1].size(), 4u);
  EXPECT_EQ(txns[2].size(), 2u);
  std::set<std::string> seen;
  for (const auto& t : txns) seen.insert(t.begin(), t.end());
  EXPECT_EQ(seen.size(), 10u);  // nobody twice
  EXPECT_EQ(mx.total_connections(), 1);
}

TEST_F(MultiRcptTest, ARejectedRecipientFailsAloneAndTheOthersAreDelivered) {
  Script script;
  script.override = [](std::string_view verb, std::string_view arg,
                       int) -> std::optional<fakemx::Step> {
    if (verb == "RCPT" && arg.find("gone@") != std::string_view::npos) {
      return fakemx::Reply("550 5.1.1 <gone@example.com>: Recipient address rejected");
    }
    if (verb == "RCPT" && arg.find("full@") != std::string_view::npos) {
      return fakemx::Reply("452 4.2.2 Mailbox full");
    }
    return std::nullopt;
  };
  FakeMx mx(script);
  StartRoutedTo(mx);
  std::vector<uint64_t> ids =
      SendGroup({"a@example.com", "gone@example.com", "b@example.com", "full@example.com"});
  ASSERT_TRUE(WaitForOutcomes(4));
  EXPECT_EQ(OutcomeFor(ids[0])->disposition, Disposition::kDelivered);
  EXPECT_EQ(OutcomeFor(ids[1])->disposition, Disposition::kBounced);
  EXPECT_EQ(OutcomeFor(ids[1])->reply.enhanced, "5.1.1");
  EXPECT_EQ(OutcomeFor(ids[1])->phase, smtp::Phase::kRcpt);
  EXPECT_EQ(OutcomeFor(ids[2])->disposition, Disposition::kDelivered);
  // A full mailbox (452 4.2.2) is that recipient's problem: deferred, not
  // carried into another transaction as "too many recipients".
  EXPECT_EQ(OutcomeFor(ids[3])->disposition, Disposition::kDeferred);
  EXPECT_EQ(OutcomeFor(ids[3])->reply.enhanced, "4.2.2");
  auto messages = mx.messages();
  ASSERT_EQ(messages.size(), 1u);
  EXPECT_EQ(messages[0].rcpts, (std::vector<std::string>{"<a@example.com>", "<b@example.com>"}));
  EXPECT_EQ(Transactions(mx).size(), 1u);
}

TEST_F(MultiRcptTest, TooManyRecipientsGoInTheNextTransactionAndTheLimitIsLearned) {
  // The server takes 3 RCPTs per transaction, then answers 452 4.5.3.
  FakeMx mx(TooManyAfter(3, "452 4.5.3 Error: too many recipients"));
  StartRoutedTo(mx, RcptLimit(50));
  std::vector<uint64_t> ids = SendGroup(Addresses("example.com", 8));
  ASSERT_TRUE(WaitForOutcomes(8));
  for (uint64_t id : ids) {
    EXPECT_EQ(OutcomeFor(id)->disposition, Disposition::kDelivered)
        << OutcomeFor(id)->reply.ToString();
  }
  // 8 RCPTs (3 taken) -> 5 carried over, sent 3 at a time: 3 + 2.
  auto txns = Transactions(mx);
  ASSERT_EQ(txns.size(), 3u);
  EXPECT_EQ(txns[0].size(), 8u);
  EXPECT_EQ(txns[1].size(), 3u);
  EXPECT_EQ(txns[2].size(), 2u);
  size_t accepted = 0;
  for (const auto& m : mx.messages()) accepted += m.rcpts.size();
  EXPECT_EQ(accepted, 8u);
  // The next message is split at the learned limit from the start.
  outcomes_.clear();
  SendGroup(Addresses("example.com", 6, "next"));
  ASSERT_TRUE(WaitForOutcomes(6));
  for (const auto& o : outcomes_) EXPECT_EQ(o.disposition, Disposition::kDelivered);
  txns = Transactions(mx);
  ASSERT_EQ(txns.size(), 5u);
  EXPECT_EQ(txns[3].size(), 3u);
  EXPECT_EQ(txns[4].size(), 3u);
}

TEST_F(MultiRcptTest, APlainRfc5321TooManyRecipientsReplyIsUnderstoodToo) {
  // RFC 5321 §4.5.3.1.10 wording, no enhanced status code.
  Script script = TooManyAfter(2, "452 Too many recipients");
  script.ehlo_keywords = {"PIPELINING", "8BITMIME"};
  FakeMx mx(script);
  StartRoutedTo(mx, RcptLimit(50));
  SendGroup(Addresses("example.com", 5));
  ASSERT_TRUE(WaitForOutcomes(5));
  for (const auto& o : outcomes_) {
    EXPECT_EQ(o.disposition, Disposition::kDelivered) << o.reply.ToString();
  }
  auto txns = Transactions(mx);
  ASSERT_EQ(txns.size(), 3u);  // 5 sent (2 taken), then 2 + 1
  EXPECT_EQ(txns[1].size(), 2u);
  EXPECT_EQ(txns[2].size(), 1u);
}

TEST_F(MultiRcptTest, A452ForEveryRecipientDefersThemAllWithoutLooping) {
  Script script;
  script.rcpt = fakemx::Reply("452 4.5.3 Error: too many recipients");
  FakeMx mx(script);
  StartRoutedTo(mx);
  SendGroup(Addresses("example.com", 3));
  ASSERT_TRUE(WaitForOutcomes(3));
  for (const auto& o : outcomes_) {
    EXPECT_EQ(o.disposition, Disposition::kDeferred);
    EXPECT_EQ(o.phase, smtp::Phase::kRcpt);
  }
  EXPECT_EQ(Transactions(mx).size(), 1u);
  EXPECT_EQ(mx.accepted_messages(), 0u);
}

TEST_F(MultiRcptTest, ARejectedMessageBouncesEveryRecipientOnce) {
  Script script;
  script.end_of_data = fakemx::Reply("554 5.7.1 Message rejected as spam");
  FakeMx mx(script);
  StartRoutedTo(mx);
  std::vector<uint64_t> ids = SendGroup(Addresses("example.com", 4));
  ASSERT_TRUE(WaitForOutcomes(4));
  EXPECT_EQ(outcomes_.size(), 4u);
  for (uint64_t id : ids) {
    EXPECT_EQ(OutcomeFor(id)->disposition, Disposition::kBounced);
    EXPECT_EQ(OutcomeFor(id)->phase, smtp::Phase::kEndOfData);
  }
}

TEST_F(MultiRcptTest, ConnectionLostMidDataDefersEveryRecipient) {
  Script script;
  script.close_mid_data_after = 10;
  FakeMx mx(script);
  StartRoutedTo(mx);
  std::vector<uint64_t> ids = SendGroup(Addresses("example.com", 3));
  ASSERT_TRUE(WaitForOutcomes(3));
  for (uint64_t id : ids) EXPECT_EQ(OutcomeFor(id)->disposition, Disposition::kDeferred);
  EXPECT_EQ(engine_->in_flight(), 0u);
}

TEST_F(MultiRcptTest, WithdrawTakesBackSomeRecipientsOfAQueuedMessage) {
  // No server answers yet: the message stays queued behind a slow banner.
  Script script;
  script.banner.delay = 1500ms;
  FakeMx mx(script);
  StartRoutedTo(mx, RcptLimit(50, 1));
  SendGroup({"first@example.com"});  // occupies the only connection
  std::vector<uint64_t> ids = SendGroup(Addresses("example.com", 4));
  ASSERT_TRUE(RunUntil([&] { return mx.total_connections() == 1; }, 5s));
  std::vector<uint64_t> back =
      engine_->Withdraw([&](uint64_t id) { return id == ids[1] || id == ids[3]; });
  std::sort(back.begin(), back.end());
  EXPECT_EQ(back, (std::vector<uint64_t>{ids[1], ids[3]}));
  EXPECT_EQ(engine_->in_flight(), 3u);
  ASSERT_TRUE(WaitForOutcomes(3));
  EXPECT_EQ(OutcomeFor(ids[1]), nullptr);
  EXPECT_EQ(OutcomeFor(ids[3]), nullptr);
  EXPECT_EQ(OutcomeFor(ids[0])->disposition, Disposition::kDelivered);
  EXPECT_EQ(OutcomeFor(ids[2])->disposition, Disposition::kDelivered);
  std::set<std::string> delivered;
  for (const auto& m : mx.messages()) delivered.insert(m.rcpts.begin(), m.rcpts.end());
  EXPECT_EQ(delivered, (std::set<std::string>{"<first@example.com>", "<user0@example.com>",
                                               "<user2@example.com>"}));
}

TEST_F(MultiRcptTest, ShutdownDefersQueuedRecipientsOnce) {
  Script script;
  script.banner.delay = 1s;
  FakeMx mx(script);
  StartRoutedTo(mx, RcptLimit(2, 1));
  std::vector<uint64_t> ids = SendGroup(Addresses("example.com", 7));
  ASSERT_TRUE(RunUntil([&] { return mx.total_connections() == 1; }, 5s));
  ASSERT_TRUE(ShutdownEngine());
  EXPECT_EQ(outcomes_.size(), 7u);
  std::set<uint64_t> reported;
  for (const auto& o : outcomes_) reported.insert(o.id);
  EXPECT_EQ(reported.size(), 7u);
}

TEST_F(MultiRcptTest, WarmupCountsRecipients) {
  FakeMx mx(Script{});
  StartRoutedTo(mx);
  SendGroup(Addresses("example.com", 6));
  ASSERT_TRUE(WaitForOutcomes(6));
  uint64_t counted = 0;
  for (const auto& c : engine_->WarmupCounts()) counted += c.count;
  EXPECT_EQ(counted, 6u);
}

TEST_F(MultiRcptTest, RecipientsCarriedOverAreCountedOnceForWarmup) {
  FakeMx mx(TooManyAfter(3, "452 4.5.3 Error: too many recipients"));
  StartRoutedTo(mx);
  SendGroup(Addresses("example.com", 8));
  ASSERT_TRUE(WaitForOutcomes(8));
  for (const auto& o : outcomes_) EXPECT_EQ(o.disposition, Disposition::kDelivered);
  uint64_t counted = 0;
  for (const auto& c : engine_->WarmupCounts()) counted += c.count;
  EXPECT_EQ(counted, 8u);  // not 8 + the 5 carried over
}

}  // namespace
}  // namespace postino::testing
