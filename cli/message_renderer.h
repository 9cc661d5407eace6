// message_renderer.h: turns (campaign, recipient) into signed RFC 5322 bytes
// on the worker threads, through templates/ (Mustache, MIME, DKIM). A
// campaign is prepared once (templates compiled, constant headers encoded);
// each recipient is then rendered without re-parsing.
#pragma once

#include <memory>
#include <string>

#include "common/status.h"
#include "config/config.h"
#include "db/database.h"

namespace postino::cli {

struct RenderedMessage {
  std::shared_ptr<const std::string> data;  // CRLF, not dot-stuffed
  std::string message_id;                   // without <>
  std::string envelope_from;                // MAIL FROM
};

class PreparedCampaign;

class MessageRenderer {
 public:
  // Loads DKIM keys named in the config. Errors name the key file.
  static Result<std::unique_ptr<MessageRenderer>> Create(const config::Config& config);
  ~MessageRenderer();

  // Compiles the campaign's template and encodes its constant parts.
  Result<std::shared_ptr<const PreparedCampaign>> Prepare(const db::CampaignRow& campaign,
                                                          const db::TemplateRow& tpl) const;
  // Renders and signs one recipient's message. Thread-safe. `message_id`
  // keeps the Message-ID of an earlier attempt (empty on the first).
  Result<RenderedMessage> Render(const PreparedCampaign& campaign, const std::string& email,
                                 const std::string& attributes_json, int64_t delivery_id,
                                 const std::string& message_id) const;

  class Impl;

 private:
  explicit MessageRenderer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace postino::cli
