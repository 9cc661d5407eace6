// message_renderer.h: turns (campaign, recipient) into signed RFC 5322 bytes
// on the worker threads, through templates/ (Mustache, MIME, DKIM). A
// campaign is prepared once (templates compiled, constant headers encoded);
// each recipient is then rendered without re-parsing. A campaign created with
// --recipients-per-message N > 1 renders one shared message per group of
// recipients instead (RenderShared), see docs/campaigns.md.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "common/status.h"
#include "config/config.h"
#include "db/database.h"

namespace postino::templates {
class PreparedCampaign;
}

namespace postino::scheduler {

// Bounds of the "recipients_per_message" campaign setting.
inline constexpr int kMaxRecipientsPerMessage = 1000;

// The campaign setting "recipients_per_message" from its settings JSON:
// 1 when absent, malformed or out of 1..kMaxRecipientsPerMessage.
int RecipientsPerMessageSetting(const std::string& settings_json);

// For a campaign sending `recipients_per_message` > 1 recipients per message:
// OK when its templates render the same for every recipient (they reference
// only {{campaign.*}}), else InvalidArgument naming the campaign, the part
// and the first offending variable. Always OK when recipients_per_message <= 1.
// Used by `campaign create` and `campaign launch` to refuse early; Prepare
// checks the same.
Status CheckSharedTemplates(const std::string& campaign_name, int recipients_per_message,
                            const db::TemplateRow& tpl);

struct RenderedMessage {
  std::shared_ptr<const std::string> data;  // CRLF, not dot-stuffed
  std::string message_id;                   // without <>
  std::string envelope_from;                // MAIL FROM
  // Template fields that rendered empty for want of a value (the first 16
  // distinct names, templates::RenderStats::missing_names), for previews and checks.
  std::vector<std::string> missing_fields;
  bool dkim_signed = false;
};

// A campaign ready to render: immutable, shared by the worker threads.
class PreparedCampaign {
 public:
  int64_t campaign_id() const { return campaign_id_; }
  const std::string& name() const { return name_; }
  // Recipients sharing one message (1 = one personalised message each).
  int recipients_per_message() const { return recipients_per_message_; }
  // True when a DKIM key for the From domain is configured (messages are signed).
  bool dkim_signed() const { return sign_; }

 private:
  friend class MessageRenderer;
  std::shared_ptr<const templates::PreparedCampaign> prepared_;
  int64_t campaign_id_ = 0;
  std::string name_;
  std::string from_name_, from_address_;  // To: of a shared message
  bool sign_ = false;                     // a DKIM key exists for the From domain
  int recipients_per_message_ = 1;
};

class MessageRenderer {
 public:
  // Loads DKIM keys named in the config. Errors name the key file.
  static Result<std::unique_ptr<MessageRenderer>> Create(const config::Config& config);
  ~MessageRenderer();

  // Compiles the campaign's template and encodes its constant parts. For a
  // campaign with recipients_per_message > 1 it also checks that the message
  // can be the same for every recipient (CheckSharedTemplates, no VERP) and
  // leaves out the one-click unsubscribe URL (RFC 8058 needs one per
  // recipient; the mailto stays, with a campaign-level token).
  Result<std::shared_ptr<const PreparedCampaign>> Prepare(const db::CampaignRow& campaign,
                                                          const db::TemplateRow& tpl) const;
  // Renders and signs one recipient's message. Thread-safe. `message_id`
  // keeps the Message-ID of an earlier attempt (empty on the first).
  Result<RenderedMessage> Render(const PreparedCampaign& campaign, const std::string& email,
                                 const std::string& attributes_json, int64_t delivery_id,
                                 const std::string& message_id) const;
  // Renders and signs the one message a group of recipients of a campaign
  // with recipients_per_message > 1 shares. Its To: header is the campaign's
  // From mailbox (the recipients are only in the envelope, like Bcc); no
  // recipient attributes are available. Thread-safe. `message_id` as above.
  Result<RenderedMessage> RenderShared(const PreparedCampaign& campaign,
                                       const std::string& message_id) const;
  // Like Render, without the DKIM signature (`campaign check` renders a
  // whole list; the signature's size is measured once instead).
  Result<RenderedMessage> RenderUnsigned(const PreparedCampaign& campaign, const std::string& email,
                                         const std::string& attributes_json,
                                         int64_t delivery_id) const;

  // A submitted message as sent: signed with the DKIM key(s) of its From
  // domain when the configuration has one, else unchanged (`*signed_out`
  // false). Thread-safe.
  std::shared_ptr<const std::string> SignSubmitted(std::string bytes, bool* signed_out) const;

  class Impl;

 private:
  explicit MessageRenderer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace postino::scheduler
