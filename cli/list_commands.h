// list_commands.h: `postino list import` (ls and rm: manage_commands.h).
#pragma once

#include <string>

#include "cli/context.h"

namespace postino::cli {

struct ListImportOptions {
  std::string list;
  std::string file;
  bool dry_run = false;
  std::string delimiter = ",";     // ",", ";", "|" or tab ("tab", "\t")
  std::string encoding = "utf-8";  // utf-8, latin1 or windows-1252
};

int RunListImport(Context& ctx, const ListImportOptions& options);

}  // namespace postino::cli
