// retention_test.cc: `db prune --older-than` periods: calendar months and
// years (day clamped to the month's length), days and weeks, and the
// refusals, each naming the flag.
#include <date/date.h>
#include <gtest/gtest.h>

#include "cli/db_commands.h"

namespace postino::cli {
namespace {

using std::chrono::hours;
using std::chrono::minutes;

std::chrono::system_clock::time_point At(int y, unsigned m, unsigned d, int h = 9, int min = 30) {
  return date::sys_days(date::year_month_day{date::year(y), date::month(m), date::day(d)}) +
         hours(h) + minutes(min);
}

TEST(RetentionCutoff, MonthsAndYearsAreCalendarOnes) {
  EXPECT_EQ(*RetentionCutoff("13m", At(2026, 12, 2)), At(2025, 11, 2));
  EXPECT_EQ(*RetentionCutoff("1m", At(2026, 3, 31)), At(2026, 2, 28));  // clamped
  EXPECT_EQ(*RetentionCutoff("1y", At(2028, 2, 29)), At(2027, 2, 28));
  EXPECT_EQ(*RetentionCutoff("2y", At(2026, 12, 2)), At(2024, 12, 2));
  EXPECT_EQ(*RetentionCutoff("12m", At(2026, 1, 15)), At(2025, 1, 15));
}

TEST(RetentionCutoff, DaysAndWeeks) {
  EXPECT_EQ(*RetentionCutoff("90d", At(2026, 12, 2)), At(2026, 9, 3));
  EXPECT_EQ(*RetentionCutoff("2w", At(2026, 12, 2)), At(2026, 11, 18));
}

TEST(RetentionCutoff, NonsenseIsRefusedNamingTheFlag) {
  for (const char* bad : {"", "13", "m", "13x", "13M", "-3m", "+3m", "13 m", " 13m", "1.5y", "0d",
                          "0m", "101y", "1300m", "99999999999999999999d", "13mo"}) {
    auto r = RetentionCutoff(bad, At(2026, 12, 2));
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_NE(r.status().message().find("--older-than"), std::string::npos) << bad;
  }
}

}  // namespace
}  // namespace postino::cli
