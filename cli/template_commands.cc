// template_commands.cc: adding templates (parsed and checked before they are
// stored) and previewing one recipient's message.
#include "cli/template_commands.h"

#include <fmt/format.h>

#include <cstring>
#include <fstream>
#include <sstream>

#include "templates/template.h"

namespace postino::cli {
namespace {

Result<std::string> ReadFile(const std::string& path, const char* what) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return Status::NotFound(fmt::format("{} {}: cannot open: {}", what, path, std::strerror(errno)));
  }
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

}  // namespace

int RunTemplateAdd(Context& ctx, const TemplateAddOptions& o) {
  if (o.name.empty()) return Fail(Status::InvalidArgument("the template name is empty"));
  Result<std::string> html = ReadFile(o.html_file, "--html");
  if (!html.ok()) return Fail(html.status());
  Result<std::string> text = ReadFile(o.text_file, "--text");
  if (!text.ok()) return Fail(text.status());
  // Parse every part now, so a syntax error is reported here, with part,
  // line and column, and not halfway through a campaign.
  struct Part {
    const char* name;
    const std::string* source;
  } parts[] = {{"subject", &o.subject}, {"html", &*html}, {"text", &*text}};
  int errors = 0;
  for (const Part& part : parts) {
    templates::CompileOptions options;
    options.part_name = part.name == std::string("subject") ? "subject"
                        : part.name == std::string("html") ? o.html_file
                                                           : o.text_file;
    Result<templates::CompiledTemplate> t = templates::CompileTemplate(*part.source, options);
    if (!t.ok()) {
      fmt::print(stderr, "postino: {}: {}\n", part.name, t.status().message());
      ++errors;
    }
  }
  if (errors > 0) {
    fmt::print(stderr, "postino: template \"{}\" not added: {} part(s) have errors\n", o.name,
               errors);
    return kExitUsage;
  }
  Result<db::Database*> db = ctx.Database();
  if (!db.ok()) return ctx.SetupFailure(db.status());
  Status st = (*db)->AddTemplate({0, o.name, o.subject, *html, *text}, o.replace);
  if (!st.ok()) return Fail(st);
  fmt::print("template \"{}\" {}\n", o.name, o.replace ? "saved" : "added");
  return kExitOk;
}

}  // namespace postino::cli
