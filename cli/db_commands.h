// db_commands.h: `postino db migrate`.
#pragma once

#include "cli/context.h"

namespace postino::cli {

int RunDbMigrate(Context& ctx);

}  // namespace postino::cli
