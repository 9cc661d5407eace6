// run_command.h: `postino run`, the engine process.
#pragma once

#include <string>

#include "cli/context.h"

namespace postino::cli {

struct RunOptions {
  bool until_idle = false;
  std::string node_id;
};

int RunEngine(Context& ctx, const RunOptions& options);

}  // namespace postino::cli
