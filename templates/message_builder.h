// message_builder.h: (campaign, recipient) -> RFC 5322 message bytes.
//
// A campaign is prepared once (templates compiled, constant headers encoded
// and validated) into an immutable PreparedCampaign, shared by the worker
// threads; each recipient is then one Render call that does only the
// per-recipient work (render subject/text/html, encode To/Subject/Date/
// Message-ID/List-Unsubscribe, quoted-printable bodies). DKIM signing is a
// separate step (templates/dkim.h).
//
//   CampaignSpec spec = ...;                        // from the campaigns row
//   auto prepared = PreparedCampaign::Prepare(spec); // `template add` can call
//   if (!prepared.ok()) report(prepared.status());   // this to validate too
//   RecipientData r{.email = "ada@example.org", .attributes = &attrs,
//                   .unsubscribe_token = token};
//   auto msg = (*prepared)->Render(r, clock.WallNow());
//   // msg->bytes, msg->message_id (store on the delivery row),
//   // msg->envelope_from (MAIL FROM), msg->stats (missing attributes...)
#pragma once

#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "common/clock.h"
#include "common/status.h"
#include "templates/template.h"

namespace postino::templates {

struct Mailbox {
  std::string display_name;  // may be empty; UTF-8
  std::string address;       // local@domain; an IDN domain is converted to A-labels
};

// Campaign-level inputs. Everything here is validated by Prepare.
struct CampaignSpec {
  std::string name;              // {{campaign.name}}
  nlohmann::json campaign_data;  // more fields under {{campaign.*}} (object or null)
  Mailbox from;
  Mailbox reply_to;              // address empty = no Reply-To
  std::string subject_template;  // rendered without HTML escaping
  std::string text_template;     // text/plain part (without HTML escaping); may be empty
  std::string html_template;     // text/html part (HTML-escaped); may be empty
  std::map<std::string, std::string, std::less<>> partials;  // {{> name}} for all three
  // List-Id (RFC 2919): "news.example.com" or "Example News <news.example.com>".
  std::string list_id;
  // One-click unsubscribe (RFC 8058): https URL; the token is appended as
  // ?t=TOKEN (&t= when the URL has a query). Also {{unsubscribe_url}}.
  std::string unsubscribe_url_base;
  // Address for <mailto:ADDR?subject=unsubscribe-TOKEN>; may be empty.
  std::string unsubscribe_mailto;
  std::string feedback_id;  // Feedback-ID header; may be empty
  // Extra headers, in order, checked by ValidateExtraHeader (header_rules.h):
  // valid names, none that postino writes or that changes routing, values
  // without control characters (non-ASCII is encoded).
  std::vector<std::pair<std::string, std::string>> extra_headers;
  // Envelope sender: "bounces+TOKEN@verp_domain" when verp_domain is set;
  // otherwise bounce_address, or the From address when that is empty.
  std::string verp_domain;
  std::string verp_local_part = "bounces";
  std::string bounce_address;
  // Right-hand side of generated Message-IDs; default: the From domain.
  std::string message_id_domain;
  TemplateLimits limits;
  // A rendered part larger than this fails the recipient.
  size_t max_part_bytes = 4u << 20;
};

// Recipient-level inputs. Nothing here is trusted: values holding CR, LF or
// NUL can never create a header or a MIME part.
struct RecipientData {
  std::string email{};
  std::string display_name{};                  // optional, for the To header
  const nlohmann::json* attributes = nullptr;  // the template context (object)
  std::string unsubscribe_token{};             // required when unsubscribe_url_base is set
  std::string verp_token{};                    // default: unsubscribe_token
  // On a retry, the Message-ID stored on the delivery row ("<id@domain>" or
  // "id@domain"); empty = generate a new one.
  std::string message_id{};
};

struct RenderedMessage {
  std::string bytes;          // CRLF lines, no line over 998 octets, unsigned
  std::string message_id;     // "<...@domain>", as in the header
  std::string envelope_from;  // for MAIL FROM (Return-Path is written by the receiver)
  RenderStats stats;
};

class PreparedCampaign {
 public:
  // Compiles the templates (errors name the part: "subject:1:5: ...",
  // "html:12:5: ...") and validates and pre-encodes the constant headers.
  static Result<std::shared_ptr<const PreparedCampaign>> Prepare(const CampaignSpec& spec);

  // Renders one recipient into *out (its buffers are reused when the caller
  // keeps one RenderedMessage per worker). Thread-safe: const, no shared
  // mutable state. Fails (InvalidArgument, message naming the recipient) on
  // an invalid recipient address or token, or when a part exceeds
  // max_part_bytes; missing attributes are only counted in out->stats.
  Status Render(const RecipientData& recipient, WallTime now, RenderedMessage* out) const;
  Result<RenderedMessage> Render(const RecipientData& recipient, WallTime now) const;

  const CompiledTemplate& subject() const { return *subject_; }
  const CompiledTemplate* text() const { return text_ ? &*text_ : nullptr; }
  const CompiledTemplate* html() const { return html_ ? &*html_ : nullptr; }
  const std::string& from_domain() const { return from_domain_; }

  PreparedCampaign(const PreparedCampaign&) = delete;
  PreparedCampaign& operator=(const PreparedCampaign&) = delete;

 private:
  PreparedCampaign() = default;

  std::optional<CompiledTemplate> subject_;
  std::optional<CompiledTemplate> text_;
  std::optional<CompiledTemplate> html_;
  std::string from_header_;       // "From: ...\r\n"
  std::string constant_headers_;  // Reply-To .. extra headers, each ending CRLF
  std::string from_domain_;
  std::string message_id_domain_;
  std::string unsubscribe_url_base_;
  char unsubscribe_url_joiner_ = '?';
  std::string unsubscribe_mailto_;
  std::string verp_prefix_;        // "bounces+" or empty
  std::string verp_suffix_;        // "@domain"
  std::string envelope_from_;      // when no VERP
  nlohmann::json campaign_frame_;  // {"campaign": {...}}
  size_t max_part_bytes_ = 0;
};

}  // namespace postino::templates
