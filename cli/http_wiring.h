// http_wiring.h: the [http] section of the configuration mapped to the
// HTTP service's options, for `postino run` and `postino serve --http`.
#pragma once

#include <memory>
#include <string>

#include "common/status.h"
#include "config/config.h"
#include "http/service.h"

namespace postino::cli {

// Reads the TLS files; errors name the file. `expect_loop`: /healthz also
// checks the event loop's heartbeat (postino run).
Result<http::ServiceOptions> MakeHttpServiceOptions(const config::Config& cfg,
                                                    const std::string& node, bool expect_loop);

// Starts the listener of [http] (nullptr when [http] listen is unset).
Result<std::unique_ptr<http::Service>> StartHttpService(const config::Config& cfg,
                                                        const std::string& node, bool expect_loop);

}  // namespace postino::cli
