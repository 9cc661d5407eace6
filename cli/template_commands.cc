// template_commands.cc: adding templates (parsed and checked before they are
// stored) and previewing one recipient's message.
#include "cli/template_commands.h"

#include <fmt/format.h>

#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "address/address.h"
#include "cli/output.h"
#include "scheduler/message_renderer.h"
#include "templates/mime_decode.h"
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

std::vector<std::string> PreviewWarnings(const config::Config& cfg,
                                         const templates::DecodedMessage& m, bool dkim_signed,
                                         const std::string& from_address) {
  std::vector<std::string> out;
  if (m.has_html && m.html.find("href=\"\"") != std::string::npos) {
    out.push_back(cfg.unsubscribe.url_base.empty()
                      ? "the HTML part has an empty link (href=\"\"): {{unsubscribe_url}} is "
                        "empty because [unsubscribe] url_base is not set in " + cfg.file
                      : "the HTML part has an empty link (href=\"\")");
  }
  if (!dkim_signed) {
    out.push_back("no DKIM key for " + from_address.substr(from_address.rfind('@') + 1) +
                  " in [dkim]: messages go out unsigned (Gmail and Yahoo require DKIM)");
  }
  return out;
}

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
  const std::vector<std::string>& missing = msg->missing_fields;
  templates::DecodedMessage decoded = templates::DecodeMessage(*msg->data);
  if (!o.html_file.empty()) {
    std::ofstream out(o.html_file, std::ios::binary | std::ios::trunc);
    out << decoded.html;
    if (!out.flush()) {
      return Fail(Status::IoError(
          fmt::format("--html {}: cannot write: {}", o.html_file, std::strerror(errno))));
    }
  }
  std::vector<std::string> warnings = PreviewWarnings(**cfg, decoded, msg->dkim_signed,
                                                      campaign.from_address);
  if (o.format == "json") {
    nlohmann::json headers = nlohmann::json::array();
    for (const auto& [name, value] : decoded.headers) headers.push_back({name, value});
    PrintJson({{"template", o.name},
               {"email", rcpt->ToString()},
               {"subject", decoded.Header("Subject")},
               {"headers", headers},
               {"text", decoded.text},
               {"html", decoded.html},
               {"size", msg->data->size()},
               {"dkim_signed", msg->dkim_signed},
               {"missing_fields", missing},
               {"warnings", warnings}});
  } else if (o.raw) {
    fmt::print("{}", *msg->data);
  } else {
    for (const char* h : {"From", "To", "Reply-To", "Subject", "List-Unsubscribe"}) {
      std::string v = decoded.Header(h);
      if (!v.empty()) fmt::print("{}: {}\n", h, Printable(v));
    }
    fmt::print("Size: {} bytes, {}\n", msg->data->size(),
               msg->dkim_signed ? "DKIM-signed" : "not DKIM-signed");
    fmt::print("\n--- text part ---\n{}\n", decoded.has_text ? Printable(decoded.text, true)
                                                             : std::string("(no text part)"));
    if (!decoded.has_html) {
      fmt::print("--- html part: none ---\n");
    } else if (!o.html_file.empty()) {
      fmt::print("--- html part: {} bytes written to {} ---\n", decoded.html.size(), o.html_file);
    } else {
      fmt::print("--- html part: {} bytes (--html FILE writes it) ---\n", decoded.html.size());
    }
  }
  for (const std::string& w : warnings) fmt::print(stderr, "postino: warning: {}\n", w);
  if (!missing.empty()) {
    std::string names;
    for (const std::string& n : missing) names += (names.empty() ? "" : ", ") + n;
    fmt::print(stderr,
               "postino: {} lacks {} field{} the template uses (rendered empty): {}; add them "
               "to the list (list import) or give a default ({{{{name | default: \"...\"}}}})\n",
               rcpt->ToString(), missing.size(), missing.size() == 1 ? "" : "s", Printable(names));
    return kExitCheck;
  }
  return kExitOk;
}

}  // namespace postino::cli
