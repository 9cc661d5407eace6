// egress_path_test.cc: suspension, slow-down and gradual recovery.
#include "engine/shaping/egress_path.h"

#include <gtest/gtest.h>

namespace postino::shaping {
namespace {

using std::chrono::minutes;
using std::chrono::seconds;

TEST(EgressPathTest, UnlimitedByDefault) {
  FakeClock clock;
  EgressPath p;
  for (int i = 0; i < 1000; ++i) EXPECT_TRUE(p.TryAcquire(clock.Now()).allowed);
  EXPECT_EQ(p.State(clock.Now()), PathState::kOpen);
}

TEST(EgressPathTest, SuspendReturnsWhenToComeBack) {
  FakeClock clock;
  EgressPath p(*ParseRate("10/s"));
  p.Suspend(clock.Now() + minutes(30));
  ThrottleDecision d = p.TryAcquire(clock.Now());
  EXPECT_FALSE(d.allowed);
  EXPECT_EQ(d.retry_after, minutes(30));
  EXPECT_EQ(p.State(clock.Now()), PathState::kSuspended);
  clock.Advance(minutes(30));
  EXPECT_TRUE(p.TryAcquire(clock.Now()).allowed);
}

TEST(EgressPathTest, SlowThenRecoverByDoubling) {
  FakeClock clock;
  EgressPath p(*ParseRate("64/min"));
  p.Slow(*ParseRate("4/min"), clock.Now() + minutes(10), minutes(5));
  EXPECT_EQ(p.State(clock.Now()), PathState::kSlowed);
  EXPECT_EQ(p.CurrentRate(clock.Now())->count, 4u);
  EXPECT_TRUE(p.TryAcquire(clock.Now()).allowed);
  ThrottleDecision d = p.TryAcquire(clock.Now());
  EXPECT_FALSE(d.allowed);
  EXPECT_EQ(d.retry_after, seconds(15));
  clock.Advance(minutes(10));  // slow period over: first doubling
  EXPECT_EQ(p.State(clock.Now()), PathState::kRecovering);
  EXPECT_EQ(p.CurrentRate(clock.Now())->count, 8u);
  clock.Advance(minutes(5));
  EXPECT_EQ(p.CurrentRate(clock.Now())->count, 16u);
  clock.Advance(minutes(5));
  EXPECT_EQ(p.CurrentRate(clock.Now())->count, 32u);
  clock.Advance(minutes(5));
  EXPECT_EQ(p.CurrentRate(clock.Now())->count, 64u);
  EXPECT_EQ(p.State(clock.Now()), PathState::kOpen);
  EXPECT_TRUE(p.TryAcquire(clock.Now()).allowed);
  clock.Advance(minutes(60));
  EXPECT_EQ(p.CurrentRate(clock.Now())->count, 64u);  // never above configured
}

TEST(EgressPathTest, RecoveryToUnlimitedAfterMaxSteps) {
  FakeClock clock;
  EgressPath p;
  p.Slow(*ParseRate("1/s"), clock.Now() + minutes(1), minutes(1));
  clock.Advance(minutes(1));
  EXPECT_EQ(p.CurrentRate(clock.Now())->count, 2u);
  clock.Advance(minutes(EgressPath::kMaxRecoverySteps));
  EXPECT_FALSE(p.CurrentRate(clock.Now()).has_value());
  EXPECT_EQ(p.State(clock.Now()), PathState::kOpen);
  for (int i = 0; i < 100; ++i) EXPECT_TRUE(p.TryAcquire(clock.Now()).allowed);
}

TEST(EgressPathTest, SlowNeverRaisesAboveConfigured) {
  FakeClock clock;
  EgressPath p(*ParseRate("1/min"));
  p.Slow(*ParseRate("100/min"), clock.Now() + minutes(5), minutes(1));
  EXPECT_EQ(p.CurrentRate(clock.Now())->count, 1u);
}

}  // namespace
}  // namespace postino::shaping
