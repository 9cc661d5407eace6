// time_parse.h: parsing `--at` times such as "2026-12-01 09:00 Europe/Rome".
#pragma once

#include <chrono>
#include <string_view>

#include "common/status.h"

namespace postino::cli {

// Parses "YYYY-MM-DD HH:MM[:SS] [ZONE]" where ZONE is an IANA time zone
// name ("Europe/Rome"), "UTC" or absent (UTC). Also accepts a 'T' between
// date and time. Errors name the part that is wrong.
Result<std::chrono::system_clock::time_point> ParseLocalTime(std::string_view text);

// Parses durations "90s", "30m", "3h", "3d", "1w" (and plain seconds).
Result<std::chrono::seconds> ParseDuration(std::string_view text);

}  // namespace postino::cli
