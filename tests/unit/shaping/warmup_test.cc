// warmup_test.cc: daily caps counted in UTC days from the start date.
#include "engine/shaping/warmup.h"

#include <gtest/gtest.h>

namespace postino::shaping {
namespace {

using namespace std::chrono;

// 2026-11-01T10:00:00Z.
WallTime Start() { return sys_days(year(2026) / November / 1) + hours(10); }

TEST(WarmupTest, DailyCapsThenUnlimited) {
  FakeClock clock(Start());
  WarmupTracker w(clock, {{"ip1", sys_days(year(2026) / November / 1), {2, 3}, {}}});
  EXPECT_TRUE(w.MaySend("ip1", "s"));
  w.RecordSent("ip1", "s");
  w.RecordSent("ip1", "s");
  EXPECT_FALSE(w.MaySend("ip1", "s"));
  SourceState st = w.State("ip1");
  EXPECT_EQ(st.status, WarmupStatus::kCapped);
  EXPECT_EQ(st.day, 0);
  EXPECT_EQ(st.sent_today, 2u);
  EXPECT_EQ(*st.cap, 2u);
  EXPECT_EQ(st.next_day, WallTime(sys_days(year(2026) / November / 2)));
  clock.Advance(hours(14));  // UTC midnight: day 1
  EXPECT_TRUE(w.MaySend("ip1", "s"));
  EXPECT_EQ(w.State("ip1").sent_today, 0u);
  EXPECT_EQ(*w.State("ip1").cap, 3u);
  for (int i = 0; i < 3; ++i) w.RecordSent("ip1", "s");
  EXPECT_FALSE(w.MaySend("ip1", "s"));
  clock.Advance(hours(24));  // past the schedule
  EXPECT_TRUE(w.MaySend("ip1", "s"));
  EXPECT_EQ(w.State("ip1").status, WarmupStatus::kDone);
  EXPECT_FALSE(w.State("ip1").cap.has_value());
}

TEST(WarmupTest, BeforeStartNothingAndUnknownSourcesFree) {
  FakeClock clock(Start());
  WarmupTracker w(clock, {{"ip1", sys_days(year(2026) / November / 3), {10}, {}}});
  EXPECT_FALSE(w.MaySend("ip1", "s"));
  EXPECT_EQ(w.State("ip1").status, WarmupStatus::kPending);
  EXPECT_EQ(w.State("ip1").day, -2);
  EXPECT_TRUE(w.MaySend("ip9", "s"));
  EXPECT_EQ(w.State("ip9").status, WarmupStatus::kNotWarming);
}

TEST(WarmupTest, PerSiteCaps) {
  FakeClock clock(Start());
  WarmupTracker w(clock,
                  {{"ip1", sys_days(year(2026) / November / 1), {100}, {{"*.google.com", {1}}}}});
  std::string gmail = "alt1.gmail-smtp-in.l.google.com,gmail-smtp-in.l.google.com";
  EXPECT_TRUE(w.MaySend("ip1", gmail));
  w.RecordSent("ip1", gmail);
  EXPECT_FALSE(w.MaySend("ip1", gmail));
  EXPECT_TRUE(w.MaySend("ip1", "mx.yahoodns.net"));
  EXPECT_EQ(w.State("ip1").sent_today, 1u);
  ASSERT_EQ(w.States().size(), 1u);
}

TEST(WarmupTest, RemainingIsTheSmallestCapLeft) {
  FakeClock clock(Start());
  WarmupTracker w(clock,
                  {{"ip1", sys_days(year(2026) / November / 1), {10}, {{"*.google.com", {4}}}}});
  std::string gmail = "gmail-smtp-in.l.google.com";
  EXPECT_EQ(w.Remaining("ip1", gmail), std::optional<uint64_t>(4));
  EXPECT_EQ(w.Remaining("ip1", "mx.yahoodns.net"), std::optional<uint64_t>(10));
  for (int i = 0; i < 3; ++i) w.RecordSent("ip1", "mx.yahoodns.net");
  EXPECT_EQ(w.Remaining("ip1", gmail), std::optional<uint64_t>(4));  // site cap still smaller
  for (int i = 0; i < 4; ++i) w.RecordSent("ip1", gmail);
  EXPECT_EQ(w.Remaining("ip1", gmail), std::optional<uint64_t>(0));
  EXPECT_EQ(w.Remaining("ip1", "mx.yahoodns.net"), std::optional<uint64_t>(3));
  EXPECT_FALSE(w.Remaining("ip9", gmail).has_value());  // no plan: no cap
  clock.Advance(hours(24 * 2));                         // past the schedule
  EXPECT_FALSE(w.Remaining("ip1", gmail).has_value());
}

}  // namespace
}  // namespace postino::shaping
