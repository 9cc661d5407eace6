// report.cc: from a read message to a ReturnReport (see report.h). The
// structured formats are read first (Amazon SES JSON notifications, RFC 5965
// ARF, RFC 3464 DSN); a message without them is read as text: auto-reply
// markers (RFC 3834) first, then the failed recipients and the replies that
// the text of a non-standard bounce quotes.
#include "inbound/returns/report.h"

#include <algorithm>
#include <cctype>

#include "inbound/returns/provider_wording.h"
#include "inbound/returns/reason.h"
#include "inbound/returns/reply_context.h"
#include "inbound/returns/ses_json.h"
#include "inbound/returns/text_util.h"

namespace postino::inbound::returns {
namespace {

constexpr size_t kMaxDiagnostic = 2048;
constexpr size_t kMaxRecipients = 256;
// The reporting server's text is short; a longer text part is mostly the
// returned original. The text rules read at most this much.
constexpr size_t kMaxTextScan = 128 * 1024;

bool ReadProviderComplaint(const ReturnedMessage& msg, ReturnReport& out);

// Phrases that start the returned copy of the original message in a text
// bounce: what follows is not the reporting server's own text.
constexpr std::string_view kOriginalMarkers[] = {
    "below this line is a copy of the message", "this is a copy of the message",
    "original message follows", "------ original message", "----- original message",
    "--- original message", "original message headers", "headers of the original message",
    "header of the original message", "undelivered message follows",
    "unsent message below", "returned message follows", "message header follows",
    "copy of your message", "original message header", "message headers follow",
    "headers of your message follow", "-----original message-----",
    "content-type: message/rfc822", "the header of the original", "text of your message",
    "copy of the message header",
};

std::string Bounded(std::string s, size_t cap) {
  if (s.size() > cap) s.resize(cap);
  return s;
}

// "smtp; 550 5.1.1 ..." -> "550 5.1.1 ...".
std::string StripDiagnosticType(std::string_view v) {
  v = TrimView(v);
  size_t semi = v.find(';');
  if (semi != std::string_view::npos && semi <= 12) {
    std::string_view type = TrimView(v.substr(0, semi));
    bool word = !type.empty() && std::all_of(type.begin(), type.end(), [](char c) {
      return std::isalpha(static_cast<unsigned char>(c)) || c == '-';
    });
    if (word) v = TrimView(v.substr(semi + 1));
  }
  return Bounded(UnfoldValue(v), kMaxDiagnostic);
}


void Classify(RecipientReport& r, std::string_view context, bool structured, std::string_view reporter) {
  ResolveCodes(r.diagnostic, r.status, r.reply_code);
  ReasonInput in;
  in.command = r.command;
  in.structured = structured;
  in.status = r.status;
  in.reply_code = r.reply_code;
  in.diagnostic = r.diagnostic;
  in.context = context;
  in.action = r.action;
  in.remote_mta = r.remote_mta;
  in.recipient = r.address;
  in.category = r.vendor_category;
  in.diagnostic_type = r.diagnostic_type;
  in.reporter_checks_directory = !reporter.empty();
  r.reason = ClassifyReason(in);
  r.hard_bounce = IsHardBounce(r.reason, r.status, r.reply_code);
}

// The text of the reporting server, without the returned original.
std::string_view BounceRegion(std::string_view text) {
  // One lower-cased copy, then plain (memchr-based) searches.
  std::string lower = ToLower(text);
  size_t cut = text.size();
  for (std::string_view marker : kOriginalMarkers) {
    size_t at = std::string_view(lower).substr(0, cut).find(marker);
    if (at != std::string_view::npos && at < cut) cut = at;
  }
  return text.substr(0, cut);
}

// Header fields quoted inline in a text bounce ("Message-ID: <...>" lines
// after the marker), for matching when no part carries the original.
Fields InlineHeaders(std::string_view text, size_t from) {
  Fields out;
  static constexpr std::string_view kNames[] = {"message-id", "to", "from", "subject",
                                                "x-postino-campaign", "list-unsubscribe"};
  size_t pos = from;
  while (pos < text.size() && out.size() < 16) {
    size_t end = text.find('\n', pos);
    if (end == std::string_view::npos) end = text.size();
    std::string_view line = TrimView(text.substr(pos, end - pos));
    pos = end + 1;
    size_t colon = line.find(':');
    if (colon == std::string_view::npos || colon > 32) continue;
    std::string_view name = line.substr(0, colon);
    for (std::string_view n : kNames) {
      if (EqualsIgnoreCase(name, n) && FieldValue(out, n).empty()) {
        out.emplace_back(std::string(name), std::string(TrimView(line.substr(colon + 1))));
      }
    }
  }
  return out;
}

// The text without lines that quote header fields naming no recipient
// (Message-ID, Received, References, From, ...): addresses there are not
// failed recipients.
std::string WithoutHeaderLines(std::string_view text) {
  static constexpr std::string_view kSkip[] = {
      "message-id:", "received:", "references:", "in-reply-to:", "return-path:", "from:",
      "sender:", "reply-to:", "x-", "dkim-signature:", "list-", "errors-to:", "(envelope-from"};
  std::string out;
  out.reserve(text.size());
  size_t pos = 0;
  while (pos < text.size()) {
    size_t end = text.find('\n', pos);
    if (end == std::string_view::npos) end = text.size();
    std::string_view line = text.substr(pos, end - pos);
    std::string_view t = TrimView(line);
    bool skip = false;
    for (std::string_view p : kSkip) {
      if (StartsWithIgnoreCase(t, p)) {
        skip = true;
        break;
      }
    }
    if (!skip) {
      out.append(line);
      out += '\n';
    }
    pos = end + 1;
  }
  return out;
}

bool IsSystemAddress(std::string_view addr) {
  std::string lower = ToLower(addr);
  for (std::string_view local : {"mailer-daemon@", "postmaster@", "root@", "mail-daemon@",
                                 "noreply@", "no-reply@", "daemon@", "mailerdaemon@"}) {
    if (lower.rfind(local, 0) == 0) return true;
  }
  return false;
}

bool ContainsAddress(const std::vector<std::string>& list, std::string_view addr) {
  return std::any_of(list.begin(), list.end(),
                     [&](const std::string& s) { return EqualsIgnoreCase(s, addr); });
}

// The auto-reply markers of RFC 3834 and common out-of-office subjects.
bool LooksLikeAutoReply(const ReturnedMessage& msg) {
  // Bounces carry Auto-Submitted too (Postfix: auto-replied): a report from
  // the mail system is never a person's auto-reply.
  std::string from = ToLower(FieldValue(msg.headers, "From"));
  for (std::string_view daemon : {"mailer-daemon", "postmaster", "mail delivery", "mail-daemon",
                                  "mailerdaemon", "mail administrator"}) {
    if (from.find(daemon) != std::string::npos) return false;
  }
  std::string auto_submitted = ToLower(FieldValue(msg.headers, "Auto-Submitted"));
  if (auto_submitted.rfind("auto-replied", 0) == 0) return true;
  if (!FieldValue(msg.headers, "X-Autoreply").empty() ||
      !FieldValue(msg.headers, "X-Autorespond").empty() ||
      !FieldValue(msg.headers, "X-Vacation").empty())
    return true;
  std::string subject = ToLower(FieldValue(msg.headers, "Subject"));
  for (std::string_view s : {"out of office", "out of the office", "automatic reply",
                             "auto reply", "auto-reply", "autoreply", "auto:", "vacation",
                             "abwesenheit", "risposta automatica", "réponse automatique",
                             "away from", "on leave", "autoresponse", "auto response"}) {
    if (subject.find(s) != std::string::npos) return true;
  }
  return false;
}

bool LooksLikeFailure(std::string_view text) {
  for (std::string_view s : {"undeliver", "could not be delivered", "delivery failed", "wasn't delivered",
                             "delivery status", "failure", "returned to sender",
                             "failure notice", "returned mail", "delivery status notification",
                             "not delivered", "mail delivery", "permanent error",
                             "unable to deliver"}) {
    if (ContainsIgnoreCase(text, s)) return true;
  }
  return false;
}

ReportKind KindOf(const std::vector<RecipientReport>& rs) {
  if (rs.empty()) return ReportKind::kUnknown;
  bool any_fail = false, any_delay = false;
  for (const RecipientReport& r : rs) {
    if (r.reason == "delivered") continue;
    if (r.reason == "vacation") return ReportKind::kAutoReply;
    if (r.reason == "feedback") return ReportKind::kComplaint;
    if (r.action == "delayed") any_delay = true;
    else any_fail = true;
  }
  if (any_fail) return ReportKind::kBounce;
  if (any_delay) return ReportKind::kDelay;
  return ReportKind::kSuccess;
}

void ReadArf(const ReturnedMessage& msg, ReturnReport& out) {
  out.format = "arf";
  const Fields& f = msg.feedback_report;
  std::string type = ToLower(TrimView(FieldValue(f, "Feedback-Type")));
  if (type.empty()) type = "abuse";
  std::vector<std::string> addrs;
  for (const auto& [name, value] : f) {
    if (EqualsIgnoreCase(name, "Original-Rcpt-To") || EqualsIgnoreCase(name, "Removal-Recipient")) {
      std::string a = CleanAddress(value);
      if (!a.empty() && !ContainsAddress(addrs, a)) addrs.push_back(a);
    }
  }
  if (addrs.empty()) {
    std::string a = CleanAddress(FieldValue(out.original_headers, "To"));
    if (!a.empty()) addrs.push_back(a);
  }
  if (addrs.empty()) addrs.push_back("");
  for (const std::string& a : addrs) {
    RecipientReport r;
    r.address = a;
    r.reason = "feedback";
    r.feedback_type = type;
    out.recipients.push_back(std::move(r));
  }
  std::string ua(TrimView(FieldValue(f, "User-Agent")));
  std::string reporter(TrimView(FieldValue(f, "Reporting-MTA")));
  if (reporter.empty()) {
    std::vector<std::string> from = FindAddresses(FieldValue(msg.headers, "From"), 1);
    if (!from.empty()) reporter = from.front().substr(from.front().find('@') + 1);
  }
  out.feedback_source = Bounded(!reporter.empty() ? StripDiagnosticType(reporter) : ua, 255);
  out.source_ip = Bounded(std::string(TrimView(FieldValue(f, "Source-IP"))), 64);
  out.kind = ReportKind::kComplaint;
}

void ReadDsn(const std::vector<Fields>& blocks, std::string_view region, ReturnReport& out) {
  out.format = "rfc3464";
  for (const Fields& block : blocks) {
    std::string_view final_rcpt = FieldValue(block, "Final-Recipient");
    std::string_view orig_rcpt = FieldValue(block, "Original-Recipient");
    if (out.reporting_mta.empty())
      out.reporting_mta = StripDiagnosticType(FieldValue(block, "Reporting-MTA"));
    if (out.original_envelope_id.empty())
      out.original_envelope_id = Bounded(std::string(TrimView(FieldValue(block, "Original-Envelope-Id"))), 255);
    if (final_rcpt.empty() && orig_rcpt.empty()) continue;
    if (out.recipients.size() >= kMaxRecipients) break;
    RecipientReport r;
    r.address = CleanAddress(!final_rcpt.empty() ? final_rcpt : orig_rcpt);
    r.original_recipient = CleanAddress(orig_rcpt);
    if (r.address.empty()) r.address = r.original_recipient;
    r.action = ToLower(TrimView(FieldValue(block, "Action")));
    if (size_t sp = r.action.find_first_of(" ("); sp != std::string::npos) r.action.resize(sp);
    std::string status(TrimView(FieldValue(block, "Status")));
    r.status = FindEnhancedCode(status);
    std::string_view code_field = FieldValue(block, "Diagnostic-Code");
    r.diagnostic = StripDiagnosticType(DecodeIso2022Jp(code_field));
    if (size_t semi = code_field.find(';'); semi != std::string_view::npos && semi <= 12)
      r.diagnostic_type = ToLower(TrimView(code_field.substr(0, semi)));
    r.remote_mta = StripDiagnosticType(FieldValue(block, "Remote-MTA"));
    r.vendor_category = Bounded(std::string(TrimView(FieldValue(block, "X-PowerMTA-BounceCategory"))), 64);
    // No diagnostic: the Status field's comment ("4.0.0 (example.net: host
    // name lookup failure)", RFC 3464 2.3.4) is the reporting MTA's own
    // explanation of this recipient's status when it names a cause; a bare
    // "(permanent failure)" gives way to the report's text below.
    std::string comment;
    if (r.diagnostic.empty() && !r.status.empty()) {
      size_t open = status.find('(');
      size_t close = status.rfind(')');
      if (open != std::string::npos && close != std::string::npos && close > open + 1)
        comment = Bounded(UnfoldValue(std::string_view(status).substr(open + 1, close - open - 1)),
                          kMaxDiagnostic);
      if (!ReasonFromText(comment).empty()) r.diagnostic = comment;
    }
    // No diagnostic: the text paragraph that names the recipient.
    if (r.diagnostic.empty() && !r.address.empty()) {
      size_t at = FindIgnoreCase(region, r.address);
      if (at != std::string_view::npos) {
        // A listing of one reply per recipient ("a@b: 550 5.1.1 ..."): that
        // recipient's own line (and its indented continuation lines).
        size_t line_start = region.rfind('\n', at);
        line_start = line_start == std::string_view::npos ? 0 : line_start + 1;
        size_t line_end = region.find('\n', at);
        while (line_end != std::string_view::npos && line_end + 1 < region.size() &&
               (region[line_end + 1] == ' ' || region[line_end + 1] == '\t'))
          line_end = region.find('\n', line_end + 1);
        if (line_end == std::string_view::npos) line_end = region.size();
        std::string_view line = region.substr(line_start, std::min(line_end - line_start, kMaxDiagnostic));
        if (FindReplyCode(line) != 0) {
          r.diagnostic = UnfoldValue(line);
        } else {
          size_t start = region.rfind("\n\n", at);
          start = start == std::string_view::npos ? 0 : start;
          r.diagnostic = Bounded(UnfoldValue(region.substr(start, at - start + 600)), kMaxDiagnostic);
        }
      }
    }
    if (r.diagnostic.empty()) r.diagnostic = std::move(comment);
    r.command = SmtpCommandFor(region, r.address, r.diagnostic);
    out.recipients.push_back(std::move(r));
  }
  // The wider text of a report on several recipients quotes every one's
  // reply: it stands in for a missing diagnostic only when it is about a
  // single recipient.
  for (RecipientReport& r : out.recipients)
    Classify(r, out.recipients.size() > 1 ? std::string_view() : region, true, out.reporter);
  out.kind = KindOf(out.recipients);
}

// The receiving server a text bounce names ("host mx.example.org[192.0.2.1]
// said", "host mx.example.org [192.0.2.1]", "host: mx.example.org (192.0.2.1)"):
// the first host name (with a dot) after the word "host", or "".
std::string RemoteHostNamedIn(std::string_view text) {
  for (size_t at = FindIgnoreCase(text, "host"); at != std::string_view::npos;
       at = FindIgnoreCase(text, "host", at + 4)) {
    if (at > 0 && std::isalnum(static_cast<unsigned char>(text[at - 1]))) continue;
    size_t i = at + 4;
    if (i < text.size() && text[i] == ':') ++i;
    if (i >= text.size() || text[i] != ' ') continue;
    while (i < text.size() && text[i] == ' ') ++i;
    size_t end = i;
    while (end < text.size() && end - i < 253 &&
           (std::isalnum(static_cast<unsigned char>(text[end])) || text[end] == '-' || text[end] == '.'))
      ++end;
    std::string_view name = text.substr(i, end - i);
    while (!name.empty() && name.back() == '.') name.remove_suffix(1);
    bool dotted = name.find('.') != std::string_view::npos && name.front() != '.' &&
                  std::isalpha(static_cast<unsigned char>(name.back()));
    bool ends_word = end >= text.size() || text[end] == ' ' || text[end] == '[' || text[end] == '(' ||
                     text[end] == ':' || text[end] == ',' || text[end] == '\n';
    if (dotted && ends_word) return std::string(name);
  }
  return {};
}

// A non-standard bounce: the failed addresses and the lines after each.
void ReadTextBounce(const ReturnedMessage& msg, std::string_view region, ReturnReport& out) {
  out.format = "text";
  std::vector<std::string> exclude;
  for (std::string_view h : {"From", "To", "Return-Path", "Reply-To", "Sender"}) {
    for (std::string& a : FindAddresses(FieldValue(msg.headers, h), 8)) exclude.push_back(a);
  }
  if (!out.original_from.empty()) exclude.push_back(out.original_from);
  std::vector<std::string> addrs;
  std::string failed(FieldValue(msg.headers, "X-Failed-Recipients"));
  for (std::string& a : FindAddresses(failed, kMaxRecipients)) addrs.push_back(a);
  if (addrs.empty()) {
    for (std::string& a : FindAddresses(WithoutHeaderLines(region), kMaxRecipients)) {
      if (IsSystemAddress(a) || ContainsAddress(exclude, a)) continue;
      addrs.push_back(a);
    }
  }
  // The report's own To is usually the sender, but one who wrote to
  // itself is also the failed recipient: a qmail/Postfix listing line
  // "<addr>:" names it whoever else it is.
  if (addrs.empty()) {
    size_t pos = 0;
    while (pos < region.size() && addrs.size() < kMaxRecipients) {
      size_t end = region.find('\n', pos);
      if (end == std::string_view::npos) end = region.size();
      std::string_view line = TrimView(region.substr(pos, end - pos));
      pos = end + 1;
      size_t close = line.find(">:");
      if (line.empty() || line.front() != '<' || close == std::string_view::npos) continue;
      std::string a = CleanAddress(line.substr(0, close + 1));
      if (!a.empty() && !IsSystemAddress(a) && !ContainsAddress(addrs, a)) addrs.push_back(a);
    }
  }
  if (addrs.empty() && !out.original_to.empty()) addrs.push_back(out.original_to);
  if (addrs.empty()) return;
  bool delayed = false;
  for (std::string_view w : {"warning message only", "will be retried", "still trying",
                             "has been delayed", "is delayed", "not yet been delivered",
                             "delivery delayed", "will continue trying", "will keep trying"}) {
    if (ContainsIgnoreCase(region, w)) delayed = true;
  }
  // Each address's diagnostic: from its first mention to the next address.
  std::vector<size_t> starts;
  for (const std::string& a : addrs) starts.push_back(FindIgnoreCase(region, a));
  // Listed recipients (X-Failed-Recipients) that the text spells otherwise:
  // take the text of the n-th address the text names instead.
  if (std::any_of(starts.begin(), starts.end(), [](size_t s) { return s == std::string_view::npos; })) {
    std::vector<size_t> named;
    for (std::string& a : FindAddresses(region, kMaxRecipients)) {
      if (IsSystemAddress(a) || ContainsAddress(exclude, a)) continue;
      named.push_back(FindIgnoreCase(region, a));
    }
    for (size_t i = 0, n = 0; i < starts.size(); ++i) {
      if (starts[i] == std::string_view::npos && n < named.size()) starts[i] = named[n];
      if (starts[i] != std::string_view::npos) ++n;
    }
  }
  for (size_t i = 0; i < addrs.size() && i < kMaxRecipients; ++i) {
    RecipientReport r;
    r.address = addrs[i];
    size_t at = starts[i];
    if (at != std::string_view::npos) {
      // Up to the next mention of another failed address (a listing may
      // name every recipient twice: in a summary and in a transcript).
      size_t end = region.size();
      for (size_t j = 0; j < addrs.size(); ++j) {
        if (j == i || EqualsIgnoreCase(addrs[j], addrs[i])) continue;
        size_t next = FindIgnoreCase(region, addrs[j], at + 1);
        if (next != std::string_view::npos && next < end) end = next;
      }
      std::string_view seg = region.substr(at, std::min(end - at, kMaxDiagnostic));
      // A recipient line alone ("<a@b>:") says nothing: include what follows.
      if (TrimView(seg).size() < r.address.size() + 8)
        seg = region.substr(at, std::min(region.size() - at, kMaxDiagnostic));
      r.diagnostic = UnfoldValue(seg);
    }
    if (r.diagnostic.empty() || (FindReplyCode(r.diagnostic) == 0 && ReasonFromText(r.diagnostic).empty()))
      r.diagnostic = Bounded(UnfoldValue(region), kMaxDiagnostic);
    r.action = delayed ? "delayed" : "failed";
    r.remote_mta = RemoteHostNamedIn(r.diagnostic);
    r.command = SmtpCommandFor(region, r.address, r.diagnostic);
    out.recipients.push_back(std::move(r));
  }
  for (RecipientReport& r : out.recipients) Classify(r, region, false, out.reporter);
  out.kind = KindOf(out.recipients);
}


// Complaints in providers' own formats: Microsoft JMRP (the complained
// message attached with X-HmXmrOriginalRecipient) and Apple Mail's
// unsubscribe message (X-Apple-Unsubscribe: true, an opt-out).
bool ReadProviderComplaint(const ReturnedMessage& msg, ReturnReport& out) {
  std::string_view jmrp = FieldValue(msg.original_headers, "X-HmXmrOriginalRecipient");
  if (!jmrp.empty()) {
    RecipientReport r;
    r.address = CleanAddress(jmrp);
    r.reason = "feedback";
    r.feedback_type = "abuse";
    out.recipients.push_back(std::move(r));
    out.format = "jmrp";
    out.kind = ReportKind::kComplaint;
    out.feedback_source = "microsoft";
    out.source_ip = Bounded(std::string(TrimView(FieldValue(msg.original_headers, "X-Reporter-IP"))), 64);
    return true;
  }
  if (EqualsIgnoreCase(TrimView(FieldValue(msg.headers, "X-Apple-Unsubscribe")), "true")) {
    RecipientReport r;
    r.address = CleanAddress(FieldValue(msg.headers, "From"));
    r.reason = "feedback";
    r.feedback_type = "opt-out";
    out.recipients.push_back(std::move(r));
    out.format = "apple-unsubscribe";
    out.kind = ReportKind::kComplaint;
    out.feedback_source = "apple";
    std::string to = CleanAddress(FieldValue(msg.headers, "To"));
    if (out.original_to.empty()) out.original_to = to;
    return true;
  }
  return false;
}

}  // namespace

std::string_view ReportKindName(ReportKind kind) {
  switch (kind) {
    case ReportKind::kUnknown: return "unknown";
    case ReportKind::kBounce: return "bounce";
    case ReportKind::kDelay: return "delay";
    case ReportKind::kSuccess: return "success";
    case ReportKind::kComplaint: return "complaint";
    case ReportKind::kAutoReply: return "autoreply";
  }
  return "unknown";
}

ReturnReport AnalyzeReturn(const ReturnedMessage& msg) {
  ReturnReport out;
  out.truncated = msg.truncated;
  std::string_view text = std::string_view(msg.text).substr(0, kMaxTextScan);
  std::string_view region = BounceRegion(text);
  if (msg.has_original) {
    out.original_headers = msg.original_headers;
  } else {
    out.original_headers = InlineHeaders(text, region.size());
  }
  if (out.original_headers.size() > 64) out.original_headers.resize(64);
  out.original_message_id = Bounded(std::string(TrimView(FieldValue(out.original_headers, "Message-ID"))), 998);
  out.original_to = CleanAddress(FieldValue(out.original_headers, "To"));
  out.original_from = CleanAddress(FieldValue(out.original_headers, "From"));

  if (ReadSesNotification(text, out)) return out;
  out.reporter = std::string(DirectoryCheckingReporter(msg.headers));
  if (msg.has_feedback_report || msg.report_type == "feedback-report") {
    ReadArf(msg, out);
    return out;
  }
  if (!msg.delivery_status.empty()) {
    ReadDsn(msg.delivery_status, region, out);
    if (!out.recipients.empty()) return out;
  } else if (ContainsIgnoreCase(text, "final-recipient:")) {
    // DSN fields in a text part (a report whose MIME structure was lost).
    std::vector<Fields> blocks;
    for (Fields& b : ParseFieldBlocks(text, 128)) {
      if (!FieldValue(b, "Final-Recipient").empty() || !FieldValue(b, "Reporting-MTA").empty())
        blocks.push_back(std::move(b));
    }
    ReadDsn(blocks, region, out);
    if (!out.recipients.empty()) return out;
  }
  if (ReadProviderComplaint(msg, out)) return out;
  if (LooksLikeAutoReply(msg) && !LooksLikeFailure(region) && msg.delivery_status.empty()) {
    out.format = "rfc3834";
    RecipientReport r;
    r.address = CleanAddress(FieldValue(msg.headers, "From"));
    r.reason = "vacation";
    out.recipients.push_back(std::move(r));
    out.kind = ReportKind::kAutoReply;
    return out;
  }
  ReadTextBounce(msg, region, out);
  return out;
}

ReturnReport ParseReturn(std::string_view bytes, const MimeLimits& limits) {
  return AnalyzeReturn(ReadReturnedMessage(bytes, limits));
}

}  // namespace postino::inbound::returns
