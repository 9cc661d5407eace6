// engine_parts_test.cc: the engine's helper classes on their own, on a
// FakeClock: HostMemory (failed and plain-only hosts), ConnectionSlots (the
// total-connection cap and its FIFO), WarmupLedger (counts per UTC day).
#include <gtest/gtest.h>

#include "common/clock.h"
#include "engine/delivery/connection_slots.h"
#include "engine/delivery/host_memory.h"
#include "engine/delivery/warmup_ledger.h"

namespace postino::delivery {
namespace {

using namespace std::chrono_literals;

HostEntry Host(const std::string& ip, uint16_t port = 25) {
  HostEntry h;
  h.name = "mx." + ip;
  h.ip = ip;
  h.port = port;
  return h;
}

TEST(HostMemoryTest, AFailedHostIsSkippedForTheTtlOnly) {
  FakeClock clock;
  HostMemory hosts(clock, 60s);
  const HostEntry a = Host("192.0.2.1"), b = Host("192.0.2.1", 587);
  EXPECT_TRUE(hosts.Usable(a));
  hosts.MarkFailed(a, LocalReply(421, "4.3.2", "busy"), smtp::Phase::kBanner);
  EXPECT_FALSE(hosts.Usable(a));
  EXPECT_TRUE(hosts.Usable(b));  // another port is another host
  clock.Advance(59s);
  EXPECT_FALSE(hosts.Usable(a));
  clock.Advance(1s);
  EXPECT_TRUE(hosts.Usable(a));
}

TEST(HostMemoryTest, PlainOnlyIsForgottenAfterTheTtlAndTheTtlCanChange) {
  FakeClock clock;
  HostMemory hosts(clock, 10s);
  const HostEntry a = Host("192.0.2.2");
  EXPECT_FALSE(hosts.PlainOnly(a));
  hosts.MarkPlainOnly(a);
  EXPECT_TRUE(hosts.PlainOnly(a));
  clock.Advance(10s);
  EXPECT_FALSE(hosts.PlainOnly(a));
  hosts.set_ttl(1s);
  hosts.MarkFailed(a, LocalReply(451, "4.4.1", "refused"), smtp::Phase::kConnect);
  clock.Advance(1s);
  EXPECT_TRUE(hosts.Usable(a));
}

TEST(ConnectionSlotsTest, FreedSlotsGoToTheLongestWaiting) {
  ConnectionSlots slots(2);
  Destination a, b, c;
  EXPECT_FALSE(slots.MustWait(&a));
  slots.Opened();
  slots.Opened();
  EXPECT_TRUE(slots.Full());
  EXPECT_TRUE(slots.MustWait(&a));
  slots.Wait(&a, false);
  slots.Wait(&b, false);
  slots.Wait(&a, false);  // already waiting: keeps its place
  slots.Wait(&c, /*front=*/true);
  EXPECT_TRUE(slots.TakeReclaim());
  EXPECT_FALSE(slots.TakeReclaim());
  EXPECT_EQ(slots.NextToServe(), nullptr);  // still full
  slots.Closed();
  EXPECT_FALSE(slots.Full());
  // Others wait first: a destination not being served must queue too.
  Destination d;
  EXPECT_TRUE(slots.MustWait(&d));
  EXPECT_EQ(slots.NextToServe(), &c);
  EXPECT_EQ(slots.serving(), &c);
  EXPECT_FALSE(slots.MustWait(&c));
  EXPECT_FALSE(slots.IsWaiting(&c));
  slots.Opened();
  slots.DoneServing();
  EXPECT_EQ(slots.NextToServe(), nullptr);
  slots.Closed();
  EXPECT_EQ(slots.NextToServe(), &a);
  slots.DoneServing();
  EXPECT_EQ(slots.NextToServe(), &b);
  slots.DoneServing();
  EXPECT_FALSE(slots.AnyWaiting());
  slots.set_cap(0);  // unlimited
  for (int i = 0; i < 10; ++i) slots.Opened();
  EXPECT_FALSE(slots.Full());
}

TEST(WarmupLedgerTest, CountsAreTodaysAndCarryOverToNewPlans) {
  FakeClock clock;  // starts at a UTC midnight
  clock.Advance(1h);
  WarmupLedger ledger(clock);
  const auto today = std::chrono::floor<std::chrono::days>(clock.WallNow());
  ledger.SetPlans({{"ip1", today, {5}, {}}});
  ledger.Count("ip1", "site.a", 3);
  ledger.Count("ip2", "site.a", 7);  // not warming: counted, never capped
  EXPECT_EQ(ledger.Remaining("ip1", "site.a"), 2u);
  EXPECT_TRUE(ledger.MaySend("ip2", "site.a"));
  EXPECT_EQ(ledger.SentTodayBySource()["ip1"], 3u);
  EXPECT_EQ(ledger.Counts().size(), 2u);
  ledger.SetPlans({{"ip1", today, {4}, {}}});  // Reconfigure
  EXPECT_EQ(ledger.Remaining("ip1", "site.a"), 1u);
  ledger.Seed({{"ip1", "site.b", 1}});
  EXPECT_FALSE(ledger.MaySend("ip1", "site.a"));
  clock.Advance(24h);  // the next UTC day
  EXPECT_TRUE(ledger.Counts().empty());
  EXPECT_TRUE(ledger.SentTodayBySource().empty());
}

}  // namespace
}  // namespace postino::delivery
