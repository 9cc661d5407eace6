// time_parse.cc: `--at` times with date/tz.h (IANA zones from the system
// tzdata, USE_OS_TZDB) and command-line durations (see time_parse.h).
#include "cli/time_parse.h"

#include <date/date.h>
#include <date/tz.h>
#include <fmt/format.h>

#include <cstdio>
#include <exception>

#include "common/rate.h"
#include "common/strings.h"

namespace postino::cli {
namespace {

using std::chrono::seconds;

std::string FormatUtc(date::sys_seconds t) { return date::format("%F %T UTC", t); }

std::string FormatLocal(date::local_seconds t) { return date::format("%F %T", t); }

std::string FormatOffset(seconds offset) {
  long long s = offset.count();
  char sign = s < 0 ? '-' : '+';
  if (s < 0) s = -s;
  return fmt::format("{}{:02}:{:02}", sign, s / 3600, (s % 3600) / 60);
}

// Reads "+HH:MM", "+HHMM" or "+HH" (or '-'); false when malformed.
bool ParseOffset(std::string_view s, seconds* out) {
  if (s.size() < 3 || (s[0] != '+' && s[0] != '-')) return false;
  std::string digits;
  for (size_t i = 1; i < s.size(); ++i) {
    if (s[i] == ':' && i == 3) continue;
    if (s[i] < '0' || s[i] > '9') return false;
    digits.push_back(s[i]);
  }
  if (digits.size() != 2 && digits.size() != 4) return false;
  int h = std::stoi(digits.substr(0, 2));
  int m = digits.size() == 4 ? std::stoi(digits.substr(2, 2)) : 0;
  if (h > 14 || m > 59) return false;
  *out = seconds((h * 3600 + m * 60) * (s[0] == '-' ? -1 : 1));
  return true;
}

Status SyntaxError(std::string_view text) {
  return Status::InvalidArgument(fmt::format(
      "cannot read time \"{}\": expected \"YYYY-MM-DD HH:MM[:SS]\" followed by a zone name "
      "(\"2027-01-05 09:00 Europe/Rome\"), an offset (\"2027-01-05T09:00+01:00\"), \"Z\" or "
      "\"UTC\"",
      EscapeControl(text)));
}

}  // namespace

Result<ScheduleTime> ParseScheduleTime(std::string_view text_in, WallTime now) {
  std::string text(Trim(text_in));
  int y = 0, mo = 0, d = 0, h = 0, mi = 0, sec = 0, consumed = 0;
  if (std::sscanf(text.c_str(), "%4d-%2d-%2d%*1[ T]%2d:%2d%n", &y, &mo, &d, &h, &mi, &consumed) !=
      5) {
    return SyntaxError(text);
  }
  std::string rest = text.substr(static_cast<size_t>(consumed));
  if (!rest.empty() && rest[0] == ':') {
    int used = 0;
    if (std::sscanf(rest.c_str(), ":%2d%n", &sec, &used) != 1 || used != 3) {
      return SyntaxError(text);
    }
    rest = rest.substr(3);
  }
  date::year_month_day ymd{date::year(y), date::month(static_cast<unsigned>(mo)),
                           date::day(static_cast<unsigned>(d))};
  if (!ymd.ok() || h > 23 || mi > 59 || sec > 59) {
    return Status::InvalidArgument(
        fmt::format("\"{}\" is not a valid date and time", EscapeControl(text)));
  }
  date::local_seconds local =
      date::local_days(ymd) + std::chrono::hours(h) + std::chrono::minutes(mi) + seconds(sec);

  ScheduleTime out;
  date::sys_seconds utc;
  std::string zone_text(Trim(rest));
  seconds offset{0};
  if (zone_text.empty() || zone_text == "Z" || zone_text == "UTC") {
    utc = date::sys_seconds(local.time_since_epoch());
    out.understood = FormatUtc(utc);
  } else if (!rest.empty() && rest[0] != ' ' && ParseOffset(zone_text, &offset)) {
    utc = date::sys_seconds(local.time_since_epoch() - offset);
    out.understood = fmt::format("{} ({} at offset {})", FormatUtc(utc), FormatLocal(local),
                                 FormatOffset(offset));
  } else {
    if (rest.empty() || rest[0] != ' ') return SyntaxError(text);
    const date::time_zone* zone = nullptr;
    try {
      zone = date::locate_zone(zone_text);
    } catch (const std::exception&) {
      return Status::InvalidArgument(fmt::format(
          "unknown time zone \"{}\"; use an IANA name such as Europe/Rome, America/New_York or "
          "UTC (see /usr/share/zoneinfo)",
          EscapeControl(zone_text)));
    }
    date::local_info info = zone->get_info(local);
    if (info.result == date::local_info::nonexistent) {
      date::local_seconds gap_start{info.second.begin.time_since_epoch() + info.first.offset};
      date::local_seconds gap_end{info.second.begin.time_since_epoch() + info.second.offset};
      return Status::InvalidArgument(fmt::format(
          "{} does not exist in {}: the clocks jump from {} {} to {} {}; pick a time outside that "
          "hour (e.g. {})",
          FormatLocal(local), zone->name(), date::format("%H:%M", gap_start), info.first.abbrev,
          date::format("%H:%M", gap_end), info.second.abbrev,
          date::format("%F %H:%M", gap_end + (local - gap_start))));
    }
    const date::sys_info& chosen = info.first;
    utc = date::sys_seconds(local.time_since_epoch() - chosen.offset);
    if (info.result == date::local_info::ambiguous) {
      date::sys_seconds other(local.time_since_epoch() - info.second.offset);
      out.warnings.push_back(fmt::format(
          "{} happens twice in {} (the clocks go back): using the first, {} {} = {}; for the "
          "second ({} {} = {}) write {}T{}{}",
          FormatLocal(local), zone->name(), date::format("%T", local), info.first.abbrev,
          FormatUtc(utc), date::format("%T", local), info.second.abbrev, FormatUtc(other),
          date::format("%F", local), date::format("%H:%M", local),
          FormatOffset(info.second.offset)));
    }
    out.understood = fmt::format("{} ({} {} in {})", FormatUtc(utc), FormatLocal(local),
                                 chosen.abbrev, zone->name());
  }
  out.utc = std::chrono::system_clock::time_point(utc.time_since_epoch());
  if (out.utc < now) {
    return Status::InvalidArgument(fmt::format(
        "{} is in the past (now is {}); a campaign scheduled in the past would start at once: "
        "leave --at out for that",
        out.understood,
        FormatUtc(
            date::floor<seconds>(date::sys_time<WallTime::duration>(now.time_since_epoch())))));
  }
  return out;
}

Result<Nanos> ParseCliDuration(std::string_view flag, std::string_view text, Nanos max) {
  std::string_view t = Trim(text);
  if (!t.empty() && t.find_first_not_of("0123456789") == std::string_view::npos) {
    return Status::InvalidArgument(fmt::format(
        "{} \"{}\": a number without a unit is ambiguous (seconds? minutes? days?); write it with "
        "a unit, e.g. \"{}s\", \"{}m\", \"{}h\" or \"{}d\"",
        flag, t, t, t, t, t));
  }
  Result<Nanos> d = ParseDuration(t);
  if (!d.ok()) return Status::InvalidArgument(fmt::format("{}: {}", flag, d.status().message()));
  if (*d > max) {
    return Status::InvalidArgument(fmt::format("{} \"{}\" is longer than the maximum of {}", flag,
                                               EscapeControl(t), FormatDuration(max)));
  }
  return d;
}

}  // namespace postino::cli
