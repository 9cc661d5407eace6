// operator_cli.h: the operators' commands of issue 14 (config check, dns
// check, queue control, sources resume, --log-format), declared on the CLI11
// tree in one call so cli/main.cc stays a list of registrations.
#pragma once

#include <CLI/CLI.hpp>

#include <functional>
#include <memory>

#include "cli/context.h"

namespace postino::cli {

struct OperatorCliState;  // option values; owned by the returned handle

// Adds `config check`, `dns check`, `queue …`, `sources resume` and the
// global `--log-format`. Call after the `sources` command exists. `action`
// is set when one of them is chosen. Call ApplyOperatorGlobals after parse.
std::shared_ptr<OperatorCliState> AddOperatorCommands(CLI::App& app,
                                                      std::function<int(Context&)>* action);
// Applies --log-format (text|json).
void ApplyOperatorGlobals(const OperatorCliState& state);

}  // namespace postino::cli
