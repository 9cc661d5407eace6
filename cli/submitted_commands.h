// submitted_commands.h: `postino submitted ls|show`: messages handed over by
// SMTP submission, their recipients' status and the DSNs sent about them.
#pragma once

#include <CLI/CLI.hpp>
#include <functional>
#include <string>

#include "cli/context.h"

namespace postino::cli {

struct SubmittedLsOptions {
  std::string user;
  std::string status;  // queued, delivered, failed, partial
  std::string since;   // "24h" (ago) or "YYYY-MM-DD[ HH:MM[:SS]]" (UTC)
  std::string format = "table";  // table or json
  int limit = 100;
};

int RunSubmittedLs(Context& ctx, const SubmittedLsOptions& o);
int RunSubmittedShow(Context& ctx, int64_t id, const std::string& format);

// Adds `submitted ls|show` to `app`; the chosen command is stored in `action`.
void AddSubmittedCommands(CLI::App& app, std::function<int(Context&)>& action);

}  // namespace postino::cli
