// suppress_commands.h: `postino suppress add|import|ls|rm`.
#pragma once

#include <string>

#include "cli/context.h"

namespace postino::cli {

int RunSuppressAdd(Context& ctx, const std::string& email, const std::string& reason);
// CSV with an `email` column and an optional `reason` column.
int RunSuppressImport(Context& ctx, const std::string& file, const std::string& reason);
// format: table (default) or json.
int RunSuppressLs(Context& ctx, int limit, const std::string& format = "table");
int RunSuppressRm(Context& ctx, const std::string& email);

}  // namespace postino::cli
