// db_commands.h: `postino db migrate`, `db partitions` and `db prune`.
#pragma once

#include <chrono>
#include <string>
#include <string_view>

#include "cli/context.h"

namespace postino::cli {

int RunDbMigrate(Context& ctx);

// `db partitions`: the monthly partitions of delivery_events.
int RunDbPartitions(Context& ctx);

struct DbPruneOptions {
  std::string older_than;  // "13m": a count and a unit d, w, m (months) or y
  bool dry_run = false;
};
// `db prune --older-than 13m [--dry-run]`: drops the months of
// delivery_events that end before now minus the period.
int RunDbPrune(Context& ctx, const DbPruneOptions& opt);

// The instant `text` before `now` ("90d", "2w", "13m" calendar months,
// "2y" calendar years; the day of month is clamped to the target month's
// length). Refuses anything else, zero, and more than 100 years, naming the
// flag.
Result<std::chrono::system_clock::time_point> RetentionCutoff(
    std::string_view text, std::chrono::system_clock::time_point now);

}  // namespace postino::cli
