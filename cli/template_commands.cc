// template_commands.cc: adding templates (parsed and checked before they are
// stored) and previewing one recipient's message.
#include "cli/template_commands.h"

#include <fmt/format.h>

#include <cstring>
#include <fstream>
#include <sstream>

#include "address/address.h"
#include "scheduler/message_renderer.h"
#include "templates/template.h"

namespace postino::cli {

using scheduler::MessageRenderer;
using scheduler::PreparedCampaign;
using scheduler::RenderedMessage;
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

int RunTemplatePreview(Context& ctx, const TemplatePreviewOptions& o) {
  Result<const config::Config*> cfg = ctx.Config();
  if (!cfg.ok()) return ctx.SetupFailure(cfg.status());
  Result<db::Database*> db = ctx.Database();
  if (!db.ok()) return ctx.SetupFailure(db.status());
  Result<db::TemplateRow> tpl = (*db)->GetTemplate(o.name);
  if (!tpl.ok()) return Fail(tpl.status());
  Result<address::MailAddress> rcpt = address::ParseAddress(o.email);
  if (!rcpt.ok()) {
    return Fail(Status::InvalidArgument(
        fmt::format("--email \"{}\": {}", o.email, rcpt.status().message())));
  }
  Result<std::string> attrs = (*db)->SubscriberAttributes(rcpt->ToString());
  if (!attrs.ok()) return Fail(attrs.status());
  Result<address::NameAddr> from = address::ParseNameAddr(o.from);
  if (!from.ok()) {
    return Fail(Status::InvalidArgument(fmt::format("--from \"{}\": {}", o.from,
                                                    from.status().message())));
  }
  db::CampaignRow campaign;
  campaign.id = 0;
  campaign.name = o.campaign;
  campaign.from_name = from->display_name;
  campaign.from_address = from->address.ToString();
  campaign.settings_json = "{}";
  Result<std::unique_ptr<MessageRenderer>> renderer = MessageRenderer::Create(**cfg);
  if (!renderer.ok()) return Fail(renderer.status());
  Result<std::shared_ptr<const PreparedCampaign>> prepared = (*renderer)->Prepare(campaign, *tpl);
  if (!prepared.ok()) return Fail(prepared.status());
  Result<RenderedMessage> msg =
      (*renderer)->Render(**prepared, rcpt->ToString(), *attrs, /*delivery_id=*/0, "");
  if (!msg.ok()) return Fail(msg.status());
  fmt::print("{}", *msg->data);
  return kExitOk;
}

}  // namespace postino::cli
