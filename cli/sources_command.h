// sources_command.h: `postino sources`: each source's state, today's count
// and warm-up cap, and the egress paths suspended or slowed now.
#pragma once

#include <string>

#include "cli/context.h"

namespace postino::cli {

// `format`: "table" (default) or "json" (one object: sources with their
// paths in force, and the recent path events).
int RunSources(Context& ctx, int events, const std::string& format);

}  // namespace postino::cli
