// sources_command.h: `postino sources`: each source's state, today's count
// and warm-up cap, and the egress paths suspended or slowed now.
#pragma once

#include "cli/context.h"

namespace postino::cli {

int RunSources(Context& ctx, int events);

}  // namespace postino::cli
