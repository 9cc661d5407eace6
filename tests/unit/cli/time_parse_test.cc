// time_parse_test.cc: `--at` with real IANA zones (date/tz.h reading the
// system's /usr/share/zoneinfo) and the command-line duration rules —
// issue 11 item 14.
#include "cli/time_parse.h"

#include <date/tz.h>
#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>

namespace postino::cli {
namespace {

using std::chrono::hours;
using std::chrono::minutes;
using std::chrono::seconds;

// 2026-12-02 06:00:00 UTC: the "now" of these tests.
WallTime Now() { return WallTime(seconds(1796191200)); }

int64_t Epoch(const ScheduleTime& t) {
  return std::chrono::duration_cast<seconds>(t.utc.time_since_epoch()).count();
}

TEST(TimeZoneDatabaseTest, ComesFromTheSystemZoneinfo) {
  // Debian builds date-tz with USE_OS_TZDB: it reads the tzdata package's
  // files, never downloads. A zone that exists there is found.
  ASSERT_TRUE(std::filesystem::exists("/usr/share/zoneinfo/Europe/Rome"))
      << "tzdata is not installed (deploy/install-deps.sh)";
  EXPECT_EQ(date::locate_zone("Europe/Rome")->name(), "Europe/Rome");
  EXPECT_FALSE(date::get_tzdb().version.empty());
}

TEST(ScheduleTimeTest, OffsetsZAndUtc) {
  auto a = ParseScheduleTime("2027-01-05T09:00+01:00", Now());
  ASSERT_TRUE(a.ok()) << a.status().ToString();
  EXPECT_EQ(Epoch(*a), 1799136000);  // 2027-01-05 08:00:00 UTC
  EXPECT_EQ(a->understood, "2027-01-05 08:00:00 UTC (2027-01-05 09:00:00 at offset +01:00)");
  auto z = ParseScheduleTime("2027-01-05T08:00Z", Now());
  ASSERT_TRUE(z.ok()) << z.status().ToString();
  EXPECT_EQ(Epoch(*z), 1799136000);
  auto u = ParseScheduleTime("2027-01-05 08:00:00 UTC", Now());
  ASSERT_TRUE(u.ok());
  EXPECT_EQ(Epoch(*u), 1799136000);
  auto n = ParseScheduleTime("2027-01-05 03:00-0500", Now());
  ASSERT_TRUE(n.ok()) << n.status().ToString();
  EXPECT_EQ(Epoch(*n), 1799136000);
  auto plain = ParseScheduleTime("2027-01-05 08:00", Now());  // no zone: UTC
  ASSERT_TRUE(plain.ok());
  EXPECT_EQ(Epoch(*plain), 1799136000);
}

TEST(ScheduleTimeTest, NamedZoneSaysWhatWasUnderstood) {
  auto r = ParseScheduleTime("2027-01-05 09:00 Europe/Rome", Now());
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(Epoch(*r), 1799136000);
  EXPECT_EQ(r->understood, "2027-01-05 08:00:00 UTC (2027-01-05 09:00:00 CET in Europe/Rome)");
  auto summer = ParseScheduleTime("2027-07-01 09:00 Europe/Rome", Now());
  ASSERT_TRUE(summer.ok());
  EXPECT_NE(summer->understood.find("07:00:00 UTC"), std::string::npos) << summer->understood;
  EXPECT_NE(summer->understood.find("CEST"), std::string::npos) << summer->understood;
  EXPECT_TRUE(summer->warnings.empty());
}

TEST(ScheduleTimeTest, LocalTimeSkippedByDstIsRefused) {
  auto r = ParseScheduleTime("2027-03-28 02:30 Europe/Rome", Now());
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().message(),
            "2027-03-28 02:30:00 does not exist in Europe/Rome: the clocks jump from 02:00 CET to "
            "03:00 CEST; pick a time outside that hour (e.g. 2027-03-28 03:30)");
}

TEST(ScheduleTimeTest, RepeatedLocalTimeWarnsWhichWasChosen) {
  auto r = ParseScheduleTime("2027-10-31 02:30 Europe/Rome", Now());
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(Epoch(*r), 1824942600);  // 00:30 UTC: the first 02:30 (CEST)
  ASSERT_EQ(r->warnings.size(), 1u);
  EXPECT_NE(r->warnings[0].find("happens twice in Europe/Rome"), std::string::npos);
  EXPECT_NE(r->warnings[0].find("using the first, 02:30:00 CEST = 2027-10-31 00:30:00 UTC"),
            std::string::npos)
      << r->warnings[0];
  EXPECT_NE(r->warnings[0].find("write 2027-10-31T02:30+01:00"), std::string::npos)
      << r->warnings[0];
  auto second = ParseScheduleTime("2027-10-31T02:30+01:00", Now());
  ASSERT_TRUE(second.ok());
  EXPECT_EQ(Epoch(*second), 1824942600 + 3600);
}

TEST(ScheduleTimeTest, PastTimesAreRefused) {
  auto r = ParseScheduleTime("2026-12-01 09:00 Europe/Rome", Now());
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("is in the past (now is 2026-12-02 06:00:00 UTC)"),
            std::string::npos)
      << r.status().message();
}

TEST(ScheduleTimeTest, BadInputSaysWhatToWrite) {
  for (const char* bad : {"tomorrow", "2027-02-30 09:00", "2027-01-05 25:00", "2027-01-05 09:00 +1",
                          "2027-01-05T09:00Europe/Rome", "2027-01-05 09:00:7"}) {
    auto r = ParseScheduleTime(bad, Now());
    EXPECT_FALSE(r.ok()) << bad;
  }
  auto zone = ParseScheduleTime("2027-01-05 09:00 Mars/Olympus", Now());
  ASSERT_FALSE(zone.ok());
  EXPECT_NE(zone.status().message().find("unknown time zone \"Mars/Olympus\""), std::string::npos);
}

TEST(CliDurationTest, SameSyntaxAsTheConfigWithBounds) {
  auto a = ParseCliDuration("--max-age", "1h30m", kMaxMaxAge);
  ASSERT_TRUE(a.ok()) << a.status().ToString();
  EXPECT_EQ(*a, minutes(90));
  EXPECT_EQ(*ParseCliDuration("--max-age", "3d", kMaxMaxAge), hours(72));
  auto bare = ParseCliDuration("--max-age", "3", kMaxMaxAge);
  ASSERT_FALSE(bare.ok());
  EXPECT_NE(bare.status().message().find("--max-age \"3\": a number without a unit is ambiguous"),
            std::string::npos)
      << bare.status().message();
  auto huge = ParseCliDuration("--max-age", "400d", kMaxMaxAge);
  ASSERT_FALSE(huge.ok());
  EXPECT_NE(huge.status().message().find("longer than the maximum of 365d"), std::string::npos)
      << huge.status().message();
  EXPECT_FALSE(ParseCliDuration("--max-age", "99999999999999999999d", kMaxMaxAge).ok());
  EXPECT_FALSE(ParseCliDuration("--max-age", "3 days", kMaxMaxAge).ok());
}

}  // namespace
}  // namespace postino::cli
