// serve_command.h: `postino serve`, a submission-only node (the [submission]
// listener without the sending engine), and the piece `postino run` shares
// with it: starting the submission service from the configuration.
#pragma once

#include <uv.h>

#include <memory>

#include "cli/context.h"
#include "common/status.h"
#include "config/config.h"
#include "inbound/submission_service.h"

namespace postino::cli {

// The service's options from [submission] and [database].
inbound::SubmissionServiceOptions SubmissionOptionsFrom(const config::Config& cfg);
// Starts the listener on `loop` with the PostgreSQL store.
Result<std::unique_ptr<inbound::SubmissionService>> StartSubmission(uv_loop_t* loop,
                                                                    const config::Config& cfg);

int RunServe(Context& ctx);

}  // namespace postino::cli
