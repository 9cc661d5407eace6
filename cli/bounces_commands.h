// bounces_commands.h: `postino bounces parse FILE…` (no database: one JSON
// object per line per recipient) and `postino bounces import FILE|DIR…`
// (match to deliveries and record; a summary). Exit codes: 0 every message
// read (import: and recorded or counted as unmatched), 1 a file could not be
// read or the database failed, 3/4 configuration/database setup failures.
#pragma once

#include <string>
#include <vector>

#include "cli/context.h"
#include "config/config.h"
#include "inbound/returns/intake.h"

namespace postino::cli {

// [returns], [unsubscribe] and [suppression] as the intake's settings (the
// listener of `postino run`/`serve` and `bounces import` share them).
inbound::returns::ReturnsConfig IntakeConfigFrom(const config::Config& c);

int RunBouncesParse(const std::vector<std::string>& paths);
int RunBouncesImport(Context& ctx, const std::vector<std::string>& paths, bool json);

}  // namespace postino::cli
