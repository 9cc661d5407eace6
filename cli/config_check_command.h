// config_check_command.h: `postino config check [FILE]`: everything about a
// configuration that can be checked without a database.
#pragma once

#include <string>

#include "cli/context.h"

namespace postino::cli {

// Exit codes: 0 valid (warnings may be printed), 3 invalid (every problem
// listed, FILE:LINE:COL where it has one).
int RunConfigCheck(Context& ctx, const std::string& file);

}  // namespace postino::cli
