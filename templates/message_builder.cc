// message_builder.cc: PreparedCampaign — campaign-level validation and
// header pre-encoding, then per-recipient rendering into MIME bytes.
#include "templates/message_builder.h"

#include <fmt/format.h>
#include <openssl/rand.h>

#include <algorithm>
#include <array>
#include <cctype>

#include "common/strings.h"
#include "templates/header_rules.h"
#include "templates/mime_encoding.h"

namespace postino::templates {
namespace {

using Json = nlohmann::json;

bool HasControl(std::string_view s) {
  for (char ch : s) {
    auto c = static_cast<unsigned char>(ch);
    if ((c < 0x20 && c != '\t') || c == 0x7F) return true;
  }
  return false;
}

// Token characters that go into URLs and local parts unchanged.
bool IsTokenChar(unsigned char c) {
  return std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '=';
}

Status CheckToken(std::string_view what, std::string_view token, std::string_view email) {
  if (token.size() > 200) {
    return Status::InvalidArgument(
        fmt::format("recipient {}: {} is longer than 200 characters", email, what));
  }
  for (char c : token) {
    if (!IsTokenChar(static_cast<unsigned char>(c))) {
      return Status::InvalidArgument(
          fmt::format("recipient {}: {} may hold only letters, digits and - _ . =", email, what));
    }
  }
  return Status::Ok();
}

void AppendBase32(const unsigned char* bytes, size_t n, std::string* out) {
  static constexpr char kAlphabet[] = "abcdefghijklmnopqrstuvwxyz234567";
  uint32_t acc = 0;
  int bits = 0;
  for (size_t i = 0; i < n; ++i) {
    acc = (acc << 8) | bytes[i];
    bits += 8;
    while (bits >= 5) {
      out->push_back(kAlphabet[(acc >> (bits - 5)) & 31]);
      bits -= 5;
    }
  }
  if (bits > 0) out->push_back(kAlphabet[(acc << (5 - bits)) & 31]);
}

// The length of the longest line of `text` (lines end with CRLF).
size_t LongestLine(std::string_view text) {
  size_t longest = 0;
  size_t start = 0;
  while (start < text.size()) {
    size_t end = text.find("\r\n", start);
    if (end == std::string_view::npos) end = text.size();
    longest = std::max(longest, end - start);
    start = end + 2;
  }
  return longest;
}

void AppendBase36(uint64_t v, std::string* out) {
  char buf[16];
  int n = 0;
  do {
    buf[n++] = "0123456789abcdefghijklmnopqrstuvwxyz"[v % 36];
    v /= 36;
  } while (v > 0);
  while (n > 0) out->push_back(buf[--n]);
}

constexpr std::string_view kPartHeadersText =
    "Content-Type: text/plain; charset=utf-8\r\n"
    "Content-Transfer-Encoding: quoted-printable\r\n";
constexpr std::string_view kPartHeadersHtml =
    "Content-Type: text/html; charset=utf-8\r\n"
    "Content-Transfer-Encoding: quoted-printable\r\n";

}  // namespace

Result<std::shared_ptr<const PreparedCampaign>> PreparedCampaign::Prepare(
    const CampaignSpec& spec) {
  std::shared_ptr<PreparedCampaign> p(new PreparedCampaign());
  auto compile = [&](std::string_view part, const std::string& source,
                     std::optional<CompiledTemplate>* slot) -> Status {
    CompileOptions options;
    options.part_name = std::string(part);
    options.partials = spec.partials;
    options.limits = spec.limits;
    auto compiled = CompileTemplate(source, options);
    if (!compiled.ok()) return compiled.status();
    slot->emplace(std::move(compiled).value());
    return Status::Ok();
  };
  if (spec.text_template.empty() && spec.html_template.empty()) {
    return Status::InvalidArgument("campaign has neither a text nor an HTML template");
  }
  if (Status s = compile("subject", spec.subject_template, &p->subject_); !s.ok()) return s;
  if (!spec.text_template.empty()) {
    if (Status s = compile("text", spec.text_template, &p->text_); !s.ok()) return s;
  }
  if (!spec.html_template.empty()) {
    if (Status s = compile("html", spec.html_template, &p->html_); !s.ok()) return s;
  }

  auto campaign_text = [](std::string_view what, std::string_view value) -> Status {
    if (value.find('\0') != std::string_view::npos || HasControl(value)) {
      return Status::InvalidArgument(
          fmt::format("{} holds a control character (CR, LF, NUL...): \"{}\"", what, value));
    }
    return Status::Ok();
  };

  // From.
  auto from = NormalizeAddress(spec.from.address);
  if (!from.ok()) return Status::InvalidArgument("From: " + from.status().message());
  if (Status s = campaign_text("From display name", spec.from.display_name); !s.ok()) return s;
  AppendMailboxHeader("From", spec.from.display_name, *from, &p->from_header_);
  p->from_domain_ = from->substr(from->rfind('@') + 1);

  std::string& h = p->constant_headers_;
  if (!spec.reply_to.address.empty()) {
    auto reply = NormalizeAddress(spec.reply_to.address);
    if (!reply.ok()) return Status::InvalidArgument("Reply-To: " + reply.status().message());
    if (Status s = campaign_text("Reply-To display name", spec.reply_to.display_name); !s.ok()) {
      return s;
    }
    AppendMailboxHeader("Reply-To", spec.reply_to.display_name, *reply, &h);
  }
  h.append("MIME-Version: 1.0\r\n");
  if (!spec.list_id.empty()) {
    std::string_view phrase;
    std::string_view id = spec.list_id;
    size_t lt = id.find('<');
    if (lt != std::string_view::npos) {
      if (id.back() != '>') return Status::InvalidArgument("List-Id must end with \">\"");
      phrase = std::string_view(spec.list_id).substr(0, lt);
      while (!phrase.empty() && phrase.back() == ' ') phrase.remove_suffix(1);
      id = id.substr(lt + 1, id.size() - lt - 2);
    }
    if (Status s = campaign_text("List-Id", phrase); !s.ok()) return s;
    auto id_domain = NormalizeDomain(id);
    if (!id_domain.ok()) {
      return Status::InvalidArgument("List-Id: " + id_domain.status().message());
    }
    AppendMailboxHeader("List-Id", phrase, *id_domain, &h);
  }
  if (!spec.unsubscribe_url_base.empty()) {
    const std::string& url = spec.unsubscribe_url_base;
    if (url.rfind("https://", 0) != 0) {
      return Status::InvalidArgument(
          fmt::format("unsubscribe URL \"{}\" must be https:// (RFC 8058 one-click)", url));
    }
    if (url.size() > 700 || url.find_first_of(" <>\",") != std::string::npos || HasControl(url) ||
        std::any_of(url.begin(), url.end(),
                    [](char c) { return static_cast<unsigned char>(c) > 126; })) {
      return Status::InvalidArgument(fmt::format(
          "unsubscribe URL \"{}\" must be printable ASCII without spaces, <, >, \" or , and "
          "at most 700 characters",
          url));
    }
    p->unsubscribe_url_base_ = url;
    p->unsubscribe_url_joiner_ = url.find('?') == std::string::npos ? '?' : '&';
    h.append("List-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n");
  }
  if (!spec.unsubscribe_mailto.empty()) {
    auto mailto = NormalizeAddress(spec.unsubscribe_mailto);
    if (!mailto.ok()) {
      return Status::InvalidArgument("unsubscribe mailto: " + mailto.status().message());
    }
    p->unsubscribe_mailto_ = *mailto;
  }
  h.append("Precedence: bulk\r\n");
  if (!spec.feedback_id.empty()) {
    if (Status s = campaign_text("Feedback-ID", spec.feedback_id); !s.ok()) return s;
    AppendUnstructuredHeader("Feedback-ID", spec.feedback_id, &h);
  }
  for (const auto& [name, value] : spec.extra_headers) {
    // The same check as `campaign create --header` and `campaign launch`.
    if (Status s = ValidateExtraHeader(name, value); !s.ok()) {
      return Status::InvalidArgument("extra " + s.message());
    }
    AppendUnstructuredHeader(name, value, &h);
  }

  // Envelope sender.
  if (!spec.verp_domain.empty()) {
    auto domain = NormalizeDomain(spec.verp_domain);
    if (!domain.ok()) return Status::InvalidArgument("VERP domain: " + domain.status().message());
    auto check = NormalizeAddress(spec.verp_local_part + "+x@" + *domain);
    if (!check.ok()) return Status::InvalidArgument("VERP local part: " + check.status().message());
    p->verp_prefix_ = spec.verp_local_part + "+";
    p->verp_suffix_ = "@" + *domain;
  }
  if (!spec.bounce_address.empty()) {
    auto bounce = NormalizeAddress(spec.bounce_address);
    if (!bounce.ok())
      return Status::InvalidArgument("bounce address: " + bounce.status().message());
    p->envelope_from_ = *bounce;
  } else {
    p->envelope_from_ = *from;
  }
  if (!spec.message_id_domain.empty()) {
    auto domain = NormalizeDomain(spec.message_id_domain);
    if (!domain.ok()) {
      return Status::InvalidArgument("Message-ID domain: " + domain.status().message());
    }
    p->message_id_domain_ = *domain;
  } else {
    p->message_id_domain_ = p->from_domain_;
  }

  Json campaign = spec.campaign_data.is_object() ? spec.campaign_data : Json::object();
  campaign["name"] = spec.name;
  p->campaign_frame_ = Json::object();
  p->campaign_frame_["campaign"] = std::move(campaign);
  p->max_part_bytes_ = spec.max_part_bytes;
  return std::shared_ptr<const PreparedCampaign>(std::move(p));
}

Result<RenderedMessage> PreparedCampaign::Render(const RecipientData& recipient,
                                                 WallTime now) const {
  RenderedMessage message;
  Status s = Render(recipient, now, &message);
  if (!s.ok()) return s;
  return message;
}

Status PreparedCampaign::Render(const RecipientData& r, WallTime now, RenderedMessage* out) const {
  out->bytes.clear();
  out->message_id.clear();
  out->envelope_from.clear();
  out->stats = RenderStats();
  RenderStats& stats = out->stats;

  auto to = NormalizeAddress(r.email);
  if (!to.ok()) return Status::InvalidArgument("recipient: " + to.status().message());

  // Tokens and the URLs built from them.
  std::string unsubscribe_url;
  if (!unsubscribe_url_base_.empty() || !unsubscribe_mailto_.empty()) {
    if (r.unsubscribe_token.empty()) {
      return Status::InvalidArgument(fmt::format(
          "recipient {}: no unsubscribe token (the campaign has List-Unsubscribe)", r.email));
    }
    if (Status s = CheckToken("unsubscribe token", r.unsubscribe_token, r.email); !s.ok()) return s;
  }
  if (!unsubscribe_url_base_.empty()) {
    unsubscribe_url.reserve(unsubscribe_url_base_.size() + 3 + r.unsubscribe_token.size());
    unsubscribe_url.append(unsubscribe_url_base_);
    unsubscribe_url.push_back(unsubscribe_url_joiner_);
    unsubscribe_url.append("t=");
    unsubscribe_url.append(r.unsubscribe_token);
  }
  const std::string& verp_token = r.verp_token.empty() ? r.unsubscribe_token : r.verp_token;
  if (!verp_prefix_.empty() && !verp_token.empty()) {
    if (Status s = CheckToken("VERP token", verp_token, r.email); !s.ok()) return s;
    out->envelope_from.reserve(verp_prefix_.size() + verp_token.size() + verp_suffix_.size());
    out->envelope_from.append(verp_prefix_).append(verp_token).append(verp_suffix_);
  } else {
    out->envelope_from = envelope_from_;
  }

  // Message-ID: the stored one on a retry, else random + time.
  unsigned char random[30];
  if (RAND_bytes(random, sizeof random) != 1) {
    return Status::Internal("RAND_bytes failed (OpenSSL random generator unavailable)");
  }
  if (!r.message_id.empty()) {
    std::string_view id = r.message_id;
    if (id.front() == '<' && id.back() == '>' && id.size() > 2) id = id.substr(1, id.size() - 2);
    if (id.size() > 250 || id.find('@') == std::string_view::npos ||
        id.find_first_of(" \t\r\n<>\"") != std::string_view::npos || HasControl(id)) {
      return Status::InvalidArgument(fmt::format(
          "recipient {}: stored Message-ID \"{}\" is malformed", r.email, r.message_id));
    }
    out->message_id.append("<").append(id).append(">");
  } else {
    out->message_id.push_back('<');
    AppendBase36(
        static_cast<uint64_t>(
            std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count()),
        &out->message_id);
    out->message_id.push_back('.');
    AppendBase32(random, 15, &out->message_id);
    out->message_id.push_back('@');
    out->message_id.append(message_id_domain_);
    out->message_id.push_back('>');
  }

  // Context: attributes, then campaign built-ins, then recipient built-ins
  // (searched last to first, so built-ins win).
  Json recipient_frame = Json::object();
  recipient_frame["unsubscribe_url"] = unsubscribe_url;
  Json& rec = recipient_frame["recipient"];
  rec["email"] = r.email;
  rec["name"] = r.display_name;
  const Json* frames[3];
  size_t nframes = 0;
  if (r.attributes != nullptr) frames[nframes++] = r.attributes;
  frames[nframes++] = &campaign_frame_;
  frames[nframes++] = &recipient_frame;
  std::span<const Json* const> roots(frames, nframes);

  thread_local std::string subject;
  thread_local std::string text;
  thread_local std::string html;
  subject.clear();
  text.clear();
  html.clear();
  RenderOptions plain{.html_escape = false, .max_output_bytes = max_part_bytes_};
  RenderOptions escaped{.html_escape = true, .max_output_bytes = max_part_bytes_};
  auto part_error = [&](std::string_view part, const Status& s) {
    return Status::InvalidArgument(fmt::format("recipient {}: {}: {}", r.email, part, s.message()));
  };
  if (Status s = subject_->Render(roots, plain, &subject, &stats); !s.ok()) {
    return part_error("subject", s);
  }
  if (text_) {
    if (Status s = text_->Render(roots, plain, &text, &stats); !s.ok())
      return part_error("text", s);
  }
  if (html_) {
    if (Status s = html_->Render(roots, escaped, &html, &stats); !s.ok()) {
      return part_error("html", s);
    }
  }

  // Header values from untrusted data: neutralize CR, LF, NUL.
  stats.header_chars_neutralized += NeutralizeHeaderText(&subject);
  std::string to_name;
  if (!r.display_name.empty()) {
    to_name = r.display_name;
    stats.header_chars_neutralized += NeutralizeHeaderText(&to_name);
  }

  std::string& b = out->bytes;
  b.reserve(2048 + subject.size() * 2 + (text.size() + html.size()) * 11 / 10);
  b.append(from_header_);
  AppendMailboxHeader("To", to_name, *to, &b);
  AppendUnstructuredHeader("Subject", subject, &b);
  b.append("Date: ");
  AppendRfc5322Date(now, &b);
  b.append("\r\nMessage-ID: ");
  b.append(out->message_id);
  b.append("\r\n");
  b.append(constant_headers_);
  if (!unsubscribe_url.empty() || !unsubscribe_mailto_.empty()) {
    b.append("List-Unsubscribe: ");
    bool need_comma = false;
    if (!unsubscribe_url.empty()) {
      b.push_back('<');
      b.append(unsubscribe_url);
      b.push_back('>');
      need_comma = true;
    }
    if (!unsubscribe_mailto_.empty()) {
      if (need_comma) b.append(",\r\n ");
      b.append("<mailto:").append(unsubscribe_mailto_).append("?subject=unsubscribe-");
      b.append(r.unsubscribe_token).push_back('>');
    }
    b.append("\r\n");
  }
  // The folding above keeps every line short; this guards the RFC 5322
  // limit for any input: a message that would break it is not built (the
  // recipient is recorded as failed, with this reason, not sent).
  if (size_t longest = LongestLine(b); longest > kMaxLineOctets) {
    return Status::InvalidArgument(fmt::format(
        "recipient {}: a header line would be {} octets, over the {}-octet limit of RFC 5322",
        r.email, longest, kMaxLineOctets));
  }
  if (text_ && html_) {
    std::string bnd = "=_pst_";  // "=_" never occurs in quoted-printable text
    AppendBase32(random + 15, 15, &bnd);
    b.append("Content-Type: multipart/alternative;\r\n boundary=\"")
        .append(bnd)
        .append("\"\r\n\r\n");
    b.append("--").append(bnd).append("\r\n").append(kPartHeadersText).append("\r\n");
    AppendQuotedPrintable(text, &b);
    b.append("\r\n--").append(bnd).append("\r\n").append(kPartHeadersHtml).append("\r\n");
    AppendQuotedPrintable(html, &b);
    b.append("\r\n--").append(bnd).append("--\r\n");
  } else {
    b.append(text_ ? kPartHeadersText : kPartHeadersHtml).append("\r\n");
    AppendQuotedPrintable(text_ ? text : html, &b);
    b.append("\r\n");
  }
  return Status::Ok();
}

}  // namespace postino::templates
