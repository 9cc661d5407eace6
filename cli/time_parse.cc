// time_parse.cc: wall-clock times in named zones, via the system tz database
// (/usr/share/zoneinfo) and timegm/localtime_r under a private TZ setting.
#include "cli/time_parse.h"

#include <fmt/format.h>

#include <cctype>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <mutex>
#include <string>

namespace postino::cli {
namespace {

bool ValidZoneName(const std::string& zone) {
  if (zone.empty() || zone.find("..") != std::string::npos || zone.front() == '/') return false;
  for (char c : zone) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '/' && c != '_' && c != '-' &&
        c != '+') {
      return false;
    }
  }
  return std::filesystem::is_regular_file("/usr/share/zoneinfo/" + zone);
}

// The UTC offset (seconds east) that `zone` has at local time `tm`, found by
// mktime under TZ=zone. Serialised: TZ is process-global.
Result<std::time_t> LocalToUtc(std::tm tm, const std::string& zone) {
  static std::mutex mu;
  std::lock_guard<std::mutex> lock(mu);
  const char* old = std::getenv("TZ");
  std::string saved = old ? old : "";
  setenv("TZ", zone.c_str(), 1);
  tzset();
  tm.tm_isdst = -1;
  std::tm copy = tm;
  std::time_t t = std::mktime(&copy);
  if (old) setenv("TZ", saved.c_str(), 1);
  else unsetenv("TZ");
  tzset();
  if (t == static_cast<std::time_t>(-1)) {
    return Status::InvalidArgument("the time does not exist in that zone");
  }
  return t;
}

}  // namespace

Result<std::chrono::system_clock::time_point> ParseLocalTime(std::string_view text) {
  std::string s(text);
  int y, mo, d, h, mi, sec = 0, consumed = 0;
  int n = std::sscanf(s.c_str(), "%4d-%2d-%2d%*1[ T]%2d:%2d%n", &y, &mo, &d, &h, &mi, &consumed);
  if (n != 5) {
    return Status::InvalidArgument(fmt::format(
        "cannot read time \"{}\": expected \"YYYY-MM-DD HH:MM [Zone/Name]\", e.g. \"2026-12-01 "
        "09:00 Europe/Rome\"",
        s));
  }
  std::string rest = s.substr(static_cast<size_t>(consumed));
  if (!rest.empty() && rest[0] == ':') {
    int c2 = 0;
    if (std::sscanf(rest.c_str(), ":%2d%n", &sec, &c2) != 1) {
      return Status::InvalidArgument(fmt::format("cannot read the seconds in \"{}\"", s));
    }
    rest = rest.substr(static_cast<size_t>(c2));
  }
  size_t b = rest.find_first_not_of(' ');
  std::string zone = b == std::string::npos ? "" : rest.substr(b);
  while (!zone.empty() && zone.back() == ' ') zone.pop_back();
  if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || sec > 60) {
    return Status::InvalidArgument(fmt::format("\"{}\" is not a valid date and time", s));
  }
  std::tm tm{};
  tm.tm_year = y - 1900;
  tm.tm_mon = mo - 1;
  tm.tm_mday = d;
  tm.tm_hour = h;
  tm.tm_min = mi;
  tm.tm_sec = sec;
  std::time_t t;
  if (zone.empty() || zone == "UTC" || zone == "Z") {
    std::tm check = tm;
    t = timegm(&check);
    if (check.tm_mday != d || check.tm_mon != mo - 1) {
      return Status::InvalidArgument(fmt::format("\"{}\" is not a valid date", s));
    }
  } else {
    if (!ValidZoneName(zone)) {
      return Status::InvalidArgument(fmt::format(
          "unknown time zone \"{}\"; use an IANA name such as Europe/Rome or UTC", zone));
    }
    Result<std::time_t> r = LocalToUtc(tm, zone);
    if (!r.ok()) return Status::InvalidArgument(fmt::format("\"{}\": {}", s, r.status().message()));
    t = *r;
  }
  return std::chrono::system_clock::from_time_t(t);
}

Result<std::chrono::seconds> ParseDuration(std::string_view text) {
  std::string s(text);
  if (s.empty()) return Status::InvalidArgument("empty duration");
  size_t pos = 0;
  long long value = 0;
  try {
    value = std::stoll(s, &pos);
  } catch (...) {
    return Status::InvalidArgument(
        fmt::format("cannot read duration \"{}\": expected e.g. 90s, 30m, 3h, 3d", s));
  }
  std::string unit = s.substr(pos);
  long long mult = 0;
  if (unit.empty() || unit == "s") mult = 1;
  else if (unit == "m" || unit == "min") mult = 60;
  else if (unit == "h") mult = 3600;
  else if (unit == "d") mult = 86400;
  else if (unit == "w") mult = 7 * 86400;
  if (mult == 0 || value < 0) {
    return Status::InvalidArgument(
        fmt::format("cannot read duration \"{}\": expected e.g. 90s, 30m, 3h, 3d", s));
  }
  return std::chrono::seconds(value * mult);
}

}  // namespace postino::cli
