// template_commands.h: `postino template add|preview`.
#pragma once

#include <string>

#include "cli/context.h"

namespace postino::cli {

struct TemplateAddOptions {
  std::string name, subject, html_file, text_file;
  bool replace = false;
};

int RunTemplateAdd(Context& ctx, const TemplateAddOptions& options);

}  // namespace postino::cli
