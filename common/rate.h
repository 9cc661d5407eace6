// rate.h: message and connection rates ("600/min") and durations ("30m"),
// as written in postino.toml, parsed into exact integer values.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "common/clock.h"
#include "common/status.h"

namespace postino {

// `count` events per `period`. A default-constructed Rate is invalid
// (count 0); parsed rates always have count > 0 and period > 0.
struct Rate {
  uint64_t count = 0;
  Nanos period{0};

  bool valid() const { return count > 0 && period.count() > 0; }
  // Time between two events at this rate (at least 1 ns).
  Nanos EmissionInterval() const;
  double PerSecond() const;
  // Canonical text: "600/min", "10/s", "50000/hour", "200000/day".
  std::string ToString() const;

  // A rate with `count` scaled by `factor` (>= 1 event per period).
  Rate Scaled(double factor) const;

  friend bool operator==(const Rate&, const Rate&) = default;
};

// Parses "COUNT/UNIT" where UNIT is s|sec|second, min|minute, h|hour, d|day
// (spaces around '/' allowed, units case-insensitive). COUNT is a positive
// integer. Errors name the bad text and say what is expected.
Result<Rate> ParseRate(std::string_view text);

// Parses a duration: one or more NUMBER UNIT groups, e.g. "30m", "1h30m",
// "3d", "90s", "250ms". Units: ms, s, m, h, d, w. The total must be > 0
// unless `allow_zero`.
Result<Nanos> ParseDuration(std::string_view text, bool allow_zero = false);

// "1h30m", "5m", "3d", "250ms"; "0s" for zero.
std::string FormatDuration(Nanos d);

}  // namespace postino
