// output.cc: tables, JSON and times as commands print them.
#include "cli/output.h"

#include <fmt/chrono.h>
#include <fmt/format.h>

#include <algorithm>

#include "common/strings.h"

namespace postino::cli {
namespace {

size_t Utf8Width(const std::string& s) {
  size_t n = 0;
  for (unsigned char c : s) n += (c & 0xC0) != 0x80;
  return n;
}

}  // namespace

void PrintTable(const std::vector<std::string>& columns,
                const std::vector<std::vector<std::string>>& rows) {
  std::vector<std::string> names;
  std::vector<bool> right;
  for (const std::string& c : columns) {
    bool r = !c.empty() && c[0] == '>';
    right.push_back(r);
    names.push_back(r ? c.substr(1) : c);
  }
  std::vector<std::vector<std::string>> cells;
  cells.reserve(rows.size());
  std::vector<size_t> width(names.size(), 0);
  for (size_t i = 0; i < names.size(); ++i) width[i] = Utf8Width(names[i]);
  for (const auto& row : rows) {
    std::vector<std::string> escaped;
    for (size_t i = 0; i < names.size(); ++i) {
      escaped.push_back(i < row.size() ? EscapeControl(row[i]) : std::string());
      width[i] = std::max(width[i], Utf8Width(escaped.back()));
    }
    cells.push_back(std::move(escaped));
  }
  auto line = [&](const std::vector<std::string>& v) {
    std::string out;
    for (size_t i = 0; i < v.size(); ++i) {
      size_t pad = width[i] - Utf8Width(v[i]);
      bool last = i + 1 == v.size();
      if (i) out += "  ";
      if (right[i]) out += std::string(pad, ' ') + v[i];
      else out += last ? v[i] : v[i] + std::string(pad, ' ');
    }
    fmt::print("{}\n", out);
  };
  line(names);
  for (const auto& row : cells) line(row);
}

std::string Printable(std::string_view text, bool keep_newlines) {
  if (!keep_newlines) return EscapeControl(text);
  std::string out;
  size_t start = 0;
  while (start <= text.size()) {
    size_t nl = text.find('\n', start);
    std::string_view line = text.substr(start, nl == std::string_view::npos ? nl : nl - start);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    out += EscapeControl(line);
    if (nl == std::string_view::npos) break;
    out += '\n';
    start = nl + 1;
  }
  return out;
}

void PrintJson(const nlohmann::json& value) {
  fmt::print("{}\n", value.dump(2, ' ', false, nlohmann::json::error_handler_t::replace));
}

std::string IsoTime(TimePoint t) {
  auto secs = std::chrono::time_point_cast<std::chrono::seconds>(t);
  return fmt::format("{:%Y-%m-%dT%H:%M:%SZ}", fmt::gmtime(std::chrono::system_clock::to_time_t(secs)));
}

std::string IsoTime(const std::optional<TimePoint>& t) { return t ? IsoTime(*t) : std::string(); }

nlohmann::json JsonTime(const std::optional<TimePoint>& t) {
  return t ? nlohmann::json(IsoTime(*t)) : nlohmann::json(nullptr);
}

std::string FormatDuration(double seconds) {
  if (seconds < 0 || seconds > 1e10) return "--";
  auto s = static_cast<long long>(seconds + 0.5);
  if (s < 60) return fmt::format("{}s", s);
  if (s < 3600) return fmt::format("{}m{:02}s", s / 60, s % 60);
  if (s < 86400) return fmt::format("{}h{:02}m", s / 3600, (s % 3600) / 60);
  return fmt::format("{}d{:02}h", s / 86400, (s % 86400) / 3600);
}

}  // namespace postino::cli
