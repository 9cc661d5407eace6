// serve_command.h: `postino serve`, a node that runs the configured
// listeners ([submission] SMTP, [returns] intake SMTP, [http]) without the
// sending engine, and the pieces `postino run` shares with it: starting the
// submission and intake services.
#pragma once

#include <uv.h>

#include <memory>

#include "cli/context.h"
#include "common/status.h"
#include "config/config.h"
#include "inbound/returns_service.h"
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
  bool returns = false;
};

// Starts the bounce/complaint intake listener of [returns] listen on `loop`.
Result<std::unique_ptr<inbound::ReturnsService>> StartReturns(uv_loop_t* loop,
                                                              const config::Config& cfg);

int RunServe(Context& ctx, const ServeOptions& options);

}  // namespace postino::cli
