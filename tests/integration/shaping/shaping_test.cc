// shaping_test.cc: traffic shaping in the delivery engine over loopback. Four
// sources (127.0.0.10-13, weights 1:1:2:4) send to two fake MX sites
// (127.0.0.21 and 127.0.0.22, static routes); the assertions are made at the
// sinks: messages per source, concurrent connections per path and per site,
// message and connection rates, suspension on 421 4.7.28, slow-down and
// gradual recovery, warm-up caps, Reconfigure without dropping connections.
#include <gtest/gtest.h>
#include <uv.h>

#include <algorithm>
#include <chrono>
#include <map>
#include <mutex>
#include <set>

#include "engine/delivery/engine.h"
#include "engine/policy/policy.h"
#include "common/rate.h"
#include "tests/fakemx/fake_mx.h"
#include "tests/integration/engine/engine_fixture.h"

namespace postino::testing {
namespace {

using namespace std::chrono_literals;
using delivery::Disposition;
using delivery::PathEvent;
using delivery::PathLimits;
using fakemx::FakeMx;
using fakemx::Script;

constexpr const char* kSiteA = "127.0.0.21";
constexpr const char* kSiteB = "127.0.0.22";
const std::vector<std::string> kSourceIps = {"127.0.0.10", "127.0.0.11", "127.0.0.12",
                                             "127.0.0.13"};
const std::vector<int> kWeights = {1, 1, 2, 4};

class ShapingTest : public EngineTest {
 protected:
  delivery::Route RouteTo(const std::string& domain, const std::string& host, uint16_t port) {
    delivery::Route r;
    r.domain_pattern = domain;
    r.kind = delivery::Route::Kind::kStatic;
    r.host = host;
    r.port = port;
    r.tls = smtp::TlsMode::kNone;
    return r;
  }

  // Four weighted sources in pool "p"; a.test -> site A, b.test -> site B.
  delivery::EngineConfig Config(const PathLimits& limits, uint16_t port_a, uint16_t port_b) {
    delivery::EngineConfig c = BaseConfig();
    c.sources.clear();
    for (size_t i = 0; i < kSourceIps.size(); ++i) {
      c.sources.push_back(delivery::Source{"s" + kSourceIps[i].substr(8), kSourceIps[i],
                                           "s" + kSourceIps[i].substr(8) + ".postino.test",
                                           kWeights[i], "p"});
    }
    c.routes = {RouteTo("a.test", kSiteA, port_a), RouteTo("b.test", kSiteB, port_b)};
    c.limits_for = [limits](const std::string&, const std::vector<std::string>&) {
      return limits;
    };
    c.path_watch_interval = 100ms;
    c.idle_timeout = 1s;
    return c;
  }

  void StartWithEvents(delivery::EngineConfig config) {
    StartEngine(std::move(config));
    RecordPathEvents();
  }

  static std::shared_ptr<const policy::Policy> Policy(std::vector<policy::RuleSpec> rules) {
    auto p = policy::Policy::Create(std::move(rules), /*use_builtin=*/false);
    EXPECT_TRUE(p.ok()) << p.status().message();
    return p.ok() ? *p : nullptr;
  }

  void ExpectOneOutcomeEach(size_t n) {
    std::set<uint64_t> ids;
    for (const auto& o : outcomes_) ids.insert(o.id);
    EXPECT_EQ(ids.size(), n);
    EXPECT_EQ(outcomes_.size(), n);
    EXPECT_EQ(engine_->in_flight(), 0u);
  }
};

TEST_F(ShapingTest, WeightsAndConnectionLimitsHoldOver4000Messages) {
  FakeMx a(Script{}, kSiteA);
  FakeMx b(Script{}, kSiteB);
  PathLimits limits;
  limits.max_connections = 3;       // per (source, site)
  limits.max_site_connections = 8;  // per site, all four sources
  limits.max_messages_per_connection = 100;
  StartWithEvents(Config(limits, a.port(), b.port()));
  const int kTotal = 4000;
  for (int i = 0; i < kTotal; ++i) Send(i % 2 == 0 ? "a.test" : "b.test", "u" + std::to_string(i), "p");
  ASSERT_TRUE(WaitForOutcomes(kTotal, 240s)) << outcomes_.size();
  for (const auto& o : outcomes_) {
    ASSERT_EQ(o.disposition, Disposition::kDelivered) << o.reply.ToString();
  }
  ExpectOneOutcomeEach(kTotal);
  std::map<std::string, int> per_source;
  for (const FakeMx* mx : {&a, &b}) {
    for (const auto& m : mx->messages()) {
      if (m.accepted) per_source[m.peer]++;
    }
  }
  int weight_sum = 0;
  for (int w : kWeights) weight_sum += w;
  for (size_t i = 0; i < kSourceIps.size(); ++i) {
    double expected = static_cast<double>(kTotal) * kWeights[i] / weight_sum;
    EXPECT_NEAR(per_source[kSourceIps[i]], expected, expected * 0.10)
        << kSourceIps[i] << " weight " << kWeights[i];
  }
  for (const FakeMx* mx : {&a, &b}) {
    EXPECT_LE(mx->max_concurrent_connections(), limits.max_site_connections) << mx->address();
    for (const auto& ip : kSourceIps) {
      EXPECT_LE(mx->max_concurrent_from(ip), limits.max_connections) << mx->address() << " " << ip;
      EXPECT_GE(mx->max_concurrent_from(ip), 1) << mx->address() << " " << ip;
    }
  }
  EXPECT_TRUE(events_.empty());
}

TEST_F(ShapingTest, MessageRatePerPathStaysUnderRatePlusBurst) {
  FakeMx a(Script{}, kSiteA);
  PathLimits limits;
  limits.max_connections = 2;
  limits.max_message_rate = RateOf("10/s");  // per path; burst 1
  StartWithEvents(Config(limits, a.port(), a.port()));
  const int kTotal = 120;
  auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < kTotal; ++i) Send("a.test", "u" + std::to_string(i), "p");
  ASSERT_TRUE(WaitForOutcomes(kTotal, 60s));
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  ExpectOneOutcomeEach(kTotal);
  EXPECT_EQ(a.accepted_messages(), static_cast<size_t>(kTotal));
  // 4 paths at 10/s: about 3 s, not much less.
  EXPECT_GE(secs, 2.5);
  for (const auto& ip : kSourceIps) {
    std::vector<SteadyTime> t = ReceivedFrom(a, ip);
    ASSERT_GE(t.size(), 5u) << ip;
    // GCRA with burst 1: at most rate·W + 1 in any window W; +1 for arrival jitter at the sink.
    EXPECT_LE(MaxInWindow(t, 1s), 10u + 1u + 1u) << ip;
    std::sort(t.begin(), t.end());
    double span = std::chrono::duration<double>(t.back() - t.front()).count();
    EXPECT_LE((t.size() - 1) / span, 10.0 * 1.05) << ip;
  }
}

TEST_F(ShapingTest, ConnectionRatePerPathIsEnforced) {
  FakeMx a(Script{}, kSiteA);
  PathLimits limits;
  limits.max_connections = 4;
  limits.max_messages_per_connection = 1;  // one connection per message
  limits.max_connection_rate = RateOf("5/s");
  auto config = Config(limits, a.port(), a.port());
  config.sources.resize(1);  // s10 only
  StartWithEvents(config);
  for (int i = 0; i < 15; ++i) Send("a.test", "u" + std::to_string(i), "p");
  ASSERT_TRUE(WaitForOutcomes(15, 30s));
  ExpectOneOutcomeEach(15);
  std::vector<SteadyTime> opened;
  for (const auto& c : a.connections()) opened.push_back(c.opened_at);
  EXPECT_EQ(opened.size(), 15u);
  EXPECT_LE(MaxInWindow(opened, 1s), 5u + 1u + 1u);
}

TEST_F(ShapingTest, SiteAnswering421IsSuspendedWhileTheOtherKeepsSending) {
  // Site A answers 421 4.7.28 to every MAIL during 400 ms from the first one.
  auto first_mail = std::make_shared<std::atomic<int64_t>>(0);
  Script throttling;
  throttling.override = [first_mail](std::string_view verb, std::string_view,
                                     int) -> std::optional<fakemx::Step> {
    if (verb != "MAIL") return std::nullopt;
    int64_t now = std::chrono::steady_clock::now().time_since_epoch().count();
    int64_t expected = 0;
    first_mail->compare_exchange_strong(expected, now);
    if (now - first_mail->load() < std::chrono::nanoseconds(400ms).count()) {
      return fakemx::Reply(
          "421 4.7.28 [127.0.0.1] Our system has detected an unusual rate of unsolicited mail");
    }
    return std::nullopt;
  };
  FakeMx a(throttling, kSiteA);
  FakeMx b(Script{}, kSiteB);
  PathLimits limits;
  limits.max_connections = 2;
  limits.max_message_rate = RateOf("20/s");
  auto config = Config(limits, a.port(), b.port());
  policy::RuleSpec rule;
  rule.name = "gmail-4.7.28-test";
  rule.pattern = "^421 4\\.7\\.28";
  rule.action = policy::RuleSpec::Action::kSuspend;
  rule.duration = 2s;
  config.policy = Policy({rule});
  StartWithEvents(config);
  const int kA = 100, kB = 250;
  for (int i = 0; i < kA; ++i) Send("a.test", "a" + std::to_string(i), "p");
  for (int i = 0; i < kB; ++i) Send("b.test", "b" + std::to_string(i), "p");
  ASSERT_TRUE(WaitForOutcomes(kA + kB, 60s));
  ExpectOneOutcomeEach(kA + kB);
  int deferred = 0;
  for (const auto& o : outcomes_) {
    if (o.disposition != Disposition::kDelivered) {
      ++deferred;
      EXPECT_EQ(o.reply.code, 421) << o.reply.ToString();
    }
  }
  EXPECT_EQ(a.accepted_messages() + b.accepted_messages(), static_cast<size_t>(kA + kB - deferred));
  EXPECT_EQ(b.accepted_messages(), static_cast<size_t>(kB));
  // Every source got a 421 from site A and was suspended there, never on B.
  std::map<std::string, SteadyTime> suspended_at;
  std::set<std::string> resumed;
  for (const auto& te : events_) {
    EXPECT_EQ(te.event.site, std::string(kSiteA) + ":" + std::to_string(a.port()));
    if (te.event.action == PathEvent::Action::kSuspended) {
      EXPECT_EQ(te.event.rule, "gmail-4.7.28-test");
      EXPECT_NE(te.event.reply.find("4.7.28"), std::string::npos);
      EXPECT_EQ(te.event.domain, "a.test");
      if (!suspended_at.count(te.event.source_address)) {
        suspended_at[te.event.source_address] = te.at;
      }
    }
    if (te.event.action == PathEvent::Action::kResumed) resumed.insert(te.event.source_address);
  }
  EXPECT_EQ(suspended_at.size(), kSourceIps.size());
  EXPECT_EQ(resumed.size(), suspended_at.size());
  // No new connection on a suspended path for the duration...
  for (const auto& c : a.connections()) {
    auto it = suspended_at.find(c.peer);
    if (it == suspended_at.end()) continue;
    bool inside = c.opened_at > it->second && c.opened_at < it->second + 2s - 20ms;
    EXPECT_FALSE(inside) << c.peer << " opened a connection "
                         << std::chrono::duration_cast<std::chrono::milliseconds>(c.opened_at -
                                                                                  it->second)
                                .count()
                         << " ms into its suspension";
  }
  // ...while site B kept receiving.
  ASSERT_FALSE(suspended_at.empty());
  SteadyTime first = std::min_element(suspended_at.begin(), suspended_at.end(),
                                      [](auto& x, auto& y) { return x.second < y.second; })
                         ->second;
  size_t b_during = 0;
  for (const auto& m : b.messages()) {
    if (m.received_at > first + 200ms && m.received_at < first + 1800ms) ++b_during;
  }
  EXPECT_GE(b_during, 20u);
}

TEST_F(ShapingTest, SlowedPathRecoversGradually) {
  std::atomic<int> rcpts{0};
  Script reputation;
  reputation.override = [&rcpts](std::string_view verb, std::string_view,
                                 int) -> std::optional<fakemx::Step> {
    if (verb == "RCPT" && rcpts.fetch_add(1) == 0) {
      return fakemx::Reply(
          "451 4.7.650 The mail server [127.0.0.10] has been temporarily rate limited due to IP "
          "reputation.");
    }
    return std::nullopt;
  };
  FakeMx a(reputation, kSiteA);
  PathLimits limits;
  limits.max_connections = 2;
  limits.max_message_rate = RateOf("40/s");
  auto config = Config(limits, a.port(), a.port());
  config.sources.resize(1);
  policy::RuleSpec rule;
  rule.name = "microsoft-4.7.650-test";
  rule.pattern = "^451 4\\.7\\.65[01]";
  rule.action = policy::RuleSpec::Action::kSlowDown;
  rule.rate = RateOf("4/s");
  rule.duration = 1s;
  rule.recovery_interval = 500ms;
  config.policy = Policy({rule});
  StartWithEvents(config);
  std::vector<std::pair<SteadyTime, double>> rates;  // sampled rate of the path
  Ticker sampler(&loop_, 50, [&] {
    for (const auto& s : engine_->SourceStates()) {
      for (const auto& p : s.paths) {
        rates.emplace_back(std::chrono::steady_clock::now(), p.rate ? p.rate->PerSecond() : 0);
      }
    }
  });
  const int kTotal = 150;
  for (int i = 0; i < kTotal; ++i) Send("a.test", "u" + std::to_string(i), "p");
  ASSERT_TRUE(WaitForOutcomes(kTotal, 60s));
  ExpectOneOutcomeEach(kTotal);
  std::vector<PathEvent::Action> actions;
  SteadyTime slowed_at{};
  for (const auto& te : events_) {
    actions.push_back(te.event.action);
    if (te.event.action == PathEvent::Action::kSlowed) {
      slowed_at = te.at;
      ASSERT_TRUE(te.event.rate.has_value());
      EXPECT_DOUBLE_EQ(te.event.rate->PerSecond(), 4.0);
    }
  }
  ASSERT_EQ(actions, (std::vector<PathEvent::Action>{PathEvent::Action::kSlowed,
                                                     PathEvent::Action::kRecovering,
                                                     PathEvent::Action::kResumed}));
  // While slowed: at most 4/s (+ burst, + jitter).
  size_t during = 0;
  for (const auto& m : a.messages()) {
    if (m.accepted && m.received_at > slowed_at && m.received_at < slowed_at + 1s) ++during;
  }
  EXPECT_LE(during, 4u + 1u + 1u);
  // The rate climbs in steps (4 -> 8 -> 16 -> 32 -> 40), never jumps straight back.
  std::vector<double> seen;
  for (const auto& [at, r] : rates) {
    if (at < slowed_at) continue;
    if (seen.empty() || seen.back() != r) seen.push_back(r);
  }
  ASSERT_GE(seen.size(), 4u);
  for (size_t i = 1; i < seen.size(); ++i) EXPECT_GT(seen[i], seen[i - 1]);
  EXPECT_DOUBLE_EQ(seen.front(), 4.0);
  EXPECT_DOUBLE_EQ(seen.back(), 40.0);
  EXPECT_TRUE(std::find(seen.begin(), seen.end(), 8.0) != seen.end());
}

TEST_F(ShapingTest, WarmupCappedSourcesAreSkippedAndOthersSend) {
  FakeMx a(Script{}, kSiteA);
  PathLimits limits;
  limits.max_connections = 2;
  auto config = Config(limits, a.port(), a.port());
  auto today = std::chrono::floor<std::chrono::days>(std::chrono::system_clock::now());
  config.warmup = {shaping::WarmupPlan{"s13", today, {25}, {}},
                   shaping::WarmupPlan{"s12", today, {30}, {}}};
  StartWithEvents(config);
  // s12 already sent 20 today (before a restart).
  engine_->SeedWarmupCounts({delivery::WarmupCount{"s12", "", 20}});
  const int kTotal = 400;
  for (int i = 0; i < kTotal; ++i) Send("a.test", "u" + std::to_string(i), "p");
  ASSERT_TRUE(WaitForOutcomes(kTotal, 60s));
  ExpectOneOutcomeEach(kTotal);
  for (const auto& o : outcomes_) ASSERT_EQ(o.disposition, Disposition::kDelivered);
  EXPECT_EQ(ReceivedFrom(a, "127.0.0.13").size(), 25u);
  EXPECT_EQ(ReceivedFrom(a, "127.0.0.12").size(), 10u);
  EXPECT_EQ(ReceivedFrom(a, "127.0.0.10").size() + ReceivedFrom(a, "127.0.0.11").size(),
            static_cast<size_t>(kTotal - 35));
  std::map<std::string, delivery::SourceSnapshot> states;
  for (auto& s : engine_->SourceStates()) states[s.name] = s;
  EXPECT_EQ(states["s13"].state, delivery::SourceSnapshot::State::kCapped);
  EXPECT_EQ(states["s13"].sent_today, 25u);
  EXPECT_EQ(states["s13"].cap_today, std::optional<uint64_t>(25));
  EXPECT_EQ(states["s12"].state, delivery::SourceSnapshot::State::kCapped);
  EXPECT_EQ(states["s12"].sent_today, 30u);
  EXPECT_EQ(states["s10"].state, delivery::SourceSnapshot::State::kOk);
  EXPECT_FALSE(states["s10"].cap_today.has_value());
  uint64_t counted = 0;
  for (const auto& c : engine_->WarmupCounts()) counted += c.count;
  EXPECT_EQ(counted, static_cast<uint64_t>(kTotal + 20));
}

TEST_F(ShapingTest, ReconfigureChangesTheRateWithoutDroppingTheConnection) {
  FakeMx a(Script{}, kSiteA);
  PathLimits limits;
  limits.max_connections = 1;
  limits.max_messages_per_connection = 1000;
  limits.max_message_rate = RateOf("10/s");
  auto config = Config(limits, a.port(), a.port());
  config.sources.resize(1);
  StartWithEvents(config);
  const int kTotal = 80;
  for (int i = 0; i < kTotal; ++i) Send("a.test", "u" + std::to_string(i), "p");
  SteadyTime reconfigured{};
  Ticker once(&loop_, 2000, [&] {
    if (reconfigured != SteadyTime{}) return;
    reconfigured = std::chrono::steady_clock::now();
    PathLimits faster = limits;
    faster.max_message_rate = RateOf("50/s");
    auto c = config;
    c.limits_for = [faster](const std::string&, const std::vector<std::string>&) {
      return faster;
    };
    EXPECT_TRUE(engine_->Reconfigure(c).ok());
  });
  ASSERT_TRUE(WaitForOutcomes(kTotal, 60s));
  ExpectOneOutcomeEach(kTotal);
  EXPECT_EQ(a.accepted_messages(), static_cast<size_t>(kTotal));
  EXPECT_EQ(a.total_connections(), 1);  // the same connection carried on
  size_t before = 0;
  std::vector<SteadyTime> after;
  for (const auto& m : a.messages()) {
    if (m.received_at < reconfigured) {
      ++before;
    } else {
      after.push_back(m.received_at);
    }
  }
  EXPECT_LE(before, 10u * 2 + 2);  // about 2 s at 10/s
  ASSERT_GE(after.size(), 40u);
  std::sort(after.begin(), after.end());
  double span = std::chrono::duration<double>(after.back() - after.front()).count();
  // Clearly above the old 10/s (one connection under ASan does not reach 50/s).
  EXPECT_GT((after.size() - 1) / span, 15.0);
  EXPECT_LE(MaxInWindow(after, 1s), 50u + 2u);
}

TEST_F(ShapingTest, ReconfigureRemovingASourceClosesItsConnectionsCleanly) {
  FakeMx a(Script{}, kSiteA);
  PathLimits limits;
  limits.max_connections = 1;
  limits.max_messages_per_connection = 1000;
  limits.max_message_rate = RateOf("20/s");
  auto config = Config(limits, a.port(), a.port());
  config.sources.resize(2);  // s10, s11 (weights 1:1)
  StartWithEvents(config);
  const int kTotal = 100;
  for (int i = 0; i < kTotal; ++i) Send("a.test", "u" + std::to_string(i), "p");
  SteadyTime reconfigured{};
  Ticker once(&loop_, 1000, [&] {
    if (reconfigured != SteadyTime{}) return;
    reconfigured = std::chrono::steady_clock::now();
    auto c = config;
    c.sources.resize(1);  // s11 removed
    EXPECT_TRUE(engine_->Reconfigure(c).ok());
  });
  ASSERT_TRUE(WaitForOutcomes(kTotal, 60s));
  ExpectOneOutcomeEach(kTotal);
  for (const auto& o : outcomes_) ASSERT_EQ(o.disposition, Disposition::kDelivered);
  for (const auto& m : a.messages()) {
    if (m.peer == "127.0.0.11") {
      EXPECT_LT(m.received_at, reconfigured + 200ms);
    }
  }
  bool saw_s11 = false;
  for (const auto& c : a.connections()) {
    if (c.peer != "127.0.0.11") continue;
    saw_s11 = true;
    ASSERT_FALSE(c.commands.empty());
    EXPECT_EQ(c.commands.back().line, "QUIT");  // finished and quit, not dropped
  }
  EXPECT_TRUE(saw_s11);
  bool s11_inactive = false;
  for (const auto& s : engine_->SourceStates()) {
    if (s.name == "s11") s11_inactive = !s.active;
  }
  EXPECT_TRUE(s11_inactive);
}

}  // namespace
}  // namespace postino::testing
