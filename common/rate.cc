// rate.cc: parsing and formatting of rates and durations.
#include "common/rate.h"

#include <fmt/format.h>

#include <limits>

#include "common/strings.h"

namespace postino {
namespace {

using std::chrono::duration_cast;
using std::chrono::hours;
using std::chrono::milliseconds;
using std::chrono::minutes;
using std::chrono::seconds;

// Parses a non-empty run of digits; false on overflow or non-digit.
bool ParseUint(std::string_view s, uint64_t* out) {
  if (s.empty()) return false;
  uint64_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
    if (v > (std::numeric_limits<uint64_t>::max() - 9) / 10) return false;
    v = v * 10 + static_cast<uint64_t>(c - '0');
  }
  *out = v;
  return true;
}

}  // namespace

Nanos Rate::EmissionInterval() const {
  if (!valid()) return Nanos(0);
  Nanos t = period / static_cast<Nanos::rep>(count);
  return t.count() > 0 ? t : Nanos(1);
}

double Rate::PerSecond() const {
  if (!valid()) return 0;
  return static_cast<double>(count) * 1e9 / static_cast<double>(period.count());
}

std::string Rate::ToString() const {
  const char* unit = nullptr;
  if (period == seconds(1))
    unit = "s";
  else if (period == minutes(1))
    unit = "min";
  else if (period == hours(1))
    unit = "hour";
  else if (period == hours(24))
    unit = "day";
  if (unit != nullptr) return fmt::format("{}/{}", count, unit);
  return fmt::format("{}/{}", count, FormatDuration(period));
}

Rate Rate::Scaled(double factor) const {
  Rate r = *this;
  double c = static_cast<double>(count) * factor;
  if (c < 1) c = 1;
  if (c > 1e18) c = 1e18;
  r.count = static_cast<uint64_t>(c);
  return r;
}

Result<Rate> ParseRate(std::string_view text) {
  auto bad = [&](std::string_view why) {
    return Status::InvalidArgument(fmt::format(
        "\"{}\" is not a rate: {}; expected COUNT/UNIT with UNIT one of s, min, hour, day "
        "(e.g. \"600/min\")",
        text, why));
  };
  std::string_view t = Trim(text);
  size_t slash = t.find('/');
  if (slash == std::string_view::npos) return bad("no '/'");
  uint64_t count = 0;
  std::string_view count_text = Trim(t.substr(0, slash));
  if (!ParseUint(count_text, &count)) return bad("the count is not a whole number");
  if (count == 0) return bad("the count must be positive");
  std::string unit = AsciiLower(Trim(t.substr(slash + 1)));
  Rate r;
  r.count = count;
  if (unit == "s" || unit == "sec" || unit == "second")
    r.period = seconds(1);
  else if (unit == "min" || unit == "minute")
    r.period = minutes(1);
  else if (unit == "h" || unit == "hour")
    r.period = hours(1);
  else if (unit == "d" || unit == "day")
    r.period = hours(24);
  else
    return bad(fmt::format("unknown unit \"{}\"", unit));
  return r;
}

Result<Nanos> ParseDuration(std::string_view text, bool allow_zero) {
  auto bad = [&](std::string_view why) {
    return Status::InvalidArgument(fmt::format(
        "\"{}\" is not a duration: {}; expected NUMBER UNIT groups with UNIT one of ms, s, m, h, "
        "d, w (e.g. \"30m\", \"1h30m\", \"3d\")",
        text, why));
  };
  std::string s = AsciiLower(Trim(text));
  if (s.empty()) return bad("it is empty");
  Nanos total{0};
  size_t i = 0;
  while (i < s.size()) {
    size_t start = i;
    while (i < s.size() && s[i] >= '0' && s[i] <= '9') ++i;
    uint64_t n = 0;
    if (!ParseUint(std::string_view(s).substr(start, i - start), &n)) {
      return bad("a number must come before each unit");
    }
    size_t ustart = i;
    while (i < s.size() && s[i] >= 'a' && s[i] <= 'z') ++i;
    std::string_view unit = std::string_view(s).substr(ustart, i - ustart);
    Nanos per{0};
    if (unit == "ms")
      per = milliseconds(1);
    else if (unit == "s")
      per = seconds(1);
    else if (unit == "m")
      per = minutes(1);
    else if (unit == "h")
      per = hours(1);
    else if (unit == "d")
      per = hours(24);
    else if (unit == "w")
      per = hours(24 * 7);
    else if (unit.empty())
      return bad("a unit must follow each number");
    else
      return bad(fmt::format("unknown unit \"{}\"", unit));
    // Cap at ~100 years to stay far from overflow.
    constexpr uint64_t kMaxNanos = 100ull * 365 * 24 * 3600 * 1000000000ull;
    if (n > kMaxNanos / static_cast<uint64_t>(per.count())) return bad("it is too long");
    total += per * static_cast<Nanos::rep>(n);
    if (static_cast<uint64_t>(total.count()) > kMaxNanos) return bad("it is too long");
  }
  if (total.count() == 0 && !allow_zero) return bad("it must be positive");
  return total;
}

std::string FormatDuration(Nanos d) {
  if (d.count() == 0) return "0s";
  std::string out;
  if (d.count() < 0) {
    out = "-";
    d = -d;
  }
  struct Unit {
    Nanos size;
    const char* name;
  };
  static constexpr Unit kUnits[] = {{hours(24), "d"},
                                    {hours(1), "h"},
                                    {minutes(1), "m"},
                                    {seconds(1), "s"},
                                    {milliseconds(1), "ms"}};
  for (const Unit& u : kUnits) {
    if (d >= u.size) {
      out += fmt::format("{}{}", d / u.size, u.name);
      d %= u.size;
    }
  }
  if (d.count() > 0) out += fmt::format("{}ns", d.count());
  return out;
}

}  // namespace postino
