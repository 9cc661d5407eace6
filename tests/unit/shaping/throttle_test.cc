// throttle_test.cc: GCRA on fake time — spacing, burst, retry_after, and
// rate changes.
#include "engine/shaping/throttle.h"

#include <gtest/gtest.h>

#include <algorithm>

namespace postino::shaping {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

TEST(ThrottleTest, EvenSpacingWithoutBurst) {
  FakeClock clock;
  Throttle t(*ParseRate("10/s"));  // one per 100 ms
  EXPECT_TRUE(t.TryAcquire(clock.Now()).allowed);
  ThrottleDecision d = t.TryAcquire(clock.Now());
  EXPECT_FALSE(d.allowed);
  EXPECT_EQ(d.retry_after, milliseconds(100));
  clock.Advance(milliseconds(60));
  d = t.TryAcquire(clock.Now());
  EXPECT_FALSE(d.allowed);
  EXPECT_EQ(d.retry_after, milliseconds(40));
  clock.Advance(d.retry_after);
  EXPECT_TRUE(t.TryAcquire(clock.Now()).allowed);
}

TEST(ThrottleTest, BurstThenSteadyRate) {
  FakeClock clock;
  Throttle t(*ParseRate("60/min"), 5);
  for (int i = 0; i < 5; ++i) EXPECT_TRUE(t.TryAcquire(clock.Now()).allowed) << i;
  ThrottleDecision d = t.TryAcquire(clock.Now());
  ASSERT_FALSE(d.allowed);
  EXPECT_EQ(d.retry_after, seconds(1));
  // Over 100 s of honouring retry_after, exactly 100 more pass: the rate holds.
  int allowed = 0;
  MonoTime end = clock.Now() + seconds(100);
  while (clock.Now() <= end) {  // slots at 1 s, 2 s, ... 100 s
    ThrottleDecision x = t.TryAcquire(clock.Now());
    if (x.allowed) {
      ++allowed;
    } else {
      clock.Advance(x.retry_after);
    }
  }
  EXPECT_EQ(allowed, 100);
}

TEST(ThrottleTest, IdleTimeEarnsAtMostTheBurst) {
  FakeClock clock;
  Throttle t(*ParseRate("1/s"), 3);
  clock.Advance(seconds(3600));
  int n = 0;
  while (t.TryAcquire(clock.Now()).allowed) ++n;
  EXPECT_EQ(n, 3);
}

TEST(ThrottleTest, CheckDoesNotConsume) {
  FakeClock clock;
  Throttle t(*ParseRate("1/s"));
  EXPECT_TRUE(t.Check(clock.Now()).allowed);
  EXPECT_TRUE(t.Check(clock.Now()).allowed);
  EXPECT_TRUE(t.TryAcquire(clock.Now()).allowed);
  EXPECT_FALSE(t.Check(clock.Now()).allowed);
}

TEST(ThrottleTest, SetRateSlowsDownAndSpeedsUp) {
  FakeClock clock;
  Throttle t(*ParseRate("10/s"));
  EXPECT_TRUE(t.TryAcquire(clock.Now()).allowed);
  t.SetRate(*ParseRate("1/s"));
  clock.Advance(milliseconds(100));
  // TAT was set at the old rate (+100 ms); the next slot now costs 1 s.
  EXPECT_TRUE(t.TryAcquire(clock.Now()).allowed);
  ThrottleDecision d = t.TryAcquire(clock.Now());
  EXPECT_FALSE(d.allowed);
  EXPECT_EQ(d.retry_after, seconds(1));
  t.SetRate(*ParseRate("100/s"));
  EXPECT_EQ(t.rate().count, 100u);
}

// A caller woken by a millisecond timer (the engine's wake queue) gets the
// configured rate even when it is far above one per millisecond: without
// the tolerance floor this loop passed 1,000 of the 4,000.
TEST(ThrottleTest, FastRatesHoldForACallerWokenEveryMillisecond) {
  FakeClock clock;
  Throttle t(*ParseRate("4000/s"));
  int allowed = 0;
  int most_at_once = 0;
  MonoTime end = clock.Now() + seconds(10);
  while (clock.Now() < end) {
    int now_allowed = 0;
    while (t.TryAcquire(clock.Now()).allowed) ++now_allowed;
    allowed += now_allowed;
    most_at_once = std::max(most_at_once, now_allowed);
    ThrottleDecision d = t.Check(clock.Now());
    ASSERT_FALSE(d.allowed);
    // The timer's resolution: the wait rounds up to a whole millisecond.
    clock.Advance(std::chrono::ceil<milliseconds>(d.retry_after));
  }
  EXPECT_GE(allowed, 39990);
  EXPECT_LE(allowed, 40000 + 9);  // the rate, plus at most one burst
  EXPECT_LE(most_at_once, 9);     // 2 ms' worth, plus the slot itself
}

// The floor never lets a slow rate burst: one per 100 ms stays one.
TEST(ThrottleTest, SlowRatesKeepTheirSpacingUnderTheFloor) {
  FakeClock clock;
  Throttle t(*ParseRate("100/s"));  // T = 10 ms, well above the 2 ms floor
  EXPECT_TRUE(t.TryAcquire(clock.Now()).allowed);
  EXPECT_FALSE(t.TryAcquire(clock.Now()).allowed);
}

}  // namespace
}  // namespace postino::shaping
