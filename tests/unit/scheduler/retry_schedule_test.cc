// retry_schedule_test.cc: the one retry schedule: delay per attempt, jitter
// bounds and seeding, expiry at max_age and the per-domain override.
#include "scheduler/retry_schedule.h"

#include <gtest/gtest.h>

namespace postino::scheduler {
namespace {

using std::chrono::hours;
using std::chrono::minutes;
using std::chrono::seconds;

config::Config Parse(const std::string& extra) {
  Result<config::Config> c = config::ParseConfig(
      "[database]\nurl = \"x\"\n[[sources]]\nname = \"a\"\naddress = \"127.0.0.1\"\n" + extra,
      "t.toml");
  EXPECT_TRUE(c.ok()) << c.status().ToString();
  return c.ok() ? *c : config::Config();
}

const WallTime kT0 = WallTime(hours(24 * 365 * 56));

TEST(RetryScheduleTest, DelayPerAttemptLastStepRepeats) {
  RetrySchedule r(Parse("[retry]\njitter = 0.0\n"), 1);
  std::vector<Nanos> want = {minutes(5), minutes(10), minutes(20), minutes(40),
                             hours(1),   hours(2),    hours(4),    hours(4)};
  for (size_t i = 0; i < want.size(); ++i) {
    EXPECT_EQ(r.BaseDelay("example.com", static_cast<int>(i)), want[i]) << i;
    RetryDecision d = r.Next("example.com", static_cast<int>(i), kT0, kT0, hours(72));
    ASSERT_FALSE(d.expired);
    EXPECT_EQ(d.next_attempt_at - kT0, want[i]) << i;
  }
}

TEST(RetryScheduleTest, JitterStaysWithinBoundsAndIsSeeded) {
  config::Config c = Parse("[retry]\njitter = 0.1\n");
  RetrySchedule a(c, 42), b(c, 42), other(c, 7);
  bool below = false, above = false, differs = false;
  for (int i = 0; i < 2000; ++i) {
    Nanos da = a.Next("x.org", 0, kT0, kT0, hours(72)).next_attempt_at - kT0;
    Nanos db = b.Next("x.org", 0, kT0, kT0, hours(72)).next_attempt_at - kT0;
    Nanos dc = other.Next("x.org", 0, kT0, kT0, hours(72)).next_attempt_at - kT0;
    EXPECT_EQ(da, db);
    differs |= da != dc;
    EXPECT_GE(da, Nanos(seconds(270)));  // 5 min - 10%
    EXPECT_LE(da, Nanos(seconds(330)));  // 5 min + 10%
    below |= da < Nanos(minutes(5));
    above |= da > Nanos(minutes(5));
  }
  EXPECT_TRUE(below && above);
  EXPECT_TRUE(differs);
}

TEST(RetryScheduleTest, ExpiresAtTheCampaignsMaxAge) {
  RetrySchedule r(Parse("[retry]\njitter = 0.0\n"), 1);
  EXPECT_FALSE(r.Next("example.com", 3, kT0, kT0 + hours(48) - seconds(1), hours(48)).expired);
  EXPECT_TRUE(r.Next("example.com", 3, kT0, kT0 + hours(48), hours(48)).expired);
  // A next attempt planned past the deadline is still made.
  RetryDecision d = r.Next("example.com", 6, kT0, kT0 + hours(47), hours(48));
  EXPECT_FALSE(d.expired);
  EXPECT_EQ(d.next_attempt_at, kT0 + hours(51));
}

TEST(RetryScheduleTest, ARuleForTheDomainOverridesScheduleAndMaxAge) {
  RetrySchedule r(Parse("[retry]\njitter = 0.0\n[[limits.rules]]\nmatch = \"slow.example\"\n"
                        "retry_schedule = [\"1m\", \"3m\"]\nmax_age = \"1h\"\n"),
                  1);
  EXPECT_EQ(r.BaseDelay("slow.example", 0), minutes(1));
  EXPECT_EQ(r.BaseDelay("slow.example", 5), minutes(3));
  EXPECT_EQ(r.BaseDelay("other.example", 0), minutes(5));
  // The rule's max_age wins over the campaign's, for its domain only.
  EXPECT_TRUE(r.Next("slow.example", 1, kT0, kT0 + hours(1), hours(72)).expired);
  EXPECT_FALSE(r.Next("other.example", 1, kT0, kT0 + hours(1), hours(72)).expired);
  EXPECT_EQ(r.MaxAge("slow.example", hours(72)), Nanos(hours(1)));
  EXPECT_EQ(r.MaxAge("other.example", hours(5)), Nanos(hours(5)));
}

}  // namespace
}  // namespace postino::scheduler
