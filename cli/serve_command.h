// serve_command.h: `postino serve`, a node that runs the configured
// listeners ([submission] SMTP, [http]) without the sending engine, and the
// piece `postino run` shares with it: starting the submission service.
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

// Which listeners `postino serve` runs: none set = every configured one.
struct ServeOptions {
  bool submission = false;
  bool http = false;
};

int RunServe(Context& ctx, const ServeOptions& options);

}  // namespace postino::cli
