// marketer_cli.h: the command-line interface of the marketers' commands
// (issue 14): `list ls|rm`, `template ls|show|rm|preview`, `campaign
// ls|rm|check|plan|test|report`, `subscriber show|unsubscribe|rm`. main.cc
// calls this once; the options live for the process.
#pragma once

#include <CLI/CLI.hpp>
#include <functional>

#include "cli/context.h"

namespace postino::cli {

void AddMarketerCommands(CLI::App& app, CLI::App* list, CLI::App* tpl, CLI::App* campaign,
                         std::function<int(Context&)>& action);

}  // namespace postino::cli
