// message_renderer.cc: the campaign -> templates::CampaignSpec mapping, the
// per-recipient unsubscribe token, and rendering on the worker threads.
#include "cli/message_renderer.h"

#include <fmt/format.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include <cstdlib>
#include <nlohmann/json.hpp>

#include "common/log.h"
#include "templates/dkim.h"
#include "templates/message_builder.h"

namespace postino::cli {

class PreparedCampaign {
 public:
  std::shared_ptr<const templates::PreparedCampaign> prepared;
  int64_t campaign_id = 0;
  bool sign = false;  // a DKIM key exists for the From domain
};

class MessageRenderer::Impl {
 public:
  explicit Impl(const config::Config& cfg) : cfg_(cfg) {
    // The key of unsubscribe tokens: from the config, else random per
    // process (tokens then stay unique but cannot be verified later).
    if (const char* env = std::getenv("POSTINO_UNSUBSCRIBE_SECRET")) secret_ = env;
    if (secret_.empty()) {
      unsigned char buf[32];
      RAND_bytes(buf, sizeof buf);
      secret_.assign(reinterpret_cast<char*>(buf), sizeof buf);
    }
  }

  // "<campaign>.<delivery>.<mac>": identifies the recipient and cannot be
  // forged without the secret.
  std::string Token(int64_t campaign_id, int64_t delivery_id, const std::string& email) const {
    std::string data = fmt::format("{}.{}.{}", campaign_id, delivery_id, email);
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    HMAC(EVP_sha256(), secret_.data(), static_cast<int>(secret_.size()),
         reinterpret_cast<const unsigned char*>(data.data()), data.size(), mac, &len);
    static const char kHex[] = "0123456789abcdef";
    std::string out = fmt::format("{}.{}.", campaign_id, delivery_id);
    for (unsigned i = 0; i < 12; ++i) {
      out += kHex[mac[i] >> 4];
      out += kHex[mac[i] & 15];
    }
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
  spec.unsubscribe_url_base = cfg.unsubscribe.url_base;
  spec.unsubscribe_mailto = cfg.unsubscribe.mailto;
  spec.feedback_id = cfg.campaign_defaults.feedback_id.empty()
                         ? fmt::format("{}:{}:postino", campaign.id, from_domain)
                         : cfg.campaign_defaults.feedback_id;
  nlohmann::json settings =
      nlohmann::json::parse(campaign.settings_json.empty() ? "{}" : campaign.settings_json,
                            nullptr, /*allow_exceptions=*/false);
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
      spec.verp_domain = cfg.campaign_defaults.verp_domain.empty() ? from_domain
                                                                   : cfg.campaign_defaults.verp_domain;
    }
  }
  Result<std::shared_ptr<const templates::PreparedCampaign>> prepared =
      templates::PreparedCampaign::Prepare(spec);
  if (!prepared.ok()) return prepared.status();
  auto out = std::make_shared<PreparedCampaign>();
  out->prepared = std::move(prepared).value();
  out->campaign_id = campaign.id;
  out->sign = impl_->signer_ && impl_->signer_->HasKeyFor(out->prepared->from_domain());
  if (!out->sign) {
    log::Warn("campaign \"{}\": no DKIM key for {} in the configuration; its messages go out "
              "unsigned (Gmail and Yahoo require DKIM from bulk senders)",
              campaign.name, out->prepared->from_domain());
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
  r.unsubscribe_token = impl_->Token(campaign.campaign_id, delivery_id, email);
  r.message_id = message_id;
  Result<templates::RenderedMessage> m =
      campaign.prepared->Render(r, std::chrono::system_clock::now());
  if (!m.ok()) return m.status();
  if (campaign.sign) {
    Status st = impl_->signer_->SignInPlace(&m->bytes, std::chrono::system_clock::now());
    if (!st.ok()) return st;
  }
  RenderedMessage out;
  out.message_id = m->message_id;
  out.envelope_from = m->envelope_from;
  out.data = std::make_shared<const std::string>(std::move(m->bytes));
  return out;
}

}  // namespace postino::cli
