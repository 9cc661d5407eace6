// retry_test.cc: default schedule, jitter bounds and determinism, expiry.
#include "engine/shaping/retry.h"

#include <gtest/gtest.h>

namespace postino::shaping {
namespace {

using namespace std::chrono;

TEST(RetryTest, DefaultScheduleWithoutJitter) {
  RetrySchedule r({}, hours(72), 0.0);
  WallTime t0{};
  Nanos expected[] = {minutes(5), minutes(10), minutes(20), minutes(40), hours(1),
                      hours(2),   hours(4),    hours(4),    hours(4)};
  for (int a = 1; a <= 9; ++a) {
    EXPECT_EQ(r.Interval(a), expected[a - 1]) << a;
    RetryDecision d = r.NextAttempt(a, t0 + minutes(1), t0);
    ASSERT_FALSE(d.expired);
    EXPECT_EQ(d.at - (t0 + minutes(1)), expected[a - 1]);
  }
}

TEST(RetryTest, JitterWithinTenPercentAndSeeded) {
  RetrySchedule a({}, hours(72), 0.1, 42), b({}, hours(72), 0.1, 42), c({}, hours(72), 0.1, 7);
  WallTime t0{};
  bool any_difference = false;
  for (int i = 0; i < 200; ++i) {
    RetryDecision x = a.NextAttempt(5, t0, t0);  // 1h
    RetryDecision y = b.NextAttempt(5, t0, t0);
    RetryDecision z = c.NextAttempt(5, t0, t0);
    EXPECT_EQ(x.at, y.at);
    any_difference |= x.at != z.at;
    Nanos wait = x.at - t0;
    EXPECT_GE(wait, minutes(54));
    EXPECT_LE(wait, minutes(66));
  }
  EXPECT_TRUE(any_difference);
}

TEST(RetryTest, ExpiresAfterMaxAge) {
  RetrySchedule r({}, hours(72), 0.0);
  WallTime t0{};
  EXPECT_TRUE(r.NextAttempt(20, t0 + hours(72), t0).expired);
  EXPECT_TRUE(r.NextAttempt(20, t0 + hours(70), t0).expired);  // next (4h) would be too late
  EXPECT_FALSE(r.NextAttempt(20, t0 + hours(67), t0).expired);
}

TEST(RetryTest, CustomScheduleLastRepeats) {
  RetrySchedule r({minutes(1), minutes(7)}, hours(1), 0.0);
  EXPECT_EQ(r.Interval(1), minutes(1));
  EXPECT_EQ(r.Interval(2), minutes(7));
  EXPECT_EQ(r.Interval(50), minutes(7));
}

}  // namespace
}  // namespace postino::shaping
