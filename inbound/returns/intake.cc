// intake.cc: see intake.h.
#include "inbound/returns/intake.h"

#include <openssl/sha.h>

#include <algorithm>
#include <optional>

#include "common/metric_families.h"
#include "engine/policy/policy.h"
#include "engine/smtp/reply.h"
#include "inbound/returns/text_util.h"
#include "templates/recipient_token.h"

namespace postino::inbound::returns {
namespace {

// The bytes that identify a report wherever it was picked up: without a
// leading mbox "From " line, without the top header's trace fields (each
// hop and each mailbox adds its own Received, Return-Path, Delivered-To),
// with LF line ends (an mbox export and the SMTP copy hash the same).
std::string IdentityBytes(std::string_view bytes) {
  std::string out;
  out.reserve(bytes.size());
  size_t pos = 0;
  bool in_header = true, skipping = false, first = true;
  while (pos < bytes.size()) {
    size_t end = bytes.find('\n', pos);
    size_t next = end == std::string_view::npos ? bytes.size() : end + 1;
    std::string_view line = bytes.substr(pos, (end == std::string_view::npos ? bytes.size() : end) - pos);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    pos = next;
    if (first && line.substr(0, 5) == "From ") {
      first = false;
      continue;
    }
    first = false;
    if (in_header) {
      if (line.empty()) {
        in_header = false;
      } else if (line[0] == ' ' || line[0] == '\t') {
        if (skipping) continue;
      } else {
        skipping = false;
        for (std::string_view trace : {"received:", "return-path:", "delivered-to:", "x-original-to:",
                                       "envelope-to:", "x-envelope-to:"}) {
          if (StartsWithIgnoreCase(line, trace)) skipping = true;
        }
        if (skipping) continue;
      }
    }
    out.append(line);
    out += '\n';
  }
  return out;
}

std::string Sha256Hex(std::string_view raw) {
  std::string bytes = IdentityBytes(raw);
  unsigned char md[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(bytes.data()), bytes.size(), md);
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (unsigned char c : md) {
    out += kHex[c >> 4];
    out += kHex[c & 15];
  }
  return out;
}

bool DomainAccepted(const ReturnsConfig& cfg, std::string_view domain) {
  if (cfg.verp_domains.empty()) return true;
  return std::any_of(cfg.verp_domains.begin(), cfg.verp_domains.end(),
                     [&](const std::string& d) { return EqualsIgnoreCase(d, domain); });
}

// "<local>+<token>@<domain>" -> token, when the domain is a VERP domain.
std::string VerpToken(const ReturnsConfig& cfg, std::string_view address) {
  std::string addr = CleanAddress(address);
  size_t at = addr.rfind('@');
  if (at == std::string::npos) return {};
  size_t plus = addr.rfind('+', at);
  if (plus == std::string::npos) return {};
  if (!DomainAccepted(cfg, std::string_view(addr).substr(at + 1))) return {};
  return addr.substr(plus + 1, at - plus - 1);
}

// Tokens after "/u/" (one-click URL) or "unsubscribe-" (mailto subject).
void TokensIn(std::string_view text, std::vector<std::string>* out) {
  for (std::string_view marker : {"/u/", "unsubscribe-"}) {
    size_t pos = 0;
    while ((pos = FindIgnoreCase(text, marker, pos)) != std::string_view::npos && out->size() < 16) {
      pos += marker.size();
      size_t end = pos;
      while (end < text.size() && end - pos < 80 &&
             (std::isalnum(static_cast<unsigned char>(text[end])) || text[end] == '.'))
        ++end;
      if (end > pos) out->emplace_back(text.substr(pos, end - pos));
    }
  }
}

struct Matcher {
  db::Database& db;
  const ReturnsConfig& cfg;

  // A verified token's delivery.
  Result<std::optional<db::ReturnedDelivery>> ByToken(const std::string& token) {
    std::optional<templates::RecipientTokenParts> parts = templates::ParseRecipientToken(token);
    if (!parts || cfg.secret.empty()) return std::optional<db::ReturnedDelivery>();
    db::ReturnLookup by;
    by.delivery_id = parts->delivery_id;
    Result<std::optional<db::ReturnedDelivery>> d = db.FindReturnedDelivery(by);
    if (!d.ok() || !d->has_value()) return d;
    const db::ReturnedDelivery& row = **d;
    if (row.campaign_id != parts->campaign_id ||
        !templates::VerifyRecipientToken(cfg.secret, *parts, row.email))
      return std::optional<db::ReturnedDelivery>();
    return d;
  }
};

smtp::Reply ReplyOf(const RecipientReport& r) {
  smtp::Reply reply;
  reply.code = r.reply_code;
  if (reply.code == 0 && !r.status.empty()) reply.code = r.status[0] == '5' ? 550 : r.status[0] == '4' ? 450 : 250;
  reply.enhanced = r.status;
  reply.lines.push_back(r.diagnostic.empty() ? r.reason : r.diagnostic);
  return reply;
}

bool Permanent(const RecipientReport& r) {
  if (r.action == "delayed") return false;
  if (!r.status.empty()) return r.status[0] == '5';
  if (r.reply_code) return r.reply_code >= 500;
  return r.hard_bounce;
}

}  // namespace

void IntakeSummary::Add(const IntakeSummary& o) {
  messages += o.messages;
  duplicates += o.duplicates;
  oversized += o.oversized;
  recipients += o.recipients;
  matched += o.matched;
  unmatched += o.unmatched;
  ignored += o.ignored;
  hard_bounces += o.hard_bounces;
  soft_bounces += o.soft_bounces;
  permanent_bounces += o.permanent_bounces;
  complaints += o.complaints;
  unsubscribes += o.unsubscribes;
  for (const auto& [k, v] : o.reasons) reasons[k] += v;
  for (const auto& [k, v] : o.feedback_types) feedback_types[k] += v;
  for (const auto& [k, v] : o.unmatched_by_kind) unmatched_by_kind[k] += v;
  for (const auto& [k, v] : o.bounces_by_campaign) bounces_by_campaign[k] += v;
  for (const auto& [k, v] : o.complaints_by_campaign) complaints_by_campaign[k] += v;
}

void ExportIntakeMetrics(const IntakeSummary& s, std::string_view source) {
  namespace fam = metrics::families;
  // Soft = transient; hard = permanent (suppressing or not).
  if (s.permanent_bounces > 0) fam::Bounces().With({"hard", source}).Inc(static_cast<uint64_t>(s.permanent_bounces));
  if (s.soft_bounces > 0) fam::Bounces().With({"soft", source}).Inc(static_cast<uint64_t>(s.soft_bounces));
  for (const auto& [type, n] : s.feedback_types) fam::Complaints().With({type, source}).Inc(static_cast<uint64_t>(n));
  for (const auto& [kind, n] : s.unmatched_by_kind) fam::ReturnsUnmatched().With({kind}).Inc(static_cast<uint64_t>(n));
  // Recycled campaign labels: looked up at every increment, never cached.
  for (const auto& [key, n] : s.bounces_by_campaign) {
    fam::BouncesByCampaign().With({std::to_string(key.first), key.second}).Inc(static_cast<uint64_t>(n));
  }
  for (const auto& [campaign, n] : s.complaints_by_campaign) {
    fam::ComplaintsByCampaign().With({std::to_string(campaign)}).Inc(static_cast<uint64_t>(n));
  }
}

bool AcceptsRecipient(const ReturnsConfig& cfg, std::string_view rcpt) {
  std::string addr = CleanAddress(rcpt);
  if (addr.empty()) return false;
  for (const std::string& f : cfg.feedback_addresses)
    if (EqualsIgnoreCase(f, addr)) return true;
  if (cfg.verp_domains.empty()) return false;
  return !VerpToken(cfg, addr).empty();
}

Result<IntakeSummary> ProcessReturnedMessage(db::Database& db, const ReturnsConfig& cfg,
                                             std::string_view mail_from,
                                             const std::vector<std::string>& rcpts,
                                             std::string_view bytes) {
  IntakeSummary sum;
  sum.messages = 1;
  if (bytes.size() > cfg.max_message_size) {
    sum.oversized = 1;
    return sum;
  }
  MimeLimits limits;
  limits.max_bytes = std::min(limits.max_bytes, cfg.max_message_size);
  ReturnedMessage msg = ReadReturnedMessage(bytes, limits);
  ReturnReport report = AnalyzeReturn(msg);
  Matcher m{db, cfg};

  // Tokens that name a delivery: envelope first, then the report's own
  // recipient headers, then the returned message's List-Unsubscribe.
  std::vector<std::string> tokens;
  for (const std::string& r : rcpts) {
    std::string t = VerpToken(cfg, r);
    if (!t.empty()) tokens.push_back(t);
  }
  if (rcpts.empty()) {
    for (std::string_view h : {"To", "Delivered-To", "X-Original-To", "Envelope-To", "X-Envelope-To"}) {
      for (std::string& a : FindAddresses(FieldValue(msg.headers, h), 4)) {
        std::string t = VerpToken(cfg, a);
        if (!t.empty()) tokens.push_back(t);
      }
    }
  }
  TokensIn(FieldValue(report.original_headers, "List-Unsubscribe"), &tokens);
  // A mailto unsubscribe: "unsubscribe-<token>" in the subject.
  bool mailto_unsubscribe = false;
  if (report.recipients.empty() || report.kind == ReportKind::kAutoReply ||
      report.kind == ReportKind::kUnknown) {
    std::vector<std::string> subject_tokens;
    TokensIn(FieldValue(msg.headers, "Subject"), &subject_tokens);
    if (!subject_tokens.empty()) {
      mailto_unsubscribe = true;
      tokens.insert(tokens.begin(), subject_tokens.begin(), subject_tokens.end());
      report.recipients.clear();
      RecipientReport r;
      r.address = CleanAddress(FieldValue(msg.headers, "From"));
      r.reason = "feedback";
      r.feedback_type = "opt-out";
      report.recipients.push_back(std::move(r));
      report.kind = ReportKind::kComplaint;
      report.format = "mailto-unsubscribe";
    }
  }
  std::vector<db::ReturnedDelivery> by_token;
  for (const std::string& t : tokens) {
    Result<std::optional<db::ReturnedDelivery>> d = m.ByToken(t);
    if (!d.ok()) return d.status();
    if (d->has_value() && std::none_of(by_token.begin(), by_token.end(), [&](const auto& x) {
          return x.id == (*d)->id;
        }))
      by_token.push_back(**d);
  }

  std::vector<db::ReturnEvent> events;
  std::string reasons;
  size_t acting = 0;  // entries that call for an event
  for (const RecipientReport& r : report.recipients)
    if (r.reason != "delivered" && r.reason != "vacation") ++acting;
  for (const RecipientReport& r : report.recipients) {
    ++sum.recipients;
    ++sum.reasons[r.reason];
    if (!reasons.empty()) reasons += ',';
    reasons += r.reason;
    if (r.reason == "delivered" || r.reason == "vacation" || report.kind == ReportKind::kUnknown ||
        report.kind == ReportKind::kSuccess || report.kind == ReportKind::kAutoReply) {
      ++sum.ignored;
      continue;
    }
    // Match: a token delivery for this address (or the only entry), then
    // the returned Message-ID, then the returned To.
    std::optional<db::ReturnedDelivery> hit;
    for (const db::ReturnedDelivery& d : by_token) {
      if (EqualsIgnoreCase(d.email, r.address) || (acting == 1 && by_token.size() == 1) ||
          mailto_unsubscribe) {
        hit = d;
        break;
      }
    }
    if (!hit && !report.original_message_id.empty()) {
      db::ReturnLookup by;
      by.message_id = report.original_message_id;
      Result<std::optional<db::ReturnedDelivery>> d = db.FindReturnedDelivery(by);
      if (!d.ok()) return d.status();
      if (d->has_value() && (EqualsIgnoreCase((*d)->email, r.address) || acting == 1)) hit = **d;
    }
    if (!hit && !r.address.empty() && EqualsIgnoreCase(report.original_to, r.address)) {
      db::ReturnLookup by;
      by.email = r.address;
      Result<std::optional<db::ReturnedDelivery>> d = db.FindReturnedDelivery(by);
      if (!d.ok()) return d.status();
      if (d->has_value()) hit = **d;
    }
    if (!hit) {
      ++sum.unmatched;
      ++sum.unmatched_by_kind[r.reason == "feedback" ? "complaint" : "bounce"];
      continue;
    }
    ++sum.matched;
    db::ReturnEvent e;
    e.delivery_id = hit->id;
    e.smtp_code = r.reply_code;
    e.enhanced = r.status;
    e.reply = r.diagnostic;
    if (r.reason == "feedback") {
      bool opt_out = r.feedback_type == "opt-out" &&
                     (mailto_unsubscribe || report.format == "apple-unsubscribe");
      e.event = opt_out ? "unsubscribed" : "complained";
      e.phase = opt_out ? "mail" : "arf";
      e.suppress = true;
      e.feedback_type = r.feedback_type;
      e.source = report.feedback_source.empty() ? report.format : report.feedback_source;
      e.source_ip = report.source_ip;
      e.reply = "feedback-type " + r.feedback_type;
      ++(opt_out ? sum.unsubscribes : sum.complaints);
      if (!opt_out) {
        ++sum.feedback_types[r.feedback_type.empty() ? "unknown" : r.feedback_type];
        if (hit->campaign_id > 0) ++sum.complaints_by_campaign[hit->campaign_id];
      }
    } else if (Permanent(r)) {
      const policy::Policy& p = cfg.policy ? *cfg.policy : policy::DefaultPolicy();
      policy::Decision d = p.Classify(smtp::Phase::kRcpt, ReplyOf(r));
      e.event = "bounced";
      e.phase = "async";
      e.suppress = cfg.auto_suppress_hard_bounces && (d.suppress || r.hard_bounce);
      ++sum.permanent_bounces;
      if (e.suppress) ++sum.hard_bounces;
      if (hit->campaign_id > 0) ++sum.bounces_by_campaign[{hit->campaign_id, "hard"}];
    } else {
      e.event = "soft_bounced";
      e.phase = "async";
      ++sum.soft_bounces;
      if (hit->campaign_id > 0) ++sum.bounces_by_campaign[{hit->campaign_id, "soft"}];
    }
    events.push_back(std::move(e));
  }

  db::ReturnedReportRow row;
  row.hash = Sha256Hex(bytes);
  row.kind = std::string(ReportKindName(report.kind));
  row.format = report.format.empty() ? "none" : report.format;
  row.mail_from = std::string(mail_from.substr(0, 998));
  for (const std::string& r : rcpts) {
    if (row.rcpt_to.size() > 2000) break;
    if (!row.rcpt_to.empty()) row.rcpt_to += ',';
    row.rcpt_to += r;
  }
  row.reasons = reasons.substr(0, 2000);
  row.recipients = static_cast<int>(report.recipients.size());
  row.unmatched = static_cast<int>(sum.unmatched);
  Result<bool> fresh = db.RecordReturnedReport(row, events, cfg.node);
  if (!fresh.ok()) return fresh.status();
  if (!*fresh) {
    // Seen before: nothing was written this time.
    IntakeSummary dup;
    dup.messages = 1;
    dup.duplicates = 1;
    return dup;
  }
  return sum;
}

}  // namespace postino::inbound::returns
