// serve_http.h: `postino serve --http`, which runs the HTTP listener
// (http/: one-click unsubscribe, /metrics, /healthz) alone, without sending,
// until SIGTERM/SIGINT. `postino run` starts the same listener through
// cli/http_wiring.h when [http] listen is set.
#pragma once

#include "cli/context.h"

namespace postino::cli {

struct ServeOptions {
  bool http = false;
};

// `postino serve --http`.
int RunServe(Context& ctx, const ServeOptions& options);

}  // namespace postino::cli
