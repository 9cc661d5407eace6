// engine_total_connections_test.cc: EngineConfig::max_total_connections, the
// cap on connections open at once over every destination ([node]
// max_connections): it holds under many destinations, waiting destinations
// all get served, and idle connections make room for them early.
#include <gtest/gtest.h>

#include "tests/fakemx/fake_mx.h"
#include "tests/integration/engine/engine_fixture.h"

namespace postino::testing {
namespace {

using namespace std::chrono_literals;
using delivery::Disposition;
using fakemx::FakeMx;
using fakemx::Script;

class TotalConnectionsTest : public EngineTest {
 protected:
  // Every *.test domain is its own site on the one fake MX.
  static delivery::Route PerDomainRoute(uint16_t port) {
    delivery::Route r = StaticRoute("*", port);
    r.site_per_domain = true;
    return r;
  }
};

TEST_F(TotalConnectionsTest, NeverMoreConnectionsThanTheCapAndEveryDomainIsServed) {
  Script script;
  script.end_of_data.delay = 30ms;  // keep connections busy for a while
  FakeMx mx(script);
  auto config = BaseConfig();
  config.routes.push_back(PerDomainRoute(mx.port()));
  config.max_connections_per_destination = 2;
  config.max_total_connections = 3;
  StartEngine(config);
  for (int d = 0; d < 12; ++d) {
    for (int i = 0; i < 3; ++i) Send("d" + std::to_string(d) + ".test", "u" + std::to_string(i));
  }
  ASSERT_TRUE(WaitForOutcomes(36, 30s));
  for (const auto& o : outcomes_) {
    EXPECT_EQ(o.disposition, Disposition::kDelivered) << o.reply.ToString();
  }
  EXPECT_EQ(mx.accepted_messages(), 36u);
  EXPECT_LE(mx.max_concurrent_connections(), 3);
  EXPECT_GE(mx.total_connections(), 12);  // one site per domain
}

TEST_F(TotalConnectionsTest, AnIdleConnectionMakesRoomForAWaitingDomain) {
  FakeMx mx(Script{});
  auto config = BaseConfig();
  config.routes.push_back(PerDomainRoute(mx.port()));
  config.max_total_connections = 1;
  config.idle_timeout = 20s;  // far longer than the test may take
  StartEngine(config);
  Send("first.test");
  ASSERT_TRUE(WaitForOutcomes(1));
  auto start = std::chrono::steady_clock::now();
  Send("second.test");
  ASSERT_TRUE(WaitForOutcomes(2, 10s));
  EXPECT_LT(std::chrono::steady_clock::now() - start, 5s);
  EXPECT_EQ(OutcomeFor(2)->disposition, Disposition::kDelivered);
  EXPECT_EQ(mx.total_connections(), 2);
  EXPECT_LE(mx.max_concurrent_connections(), 1);
  // The first connection was closed politely.
  auto conns = mx.connections();
  ASSERT_FALSE(conns[0].commands.empty());
  EXPECT_EQ(conns[0].commands.back().line, "QUIT");
}

TEST_F(TotalConnectionsTest, AConnectionThatFallsIdleWhileOthersWaitQuitsAtOnce) {
  // The second domain starts waiting while the only connection is busy; when
  // that connection runs out of work it must QUIT then, not after idle_timeout.
  Script script;
  script.end_of_data.delay = 300ms;
  FakeMx mx(script);
  auto config = BaseConfig();
  config.routes.push_back(PerDomainRoute(mx.port()));
  config.max_total_connections = 1;
  config.idle_timeout = 20s;
  StartEngine(config);
  auto start = std::chrono::steady_clock::now();
  Send("first.test");
  Send("second.test");
  Send("third.test");
  ASSERT_TRUE(WaitForOutcomes(3, 15s));
  EXPECT_LT(std::chrono::steady_clock::now() - start, 5s);
  for (const auto& o : outcomes_) EXPECT_EQ(o.disposition, Disposition::kDelivered);
  EXPECT_EQ(mx.total_connections(), 3);
  EXPECT_LE(mx.max_concurrent_connections(), 1);
}

TEST_F(TotalConnectionsTest, IdleDestinationsAndSitesAreFreedAndComeBackWhenNeeded) {
  FakeMx mx(Script{});
  auto config = BaseConfig();
  config.routes.push_back(PerDomainRoute(mx.port()));
  config.idle_timeout = 100ms;
  config.destination_idle_ttl = 200ms;
  StartEngine(config);
  for (int d = 0; d < 5; ++d) Send("d" + std::to_string(d) + ".test");
  ASSERT_TRUE(WaitForOutcomes(5));
  EXPECT_EQ(engine_->Counts().destinations, 5u);
  EXPECT_EQ(engine_->Counts().sites, 5u);
  // The sweep timer does not keep a loop alive on its own; this one does.
  uv_timer_t keepalive;
  uv_timer_init(&loop_, &keepalive);
  uv_timer_start(&keepalive, [](uv_timer_t*) {}, 20, 20);
  EXPECT_TRUE(RunUntil(
      [&] {
        delivery::EngineCounts c = engine_->Counts();
        return c.destinations == 0 && c.sites == 0 && c.connections == 0;
      },
      5s));
  // A domain seen again gets a new destination and site.
  uint64_t again = Send("d3.test");
  ASSERT_TRUE(WaitForOutcomes(6));
  EXPECT_EQ(OutcomeFor(again)->disposition, Disposition::kDelivered);
  EXPECT_EQ(engine_->Counts().destinations, 1u);
  uv_close(reinterpret_cast<uv_handle_t*>(&keepalive), nullptr);
  uv_run(&loop_, UV_RUN_NOWAIT);  // finish the close before `keepalive` goes away
  EXPECT_EQ(mx.accepted_messages(), 6u);
}

TEST_F(TotalConnectionsTest, AFreedSlotGoesToTheDestinationThatWaitedLongest) {
  // big.test reconnects after every message; small.test starts waiting after
  // big.test's first message and must not wait behind all of big.test.
  Script script;
  script.end_of_data.delay = 50ms;
  FakeMx mx(script);
  auto config = BaseConfig();
  config.routes.push_back(PerDomainRoute(mx.port()));
  config.max_total_connections = 1;
  config.max_messages_per_connection = 1;
  config.idle_timeout = 20s;
  StartEngine(config);
  for (int i = 0; i < 20; ++i) Send("big.test", "u" + std::to_string(i));
  ASSERT_TRUE(WaitForOutcomes(1));
  uint64_t small = Send("small.test");
  ASSERT_TRUE(WaitForOutcomes(21, 30s));
  size_t position = 0;
  for (size_t i = 0; i < outcomes_.size(); ++i) {
    if (outcomes_[i].id == small) position = i;
  }
  EXPECT_LE(position, 3u) << "small.test was outcome #" << position << " of 21";
  EXPECT_LE(mx.max_concurrent_connections(), 1);
}

}  // namespace
}  // namespace postino::testing
