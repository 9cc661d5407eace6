// filters.cc: UTF-8 case mapping (Latin-1, Latin Extended-A, Greek,
// Cyrillic) and ISO-8601 date formatting for the template filters.
#include "templates/filters.h"

#include <array>
#include <cstdint>

#include "common/utf8.h"

namespace postino::templates {
namespace {

void AppendUtf8(char32_t c, std::string* out) {
  if (c < 0x80) {
    out->push_back(static_cast<char>(c));
  } else if (c < 0x800) {
    out->push_back(static_cast<char>(0xC0 | (c >> 6)));
    out->push_back(static_cast<char>(0x80 | (c & 0x3F)));
  } else if (c < 0x10000) {
    out->push_back(static_cast<char>(0xE0 | (c >> 12)));
    out->push_back(static_cast<char>(0x80 | ((c >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (c & 0x3F)));
  } else {
    out->push_back(static_cast<char>(0xF0 | (c >> 18)));
    out->push_back(static_cast<char>(0x80 | ((c >> 12) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | ((c >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (c & 0x3F)));
  }
}

// Latin Extended-A pairs: in [0x100, 0x12F], [0x132, 0x137], [0x14A, 0x177]
// upper case is even; in [0x139, 0x148], [0x179, 0x17E] upper case is odd.
bool InRange(char32_t c, char32_t lo, char32_t hi) { return c >= lo && c <= hi; }
bool ExtAEvenUpper(char32_t c) {
  return InRange(c, 0x100, 0x12F) || InRange(c, 0x132, 0x137) || InRange(c, 0x14A, 0x177);
}
bool ExtAOddUpper(char32_t c) { return InRange(c, 0x139, 0x148) || InRange(c, 0x179, 0x17E); }

template <typename Map>
void AppendMapped(std::string_view in, std::string* out, Map map) {
  out->reserve(out->size() + in.size());
  size_t i = 0;
  while (i < in.size()) {
    size_t start = i;
    int32_t cp = DecodeUtf8(in, &i);
    if (cp < 0) {
      out->push_back(in[start]);
      continue;
    }
    AppendUtf8(map(static_cast<char32_t>(cp)), out);
  }
}

}  // namespace

char32_t ToUpperCodePoint(char32_t c) {
  if (c < 0x80) return (c >= 'a' && c <= 'z') ? c - 32 : c;
  if (InRange(c, 0xE0, 0xFE) && c != 0xF7) return c - 0x20;
  if (c == 0xFF) return 0x178;
  if (InRange(c, 0x100, 0x17F)) {
    if (c == 0x131) return 'I';
    if (c == 0x17F) return 'S';
    if (ExtAEvenUpper(c)) return (c & 1) ? c - 1 : c;
    if (ExtAOddUpper(c)) return (c & 1) ? c : c - 1;
    return c;
  }
  if (InRange(c, 0x3B1, 0x3C9) && c != 0x3C2) return c - 0x20;
  if (c == 0x3C2) return 0x3A3;
  if (InRange(c, 0x430, 0x44F)) return c - 0x20;
  if (InRange(c, 0x450, 0x45F)) return c - 0x50;
  return c;
}

char32_t ToLowerCodePoint(char32_t c) {
  if (c < 0x80) return (c >= 'A' && c <= 'Z') ? c + 32 : c;
  if (InRange(c, 0xC0, 0xDE) && c != 0xD7) return c + 0x20;
  if (c == 0x178) return 0xFF;
  if (InRange(c, 0x100, 0x17F)) {
    if (c == 0x130) return 'i';
    if (ExtAEvenUpper(c)) return (c & 1) ? c : c + 1;
    if (ExtAOddUpper(c)) return (c & 1) ? c + 1 : c;
    return c;
  }
  if (InRange(c, 0x391, 0x3A9) && c != 0x3A2) return c + 0x20;
  if (InRange(c, 0x410, 0x42F)) return c + 0x20;
  if (InRange(c, 0x400, 0x40F)) return c + 0x50;
  return c;
}

void AppendUpper(std::string_view in, std::string* out) { AppendMapped(in, out, ToUpperCodePoint); }

void AppendLower(std::string_view in, std::string* out) { AppendMapped(in, out, ToLowerCodePoint); }

void AppendCapitalized(std::string_view in, std::string* out) {
  bool first = true;
  AppendMapped(in, out, [&first](char32_t c) {
    char32_t mapped = first ? ToUpperCodePoint(c) : ToLowerCodePoint(c);
    first = false;
    return mapped;
  });
}

namespace {

struct DateTime {
  int year = 0, month = 0, day = 0, hour = 0, minute = 0, second = 0;
};

bool Digits(std::string_view s, size_t pos, size_t count, int* value) {
  if (pos + count > s.size()) return false;
  int v = 0;
  for (size_t i = pos; i < pos + count; ++i) {
    if (s[i] < '0' || s[i] > '9') return false;
    v = v * 10 + (s[i] - '0');
  }
  *value = v;
  return true;
}

bool IsLeap(int y) { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }

int DaysInMonth(int y, int m) {
  static constexpr int kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  return m == 2 && IsLeap(y) ? 29 : kDays[m - 1];
}

bool ParseIso(std::string_view s, DateTime* dt) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  if (!Digits(s, 0, 4, &dt->year) || s.size() < 10 || s[4] != '-' || s[7] != '-' ||
      !Digits(s, 5, 2, &dt->month) || !Digits(s, 8, 2, &dt->day)) {
    return false;
  }
  if (dt->month < 1 || dt->month > 12 || dt->day < 1 ||
      dt->day > DaysInMonth(dt->year, dt->month)) {
    return false;
  }
  size_t i = 10;
  if (i == s.size()) return true;
  if (s[i] != 'T' && s[i] != 't' && s[i] != ' ') return false;
  ++i;
  if (!Digits(s, i, 2, &dt->hour) || i + 2 >= s.size() || s[i + 2] != ':' ||
      !Digits(s, i + 3, 2, &dt->minute)) {
    return false;
  }
  i += 5;
  if (i < s.size() && s[i] == ':') {
    if (!Digits(s, i + 1, 2, &dt->second)) return false;
    i += 3;
    if (i < s.size() && (s[i] == '.' || s[i] == ',')) {
      ++i;
      size_t start = i;
      while (i < s.size() && s[i] >= '0' && s[i] <= '9') ++i;
      if (i == start) return false;
    }
  }
  if (dt->hour > 23 || dt->minute > 59 || dt->second > 60) return false;
  if (i == s.size()) return true;
  if (s[i] == 'Z' || s[i] == 'z') return i + 1 == s.size();
  if (s[i] == '+' || s[i] == '-') {
    int oh, om = 0;
    if (!Digits(s, i + 1, 2, &oh)) return false;
    i += 3;
    if (i < s.size() && s[i] == ':') ++i;
    if (i < s.size() && !Digits(s, i, 2, &om)) return false;
    if (i < s.size()) i += 2;
    return i == s.size() && oh <= 23 && om <= 59;
  }
  return false;
}

// 0 = Sunday.
int Weekday(int y, int m, int d) {
  static constexpr int kT[] = {0, 3, 2, 5, 0, 3, 5, 1, 4, 6, 2, 4};
  if (m < 3) y -= 1;
  return (y + y / 4 - y / 100 + y / 400 + kT[m - 1] + d) % 7;
}

void Append2(int v, std::string* out) {
  out->push_back(static_cast<char>('0' + (v / 10) % 10));
  out->push_back(static_cast<char>('0' + v % 10));
}

}  // namespace

bool AppendFormattedDate(std::string_view iso, std::string_view format, std::string* out) {
  static constexpr std::array<std::string_view, 12> kMonths = {
      "January", "February", "March",     "April",   "May",      "June",
      "July",    "August",   "September", "October", "November", "December"};
  static constexpr std::array<std::string_view, 7> kDays = {
      "Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"};
  DateTime dt;
  if (!ParseIso(iso, &dt)) return false;
  for (size_t i = 0; i < format.size(); ++i) {
    char c = format[i];
    if (c != '%' || i + 1 == format.size()) {
      out->push_back(c);
      continue;
    }
    char spec = format[++i];
    switch (spec) {
      case 'Y':
        out->append(std::to_string(dt.year));
        break;
      case 'y':
        Append2(dt.year % 100, out);
        break;
      case 'm':
        Append2(dt.month, out);
        break;
      case 'd':
        Append2(dt.day, out);
        break;
      case 'e':
        if (dt.day < 10) out->push_back(' ');
        out->append(std::to_string(dt.day));
        break;
      case 'H':
        Append2(dt.hour, out);
        break;
      case 'M':
        Append2(dt.minute, out);
        break;
      case 'S':
        Append2(dt.second, out);
        break;
      case 'j': {
        int yday = dt.day;
        for (int m = 1; m < dt.month; ++m) yday += DaysInMonth(dt.year, m);
        out->push_back(static_cast<char>('0' + yday / 100));
        Append2(yday % 100, out);
        break;
      }
      case 'B':
        out->append(kMonths[dt.month - 1]);
        break;
      case 'b':
        out->append(kMonths[dt.month - 1].substr(0, 3));
        break;
      case 'A':
        out->append(kDays[Weekday(dt.year, dt.month, dt.day)]);
        break;
      case 'a':
        out->append(kDays[Weekday(dt.year, dt.month, dt.day)].substr(0, 3));
        break;
      case '%':
        out->push_back('%');
        break;
      default:  // unknown conversion: kept as written
        out->push_back('%');
        out->push_back(spec);
        break;
    }
  }
  return true;
}

}  // namespace postino::templates
