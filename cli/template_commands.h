// template_commands.h: `postino template add|preview`.
#pragma once

#include <string>

#include "cli/context.h"

namespace postino::cli {

struct TemplateAddOptions {
  std::string name, subject, html_file, text_file;
  bool replace = false;
};

struct TemplatePreviewOptions {
  std::string name, email, from, campaign;
};

int RunTemplateAdd(Context& ctx, const TemplateAddOptions& options);
// Renders the message `email` would get (with its stored attributes) and
// prints it, signed when DKIM keys are configured for the From domain.
int RunTemplatePreview(Context& ctx, const TemplatePreviewOptions& options);

}  // namespace postino::cli
