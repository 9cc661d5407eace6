// engine_path_action_test.cc: the engine acts on the policy's whole
// Decision (issue 10): a reply the built-in policy classifies as "slow down"
// or "suspend" is reported as a PathEvent (which the caller records in
// egress_events) AND honoured on the egress path; path states seeded after a
// restart (SeedPathStates, issue 11 item 7) hold without a new event.
#include <gtest/gtest.h>

#include <atomic>
#include <memory>

#include "common/clock.h"
#include "tests/fakemx/fake_mx.h"
#include "tests/integration/engine/engine_fixture.h"

namespace postino::testing {
namespace {

using namespace std::chrono_literals;
using delivery::Disposition;
using delivery::PathEvent;
using fakemx::FakeMx;
using fakemx::Script;

// The site key of a static route: its host and port (issue 14).
std::string SiteOf(const FakeMx& mx) { return "127.0.0.1:" + std::to_string(mx.port()); }

// Answers `reply` to the first MAIL, then accepts everything.
Script FirstMailAnswered(std::string reply) {
  auto seen = std::make_shared<std::atomic<int>>(0);
  Script script;
  script.override = [seen, reply](std::string_view verb, std::string_view,
                                  int) -> std::optional<fakemx::Step> {
    if (verb == "MAIL" && seen->fetch_add(1) == 0) return fakemx::Reply(reply);
    return std::nullopt;
  };
  return script;
}

class PathActionTest : public EngineTest {
 protected:
  // One source, one connection at a time to the fake MX; no policy given
  // (the built-in rules decide).
  void Start(const FakeMx& mx) {
    auto config = BaseConfig();
    config.routes.push_back(StaticRoute("example.com", mx.port(), smtp::TlsMode::kNone));
    config.max_connections_per_destination = 1;
    config.path_watch_interval = 50ms;
    StartEngine(config);
    RecordPathEvents();
  }
  std::vector<const TimedEvent*> EventsOf(PathEvent::Action action) const {
    std::vector<const TimedEvent*> out;
    for (const auto& e : events_) {
      if (e.event.action == action) out.push_back(&e);
    }
    return out;
  }
  FakeClock clock_;  // outlives the engine (destroyed in TearDown)
};

TEST_F(PathActionTest, APolicySlowDownReplyIsReportedAndHonoured) {
  FakeMx mx(FirstMailAnswered("451 4.7.1 Rate limit exceeded, slow down"));
  Start(mx);
  const int kTotal = 6;
  std::vector<uint64_t> ids;
  for (int i = 0; i < kTotal; ++i) ids.push_back(Send("example.com", "u" + std::to_string(i)));
  ASSERT_TRUE(RunUntilGuarded([&] { return !events_.empty(); }, 10s));
  RunFor(2s);  // unshaped, all the others would go within milliseconds

  // Reported once, with the rate now in force and the rule that decided.
  auto slowed = EventsOf(PathEvent::Action::kSlowed);
  ASSERT_EQ(slowed.size(), 1u);
  const PathEvent& e = slowed[0]->event;
  EXPECT_EQ(e.site, SiteOf(mx));
  EXPECT_EQ(e.source_name, "ip1");
  EXPECT_EQ(e.domain, "example.com");
  EXPECT_FALSE(e.rule.empty());
  EXPECT_NE(e.reply.find("Rate limit exceeded"), std::string::npos) << e.reply;
  ASSERT_TRUE(e.rate.has_value());
  EXPECT_LT(e.rate->PerSecond(), 1.0) << e.rate->ToString();
  EXPECT_GT(e.until, e.at);

  // The recipient that got the reply carries the decision that settled it.
  const auto* first = OutcomeFor(ids[0]);
  ASSERT_NE(first, nullptr);
  EXPECT_EQ(first->disposition, Disposition::kDeferred);
  EXPECT_EQ(first->decision.path, policy::PathAction::kSlowDown);
  EXPECT_EQ(first->decision.rule, e.rule);
  EXPECT_FALSE(first->decision.suppress);

  // Honoured: at most one message (the throttle's burst) went in the two
  // seconds after the slow-down; the rest wait for the slowed rate.
  size_t after = 0;
  for (const auto& m : mx.messages()) after += m.accepted && m.received_at >= slowed[0]->at;
  EXPECT_LE(after, 1u);
  EXPECT_GE(engine_->in_flight(), static_cast<size_t>(kTotal - 2));
  auto states = engine_->SourceStates();
  ASSERT_EQ(states.size(), 1u);
  ASSERT_EQ(states[0].paths.size(), 1u);
  EXPECT_EQ(states[0].paths[0].state, shaping::PathState::kSlowed);
  ASSERT_TRUE(states[0].paths[0].rate.has_value());
  EXPECT_DOUBLE_EQ(states[0].paths[0].rate->PerSecond(), e.rate->PerSecond());
  ASSERT_TRUE(ShutdownEngine());
  EXPECT_EQ(outcomes_.size(), static_cast<size_t>(kTotal));
}

TEST_F(PathActionTest, APolicySuspendReplyIsReportedAndNoConnectionFollows) {
  FakeMx mx(FirstMailAnswered("451 4.7.1 Client host [127.0.0.1] blocked using zen.spamhaus.org"));
  Start(mx);
  const int kTotal = 4;
  for (int i = 0; i < kTotal; ++i) Send("example.com", "u" + std::to_string(i));
  ASSERT_TRUE(RunUntilGuarded([&] { return !events_.empty(); }, 10s));
  RunFor(1500ms);

  auto suspended = EventsOf(PathEvent::Action::kSuspended);
  ASSERT_EQ(suspended.size(), 1u);
  const PathEvent& e = suspended[0]->event;
  EXPECT_EQ(e.site, SiteOf(mx));
  EXPECT_FALSE(e.rule.empty());
  EXPECT_GT(e.until, e.at + 10min);  // the built-in block suspension lasts hours
  // Before: a policy "suspend" only marked the host failed for 60 s (a new
  // connection to the next host, nothing recorded). Now the path waits.
  for (const auto& c : mx.connections()) {
    EXPECT_LE(c.opened_at, suspended[0]->at) << "a connection opened on a suspended path";
  }
  EXPECT_EQ(mx.accepted_messages(), 0u);
  EXPECT_EQ(outcomes_.size(), 1u);  // the others wait for the path
  auto states = engine_->SourceStates();
  ASSERT_EQ(states.size(), 1u);
  EXPECT_EQ(states[0].state, delivery::SourceSnapshot::State::kSuspended);
  ASSERT_TRUE(ShutdownEngine());
  EXPECT_EQ(outcomes_.size(), static_cast<size_t>(kTotal));
  for (const auto& o : outcomes_) EXPECT_EQ(o.disposition, Disposition::kDeferred);
}

// Replies that differ only by the recipient are one path action, one event.
TEST_F(PathActionTest, OnePathActionPerTransactionHoweverManyRecipientsGetIt) {
  Script script;
  script.override = [](std::string_view verb, std::string_view arg,
                       int) -> std::optional<fakemx::Step> {
    if (verb != "RCPT") return std::nullopt;
    return fakemx::Reply("451 4.7.1 " + std::string(arg) +
                         ": client host [127.0.0.1] blocked using zen.spamhaus.org");
  };
  FakeMx mx(script);
  Start(mx);
  SendGroup({"a@example.com", "b@example.com", "c@example.com"});
  ASSERT_TRUE(WaitForOutcomes(3, 10s));
  RunFor(300ms);
  EXPECT_EQ(EventsOf(PathEvent::Action::kSuspended).size(), 1u);
  for (const auto& o : outcomes_) {
    EXPECT_EQ(o.disposition, Disposition::kDeferred);
    EXPECT_EQ(o.decision.path, policy::PathAction::kSuspend);
  }
}

// Issue 11 item 7: a suspension read back at start holds on the path as soon
// as it exists, without a new kSuspended event; its end is reported.
TEST_F(PathActionTest, ASeededSuspensionHoldsWithoutANewEventAndEnds) {
  FakeMx mx(Script{});
  Start(mx);
  PathEvent seed;
  seed.source_name = "ip1";
  seed.site = SiteOf(mx);
  seed.action = PathEvent::Action::kSuspended;
  seed.until = std::chrono::system_clock::now() + 1200ms;
  PathEvent over = seed;  // an old one, already over: ignored
  over.site = "other.site";
  over.until = std::chrono::system_clock::now() - 1s;
  engine_->SeedPathStates({seed, over});
  const auto start = std::chrono::steady_clock::now();
  uint64_t id = Send("example.com");
  ASSERT_TRUE(WaitForOutcomes(1, 10s));
  EXPECT_EQ(OutcomeFor(id)->disposition, Disposition::kDelivered);
  ASSERT_EQ(mx.connections().size(), 1u);
  EXPECT_GE(mx.connections()[0].opened_at - start, 1000ms);
  EXPECT_TRUE(EventsOf(PathEvent::Action::kSuspended).empty());
  ASSERT_EQ(EventsOf(PathEvent::Action::kResumed).size(), 1u);
  EXPECT_EQ(EventsOf(PathEvent::Action::kResumed)[0]->event.site, SiteOf(mx));
}

TEST_F(PathActionTest, ASeededSlowDownAppliesToAnExistingPath) {
  FakeMx mx(Script{});
  Start(mx);
  uint64_t first = Send("example.com");
  ASSERT_TRUE(WaitForOutcomes(1, 10s));  // the path exists now
  EXPECT_EQ(OutcomeFor(first)->disposition, Disposition::kDelivered);
  PathEvent seed;
  seed.source_name = "ip1";
  seed.site = SiteOf(mx);
  seed.action = PathEvent::Action::kSlowed;
  seed.rate = RateOf("2/s");
  seed.until = std::chrono::system_clock::now() + 1h;
  engine_->SeedPathStates({seed});
  auto states = engine_->SourceStates();
  ASSERT_EQ(states.size(), 1u);
  ASSERT_EQ(states[0].paths.size(), 1u);
  EXPECT_EQ(states[0].paths[0].state, shaping::PathState::kSlowed);
  ASSERT_TRUE(states[0].paths[0].rate.has_value());
  EXPECT_DOUBLE_EQ(states[0].paths[0].rate->PerSecond(), 2.0);
  const int kMore = 5;
  for (int i = 0; i < kMore; ++i) Send("example.com", "v" + std::to_string(i));
  ASSERT_TRUE(WaitForOutcomes(1 + kMore, 20s));
  // 2/s with a burst of 1: five messages take about two seconds.
  auto times = ReceivedFrom(mx, "127.0.0.1");
  ASSERT_EQ(times.size(), static_cast<size_t>(1 + kMore));
  EXPECT_LE(MaxInWindow({times.begin() + 1, times.end()}, 1s), 3u);
  EXPECT_TRUE(EventsOf(PathEvent::Action::kSlowed).empty());
}

// The engine's time is EngineConfig::clock: a seeded suspension of one hour
// ends when the fake clock says so, and Outcomes and events carry its time.
TEST_F(PathActionTest, TheInjectedClockDecides) {
  FakeMx mx(Script{});
  FakeClock& clock = clock_;
  auto config = BaseConfig();
  config.routes.push_back(StaticRoute("example.com", mx.port(), smtp::TlsMode::kNone));
  config.path_watch_interval = 50ms;
  config.clock = &clock;
  StartEngine(config);
  RecordPathEvents();
  PathEvent seed;
  seed.source_name = "ip1";
  seed.site = SiteOf(mx);
  seed.action = PathEvent::Action::kSuspended;
  seed.until = clock.WallNow() + 1h;
  engine_->SeedPathStates({seed});
  uint64_t id = Send("example.com");
  RunFor(500ms);
  EXPECT_TRUE(outcomes_.empty());
  EXPECT_TRUE(mx.connections().empty());
  clock.Advance(std::chrono::minutes(61));
  ASSERT_TRUE(WaitForOutcomes(1, 10s));
  const auto* o = OutcomeFor(id);
  EXPECT_EQ(o->disposition, Disposition::kDelivered) << o->reply.ToString();
  EXPECT_EQ(o->finished_at, clock.WallNow());
  ASSERT_EQ(EventsOf(PathEvent::Action::kResumed).size(), 1u);
  EXPECT_EQ(EventsOf(PathEvent::Action::kResumed)[0]->event.at, clock.WallNow());
}

}  // namespace
}  // namespace postino::testing

namespace postino::testing {
namespace {

// Issue 14: a static route's site is its host AND port. Two routes to one
// host on different ports are two sites: a suspension on one leaves the
// other sending.
TEST_F(PathActionTest, TwoStaticRoutesToOneHostOnDifferentPortsAreSeparateSites) {
  FakeMx blocked(FirstMailAnswered("451 4.7.1 Client host [127.0.0.1] blocked using zen.spamhaus.org"));
  FakeMx open(Script{});
  auto config = BaseConfig();
  config.routes.push_back(StaticRoute("a.test", blocked.port(), smtp::TlsMode::kNone));
  config.routes.push_back(StaticRoute("b.test", open.port(), smtp::TlsMode::kNone));
  config.max_connections_per_destination = 1;
  config.path_watch_interval = 50ms;
  StartEngine(config);
  RecordPathEvents();
  Send("a.test", "first");
  ASSERT_TRUE(RunUntilGuarded([&] { return !events_.empty(); }, 10s));
  const int kB = 4;
  for (int i = 0; i < kB; ++i) Send("b.test", "b" + std::to_string(i));
  ASSERT_TRUE(WaitForOutcomes(1 + kB, 10s));
  EXPECT_EQ(open.accepted_messages(), static_cast<size_t>(kB));
  auto suspended = EventsOf(PathEvent::Action::kSuspended);
  ASSERT_EQ(suspended.size(), 1u);
  EXPECT_EQ(suspended[0]->event.site, SiteOf(blocked));
  auto states = engine_->SourceStates();
  ASSERT_EQ(states.size(), 1u);
  ASSERT_EQ(states[0].paths.size(), 2u);
  for (const auto& p : states[0].paths) {
    EXPECT_EQ(p.state == shaping::PathState::kSuspended, p.site == SiteOf(blocked)) << p.site;
  }
}

}  // namespace
}  // namespace postino::testing
