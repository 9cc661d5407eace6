// template_commands.h: `postino template add|preview`.
#pragma once

#include <string>
#include <vector>

#include "cli/context.h"

namespace postino::templates {
struct DecodedMessage;
}

namespace postino::cli {

struct TemplateAddOptions {
  std::string name, subject, html_file, text_file;
  bool replace = false;
};

struct TemplatePreviewOptions {
  std::string name, email, from, campaign;
  std::string html_file;         // write the decoded HTML part here
  bool raw = false;              // print the signed MIME message as sent
  std::string format = "text";   // text or json
};

// Problems a reader of a rendered message should know about: an empty
// href="" (an unsubscribe URL without [unsubscribe] url_base), no DKIM key
// for the From domain. Shared by `template preview` and `campaign check`.
std::vector<std::string> PreviewWarnings(const config::Config& cfg,
                                         const templates::DecodedMessage& message,
                                         bool dkim_signed, const std::string& from_address);

int RunTemplateAdd(Context& ctx, const TemplateAddOptions& options);
// Renders the message `email` would get (with its stored attributes) and
// prints it readably: decoded headers and text part (--html FILE writes the
// HTML part; --raw prints the signed MIME message instead). Lists the
// fields the recipient lacks and exits kExitCheck when there are any.
int RunTemplatePreview(Context& ctx, const TemplatePreviewOptions& options);

}  // namespace postino::cli
