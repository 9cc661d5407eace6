// message_renderer.cc: the campaign -> templates::CampaignSpec mapping, the
// per-recipient unsubscribe token, the checks of campaigns that share one
// message between several recipients, and rendering on the worker threads.
#include "scheduler/message_renderer.h"

#include <fmt/format.h>
#include <openssl/rand.h>

#include <cstdlib>
#include <nlohmann/json.hpp>
#include <optional>

#include "common/log.h"
#include "templates/dkim.h"
#include "templates/message_builder.h"
#include "templates/recipient_token.h"
#include "templates/template.h"

namespace postino::scheduler {

namespace {

// Settings are stored by `campaign create`, but the row can be edited by
// hand: anything unexpected means "one recipient per message".
int RecipientsPerMessageFrom(const nlohmann::json& settings) {
  if (!settings.is_object()) return 1;
  auto it = settings.find("recipients_per_message");
  if (it == settings.end() || !it->is_number_integer()) return 1;
  int64_t n = it->get<int64_t>();
  return n >= 1 && n <= kMaxRecipientsPerMessage ? static_cast<int>(n) : 1;
}

// The first name a part references that is not {{campaign.*}}, as an error.
Status CheckSharedPart(const std::string& campaign_name, int recipients_per_message,
                       const char* part, const templates::CompiledTemplate* tpl) {
  if (tpl == nullptr) return Status::Ok();
  for (const std::string& name : tpl->referenced_names()) {
    if (name == "campaign") continue;
    return Status::InvalidArgument(fmt::format(
        "campaign \"{}\" sends {} recipients per message, but its {} template uses {{{{{}}}}}, "
        "which differs per recipient; use --recipients-per-message 1",
        campaign_name, recipients_per_message, part, name));
  }
  return Status::Ok();
}

Status CheckSharedParts(const std::string& campaign_name, int n,
                        const templates::CompiledTemplate* subject,
                        const templates::CompiledTemplate* text,
                        const templates::CompiledTemplate* html) {
  if (Status st = CheckSharedPart(campaign_name, n, "subject", subject); !st.ok()) return st;
  if (Status st = CheckSharedPart(campaign_name, n, "text", text); !st.ok()) return st;
  return CheckSharedPart(campaign_name, n, "html", html);
}

}  // namespace

int RecipientsPerMessageSetting(const std::string& settings_json) {
  nlohmann::json settings = nlohmann::json::parse(settings_json.empty() ? "{}" : settings_json,
                                                  nullptr, /*allow_exceptions=*/false);
  return RecipientsPerMessageFrom(settings);
}

Status CheckSharedTemplates(const std::string& campaign_name, int recipients_per_message,
                            const db::TemplateRow& tpl) {
  if (recipients_per_message <= 1) return Status::Ok();
  auto compile = [](const char* part, const std::string& source,
                    std::optional<templates::CompiledTemplate>* out) -> Status {
    if (source.empty()) return Status::Ok();
    templates::CompileOptions options;
    options.part_name = part;
    Result<templates::CompiledTemplate> t = templates::CompileTemplate(source, options);
    if (!t.ok()) {
      return Status::InvalidArgument(
          fmt::format("template \"{}\": {}", part, t.status().message()));
    }
    out->emplace(std::move(t).value());
    return Status::Ok();
  };
  std::optional<templates::CompiledTemplate> subject, text, html;
  if (Status st = compile("subject", tpl.subject, &subject); !st.ok()) return st;
  if (Status st = compile("text", tpl.text, &text); !st.ok()) return st;
  if (Status st = compile("html", tpl.html, &html); !st.ok()) return st;
  return CheckSharedParts(campaign_name, recipients_per_message, subject ? &*subject : nullptr,
                          text ? &*text : nullptr, html ? &*html : nullptr);
}

class MessageRenderer::Impl {
 public:
  explicit Impl(const config::Config& cfg) : cfg_(cfg) {
    // The key of unsubscribe tokens: [unsubscribe] secret_file/secret_env
    // (required by config when List-Unsubscribe is on), else random per
    // process (tokens then stay unique but cannot be verified later).
    secret_ = cfg.unsubscribe.secret;
    if (secret_.empty()) {
      unsigned char buf[32];
      RAND_bytes(buf, sizeof buf);
      secret_.assign(reinterpret_cast<char*>(buf), sizeof buf);
    }
  }

  // "<campaign>.<delivery>.<mac>" (templates/recipient_token.h).
  std::string Token(int64_t campaign_id, int64_t delivery_id, const std::string& email) const {
    return templates::MakeRecipientToken(secret_, campaign_id, delivery_id, email);
  }

  // Renders and signs.
  Result<RenderedMessage> Finish(const PreparedCampaign& campaign,
                                 const templates::RecipientData& r, bool sign = true) const {
    Result<templates::RenderedMessage> m =
        campaign.prepared_->Render(r, std::chrono::system_clock::now());
    if (!m.ok()) return m.status();
    if (campaign.sign_ && sign) {
      Status st = signer_->SignInPlace(&m->bytes, std::chrono::system_clock::now());
      if (!st.ok()) return st;
    }
    RenderedMessage out;
    out.message_id = m->message_id;
    out.envelope_from = m->envelope_from;
    out.missing_fields = std::move(m->stats.missing_names);
    out.dkim_signed = campaign.sign_ && sign;
    out.data = std::make_shared<const std::string>(std::move(m->bytes));
    return out;
  }

  const config::Config& cfg_;
  std::string secret_;
  std::unique_ptr<templates::DkimSigner> signer_;  // null when no keys configured
};

MessageRenderer::MessageRenderer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
MessageRenderer::~MessageRenderer() = default;

Result<std::unique_ptr<MessageRenderer>> MessageRenderer::Create(const config::Config& config) {
  auto impl = std::make_unique<Impl>(config);
  if (!config.dkim.keys.empty()) {
    std::vector<templates::DkimKeyConfig> keys;
    for (const auto& k : config.dkim.keys) {
      templates::DkimKeyConfig key;
      key.domain = k.domain;
      key.selector = k.selector;
      key.private_key_path = k.key_file;
      if (!templates::ParseDkimAlgorithm(k.algorithm, &key.algorithm)) {
        return Status::InvalidArgument(fmt::format(
            "{}: dkim key {}._domainkey.{}: unknown algorithm \"{}\"", config.file, k.selector,
            k.domain, k.algorithm));
      }
      keys.push_back(std::move(key));
    }
    templates::DkimOptions options;
    const std::string& canon = config.dkim.canonicalization;
    size_t slash = canon.find('/');
    std::string header = canon.substr(0, slash);
    std::string body = slash == std::string::npos ? header : canon.substr(slash + 1);
    auto parse = [](const std::string& s, templates::DkimCanonicalization* out) {
      if (s == "relaxed") *out = templates::DkimCanonicalization::kRelaxed;
      else if (s == "simple") *out = templates::DkimCanonicalization::kSimple;
      else return false;
      return true;
    };
    if (!parse(header, &options.header_canonicalization) ||
        !parse(body, &options.body_canonicalization)) {
      return Status::InvalidArgument(fmt::format(
          "{}: dkim.canonicalization \"{}\": expected relaxed/relaxed, relaxed/simple, "
          "simple/relaxed or simple/simple",
          config.file, canon));
    }
    if (!config.dkim.headers.empty()) {
      options.signed_headers.clear();
      for (std::string h : config.dkim.headers) {
        for (char& c : h) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        options.signed_headers.push_back(h);
      }
    }
    Result<std::unique_ptr<templates::DkimSigner>> signer =
        templates::DkimSigner::Create(keys, options);
    if (!signer.ok()) return signer.status();
    impl->signer_ = std::move(signer).value();
  }
  return std::unique_ptr<MessageRenderer>(new MessageRenderer(std::move(impl)));
}

Result<std::shared_ptr<const PreparedCampaign>> MessageRenderer::Prepare(
    const db::CampaignRow& campaign, const db::TemplateRow& tpl) const {
  const config::Config& cfg = impl_->cfg_;
  templates::CampaignSpec spec;
  spec.name = campaign.name;
  spec.campaign_data = nlohmann::json::object();
  spec.campaign_data["id"] = campaign.id;
  spec.campaign_data["list"] = campaign.list_name;
  spec.from = {campaign.from_name, campaign.from_address};
  if (!campaign.reply_to.empty()) {
    size_t lt = campaign.reply_to.rfind('<');
    if (lt != std::string::npos && campaign.reply_to.back() == '>') {
      std::string name = campaign.reply_to.substr(0, lt);
      while (!name.empty() && name.back() == ' ') name.pop_back();
      if (name.size() >= 2 && name.front() == '"' && name.back() == '"') {
        name = name.substr(1, name.size() - 2);
      }
      spec.reply_to = {name, campaign.reply_to.substr(lt + 1, campaign.reply_to.size() - lt - 2)};
    } else {
      spec.reply_to = {"", campaign.reply_to};
    }
  }
  spec.subject_template = tpl.subject;
  spec.text_template = tpl.text;
  spec.html_template = tpl.html;
  std::string from_domain = campaign.from_address.substr(campaign.from_address.rfind('@') + 1);
  if (!cfg.campaign_defaults.list_id.empty()) {
    spec.list_id = cfg.campaign_defaults.list_id;
  } else if (!campaign.list_name.empty()) {
    std::string slug;
    for (char c : campaign.list_name) {
      unsigned char u = static_cast<unsigned char>(c);
      slug += std::isalnum(u) ? static_cast<char>(std::tolower(u)) : '-';
    }
    spec.list_id = fmt::format("{}.{}", slug, from_domain);
  }
  nlohmann::json settings =
      nlohmann::json::parse(campaign.settings_json.empty() ? "{}" : campaign.settings_json, nullptr,
                            /*allow_exceptions=*/false);
  const int per_message = RecipientsPerMessageFrom(settings);
  const bool shared = per_message > 1;
  // A one-click URL identifies its recipient; a message shared by several
  // cannot carry one. The mailto stays (with a campaign-level token).
  spec.unsubscribe_url_base = shared ? std::string() : cfg.unsubscribe.url_base;
  spec.unsubscribe_mailto = cfg.unsubscribe.mailto;
  spec.feedback_id = cfg.campaign_defaults.feedback_id.empty()
                         ? fmt::format("{}:{}:postino", campaign.id, from_domain)
                         : cfg.campaign_defaults.feedback_id;
  if (settings.is_object()) {
    if (settings.contains("headers") && settings["headers"].is_array()) {
      for (const auto& h : settings["headers"]) {
        if (h.contains("name") && h.contains("value") && h["name"].is_string() &&
            h["value"].is_string()) {
          spec.extra_headers.emplace_back(h["name"].get<std::string>(),
                                          h["value"].get<std::string>());
        }
      }
    }
    if (settings.value("verp", false)) {
      if (shared) {
        return Status::InvalidArgument(fmt::format(
            "campaign \"{}\" sends {} recipients per message and uses VERP, which needs one "
            "envelope sender per recipient; use --recipients-per-message 1 or no --verp",
            campaign.name, per_message));
      }
      spec.verp_domain = cfg.campaign_defaults.verp_domain.empty() ? from_domain
                                                                   : cfg.campaign_defaults.verp_domain;
    }
  }
  Result<std::shared_ptr<const templates::PreparedCampaign>> prepared =
      templates::PreparedCampaign::Prepare(spec);
  if (!prepared.ok()) return prepared.status();
  auto out = std::make_shared<PreparedCampaign>();
  out->prepared_ = std::move(prepared).value();
  out->campaign_id_ = campaign.id;
  out->name_ = campaign.name;
  out->from_name_ = campaign.from_name;
  out->from_address_ = campaign.from_address;
  out->recipients_per_message_ = per_message;
  if (shared) {
    const templates::PreparedCampaign& p = *out->prepared_;
    Status st = CheckSharedParts(campaign.name, per_message, &p.subject(), p.text(), p.html());
    if (!st.ok()) return st;
    if (!cfg.unsubscribe.url_base.empty()) {
      log::Warn(
          "campaign \"{}\" sends up to {} recipients per message: its messages carry no "
          "one-click unsubscribe URL (RFC 8058 needs one per recipient), only the mailto",
          campaign.name, per_message);
    }
  }
  out->sign_ = impl_->signer_ && impl_->signer_->HasKeyFor(out->prepared_->from_domain());
  if (!out->sign_) {
    log::Warn(
        "campaign \"{}\": no DKIM key for {} in the configuration; its messages go out "
        "unsigned (Gmail and Yahoo require DKIM from bulk senders)",
        campaign.name, out->prepared_->from_domain());
  }
  return std::shared_ptr<const PreparedCampaign>(std::move(out));
}

Result<RenderedMessage> MessageRenderer::Render(const PreparedCampaign& campaign,
                                                const std::string& email,
                                                const std::string& attributes_json,
                                                int64_t delivery_id,
                                                const std::string& message_id) const {
  nlohmann::json attrs = nlohmann::json::parse(attributes_json.empty() ? "{}" : attributes_json,
                                               nullptr, /*allow_exceptions=*/false);
  if (attrs.is_discarded() || !attrs.is_object()) {
    return Status::InvalidArgument(fmt::format("attributes of {} are not a JSON object", email));
  }
  templates::RecipientData r;
  r.email = email;
  r.attributes = &attrs;
  r.unsubscribe_token = impl_->Token(campaign.campaign_id_, delivery_id, email);
  r.message_id = message_id;
  return impl_->Finish(campaign, r);
}

Result<RenderedMessage> MessageRenderer::RenderUnsigned(const PreparedCampaign& campaign,
                                                        const std::string& email,
                                                        const std::string& attributes_json,
                                                        int64_t delivery_id) const {
  nlohmann::json attrs = nlohmann::json::parse(attributes_json.empty() ? "{}" : attributes_json,
                                               nullptr, /*allow_exceptions=*/false);
  if (attrs.is_discarded() || !attrs.is_object()) {
    return Status::InvalidArgument(fmt::format("attributes of {} are not a JSON object", email));
  }
  templates::RecipientData r;
  r.email = email;
  r.attributes = &attrs;
  r.unsubscribe_token = impl_->Token(campaign.campaign_id_, delivery_id, email);
  return impl_->Finish(campaign, r, /*sign=*/false);
}

Result<RenderedMessage> MessageRenderer::RenderShared(const PreparedCampaign& campaign,
                                                      const std::string& message_id) const {
  templates::RecipientData r;
  r.email = campaign.from_address_;
  r.display_name = campaign.from_name_;
  // Delivery 0: a token for the campaign, not for one recipient.
  r.unsubscribe_token = impl_->Token(campaign.campaign_id_, 0, campaign.from_address_);
  r.message_id = message_id;
  return impl_->Finish(campaign, r);
}

}  // namespace postino::scheduler

namespace postino::scheduler {

std::shared_ptr<const std::string> MessageRenderer::SignSubmitted(std::string bytes,
                                                                  bool* signed_out) const {
  *signed_out = false;
  if (impl_->signer_) {
    // NotFound (no key for the From domain) or no From: sent unsigned.
    Result<std::string> sig = impl_->signer_->Sign(bytes, std::chrono::system_clock::now());
    if (sig.ok()) {
      bytes.insert(0, *sig);
      *signed_out = true;
    }
  }
  return std::make_shared<const std::string>(std::move(bytes));
}

}  // namespace postino::scheduler
