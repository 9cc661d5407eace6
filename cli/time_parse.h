// time_parse.h: `--at` times ("2027-01-05 09:00 Europe/Rome",
// "2027-01-05T09:00+01:00", "...Z") read with the IANA time-zone database
// (Howard Hinnant's date/tz.h on the system's /usr/share/zoneinfo), and
// the one duration parser for the command line (common/rate.h).
#pragma once

#include <chrono>
#include <string>
#include <string_view>
#include <vector>

#include "common/clock.h"
#include "common/status.h"

namespace postino::cli {

// A point in time the user wrote, and what postino understood.
struct ScheduleTime {
  std::chrono::system_clock::time_point utc;
  // "2027-01-05 08:00:00 UTC (09:00:00 CET in Europe/Rome)": to print back.
  std::string understood;
  // Things the user should know but that are not errors (an ambiguous
  // local time and which of the two was taken).
  std::vector<std::string> warnings;
};

// Parses "YYYY-MM-DD HH:MM[:SS]" (or with 'T') followed by nothing or "UTC"
// (UTC), "Z", a numeric offset ("+01:00", "-0500"), or, after a space, an
// IANA zone name ("Europe/Rome"). Errors, each saying what to write instead:
// bad syntax or date, unknown zone, a local time that does not exist in the
// zone (skipped by a DST change), and a time before `now` (a schedule in
// the past would send at once: leave --at out for that). A local time that
// occurs twice (clocks going back) takes the first and adds a warning.
Result<ScheduleTime> ParseScheduleTime(std::string_view text, WallTime now);

// Parses a --max-age style duration with common/rate.h ParseDuration (the
// config's parser: "90s", "30m", "1h30m", "3d", "1w") and requires it to be
// at most `max`. A bare number is refused: "3" could mean seconds, minutes
// or days. `flag` names the option in errors ("--max-age").
Result<Nanos> ParseCliDuration(std::string_view flag, std::string_view text, Nanos max);

// The largest --max-age accepted (a year).
inline constexpr Nanos kMaxMaxAge = std::chrono::hours(24 * 365);

}  // namespace postino::cli
