// output.h: how commands print what they list: an aligned table for people
// (text from peers and files escaped), or JSON for scripts (`--format json`),
// and times as ISO 8601 UTC.
#pragma once

#include <chrono>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace postino::cli {

using TimePoint = std::chrono::system_clock::time_point;

// Prints `rows` under `columns`, each column as wide as its widest cell
// (counted in UTF-8 characters). Cells are printed escaped (EscapeControl).
// Columns whose name starts with '>' are right-aligned (the '>' is dropped).
void PrintTable(const std::vector<std::string>& columns,
                const std::vector<std::vector<std::string>>& rows);

// `text` safe for a terminal (EscapeControl); with `keep_newlines` the line
// breaks (LF, CRLF) stay, every line escaped on its own.
std::string Printable(std::string_view text, bool keep_newlines = false);

// Pretty JSON on stdout; invalid UTF-8 becomes U+FFFD.
void PrintJson(const nlohmann::json& value);

// "2026-12-02T09:11:05Z" (seconds precision).
std::string IsoTime(TimePoint t);
std::string IsoTime(const std::optional<TimePoint>& t);  // "" when unset
// JSON null when unset.
nlohmann::json JsonTime(const std::optional<TimePoint>& t);

// "45s", "3m05s", "2h10m", "3d04h".
std::string FormatDuration(double seconds);

}  // namespace postino::cli
