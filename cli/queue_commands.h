// queue_commands.h: queue control for operators without SQL — `postino
// queue ls | retry-now | hold | release` and `postino sources resume`.
#pragma once

#include <string>

#include "cli/context.h"

namespace postino::cli {

struct QueueOptions {
  std::string campaign;  // "" = every campaign
  std::string domain;    // "" = every domain
  std::string format = "table";  // ls: table or json
};

int RunQueueLs(Context& ctx, const QueueOptions& options);
int RunQueueRetryNow(Context& ctx, const QueueOptions& options);
int RunQueueHold(Context& ctx, const QueueOptions& options);
int RunQueueRelease(Context& ctx, const QueueOptions& options);

// Lifts the suspension / slow-down in force of SOURCE (on sites matching
// `site`, "" = all).
int RunSourcesResume(Context& ctx, const std::string& source, const std::string& site);

}  // namespace postino::cli
