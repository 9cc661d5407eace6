// report.cc: from a read message to a ReturnReport (see report.h). The
// structured formats are read first (Amazon SES JSON notifications, RFC 5965
// ARF, RFC 3464 DSN); a message without them is read as text: auto-reply
// markers (RFC 3834) first, then the failed recipients and the replies that
// the text of a non-standard bounce quotes.
#include "inbound/returns/report.h"

#include <algorithm>

#include "inbound/returns/provider_wording.h"
#include "inbound/returns/reason.h"
#include "inbound/returns/ses_json.h"
#include "inbound/returns/text_util.h"

namespace postino::inbound::returns {
namespace {

constexpr size_t kMaxDiagnostic = 2048;
constexpr size_t kMaxRecipients = 256;
// The reporting server's text is short; a longer text part is mostly the
// returned original. The text rules read at most this much.
constexpr size_t kMaxTextScan = 128 * 1024;

std::string SmtpCommandFor(std::string_view region, std::string_view address,
                           std::string_view diagnostic);
std::string CommandNamedIn(std::string_view text);
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


// Which of the DSN's Status field and the enhanced code in the reply text
// says more. The reply text is the receiving server's own word; the field
// is the reporting MTA's summary of it, often vaguer:
//  - when their classes differ, the one of the reply code's class;
//  - X.0.0 (class only) and X.Y.0 / X.0.Z (no detail) give way to a code
//    with a detail; a class-only code in the text never wins;
//  - codes that summarise rather than explain give way to the text's:
//    4.4.7 (gave up), 4.7.0, 5.3.x (mail system), X.5.1/X.5.2/X.5.4/X.5.5
//    (protocol trouble), 5.1.1 unless the text's is vaguer or a protocol
//    code, 5.1.3 before a 5.7.x policy code.
std::string PreferredStatus(const std::string& field, const std::string& text, int reply_code) {
  if (field.empty()) return text;
  if (text.empty() || field == text) return field;
  if (reply_code >= 200 && reply_code < 600 && field[0] != text[0]) {
    char cls = static_cast<char>('0' + reply_code / 100);
    if (cls == field[0]) return field;
    if (cls == text[0]) return text;
  }
  auto has = [](const std::string& s, std::string_view part) { return s.find(part) != std::string::npos; };
  bool field_class_only = field.substr(1) == ".0.0";
  bool text_class_only = text.substr(1) == ".0.0";
  if (field_class_only) return text_class_only ? field : text;
  if (has(field, ".0") && !has(text, ".0")) return text;
  if (text_class_only) return field;
  std::string_view sd = std::string_view(field).substr(1);  // ".5.1..."
  if (field == "4.4.7" || field == "4.7.0" || field.rfind("5.3.", 0) == 0 || sd.rfind(".5.1", 0) == 0 ||
      sd.rfind(".5.2", 0) == 0 || sd.rfind(".5.4", 0) == 0 || sd.rfind(".5.5", 0) == 0)
    return text;
  if (field == "5.1.1") return (has(text, ".0") || text.rfind("5.5.", 0) == 0) ? field : text;
  if (field == "5.1.3" && text.rfind("5.7.", 0) == 0) return text;
  return field;
}

// Status and reply code of one recipient from its own fields and text.
// The reply code is the one of the status's class (a report that quotes
// its own "554 4.4.7 expired" around the server's "421 4.4.2 timed out"
// means the 421); without a status, the first failure code RFC 5321
// defines, else the first code. A code of another class than the status
// is not this recipient's reply.
void FillCodes(RecipientReport& r) {
  std::vector<int> codes = FindReplyCodes(r.diagnostic);
  int first = codes.empty() ? 0 : codes.front();
  if (r.reply_code == 0) {
    for (int c : codes) {
      if (IsDefinedFailureReply(c)) {
        first = c;
        break;
      }
    }
  }
  r.status = PreferredStatus(r.status, FindTellingEnhancedCode(r.diagnostic), r.reply_code ? r.reply_code : first);
  if (r.reply_code != 0) return;
  if (r.status.empty()) {
    r.reply_code = first;
    return;
  }
  for (int c : codes) {
    if (c / 100 == r.status[0] - '0' && (c / 100 == 2 || IsDefinedFailureReply(c))) {
      r.reply_code = c;
      return;
    }
  }
}

void Classify(RecipientReport& r, std::string_view context, bool structured, std::string_view reporter) {
  FillCodes(r);
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
    r.diagnostic = StripDiagnosticType(FieldValue(block, "Diagnostic-Code"));
    r.remote_mta = StripDiagnosticType(FieldValue(block, "Remote-MTA"));
    r.vendor_category = Bounded(std::string(TrimView(FieldValue(block, "X-PowerMTA-BounceCategory"))), 64);
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
    r.command = SmtpCommandFor(region, r.address, r.diagnostic);
    out.recipients.push_back(std::move(r));
  }
  for (RecipientReport& r : out.recipients) Classify(r, region, true, out.reporter);
  out.kind = KindOf(out.recipients);
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
    r.command = SmtpCommandFor(region, r.address, r.diagnostic);
    out.recipients.push_back(std::move(r));
  }
  for (RecipientReport& r : out.recipients) Classify(r, region, false, out.reporter);
  out.kind = KindOf(out.recipients);
}


// The SMTP command a reply text names in capitals as a word of its own
// ("did not like our RCPT TO:", "SMTP error ... after RCPT command",
// "most progress was RCPT TO response", "SMTP:RCPT host"): MTAs that say
// where the session failed write the command as it was sent. Of several,
// the latest in a session's order wins (DATA after RCPT after MAIL after
// HELO/EHLO); "" when none.
std::string CommandNamedIn(std::string_view text) {
  struct Word {
    std::string_view word, command;
  };
  static constexpr Word kWords[] = {
      {"HELO", "HELO"}, {"EHLO", "HELO"}, {"MAIL FROM", "MAIL"}, {"RCPT", "RCPT"}, {"DATA", "DATA"},
  };
  auto is_word_char = [](char ch) {
    return std::isalnum(static_cast<unsigned char>(ch)) || ch == '@' || ch == '_';
  };
  std::string found;
  for (const Word& w : kWords) {
    for (size_t at = text.find(w.word); at != std::string_view::npos; at = text.find(w.word, at + 1)) {
      size_t end = at + w.word.size();
      if (at > 0 && (is_word_char(text[at - 1]) || text[at - 1] == '.')) continue;
      if (end < text.size() && (is_word_char(text[end]) || text[end] == '.')) continue;
      // "(EHLO name)" is a quoted Received field, not the session.
      if (at > 0 && text[at - 1] == '(') continue;
      found = std::string(w.command);
      break;
    }
  }
  return found;
}

// The SMTP command a recipient's reply answered ("DATA", "MAIL", "RCPT",
// "CONN"), from the wording of Postfix ("in reply to end of DATA command"),
// Exim ("after end of data", "after MAIL FROM"), Sendmail transcripts
// (">>> DATA" before the "<<< 5xx" line) and similar; "" when not said.
std::string SmtpCommandFor(std::string_view region, std::string_view address,
                           std::string_view diagnostic) {
  auto from_phrases = [](std::string_view t) -> std::string {
    struct P {
      std::string_view phrase, command;
    };
    static constexpr P kPhrases[] = {
        {"in reply to end of data", "DATA"}, {"in reply to data", "DATA"},
        {"after end of data", "DATA"},       {"after data", "DATA"},
        {"smtp command data", "DATA"},       {"[data]", "DATA"},
        {"in reply to mail from", "MAIL"},   {"after mail from", "MAIL"},
        {"[mail_from]", "MAIL"},             {"in reply to rcpt to", "RCPT"},
        {"after rcpt to", "RCPT"},           {"[rcpt_to]", "RCPT"},
        {"after initial connection", "CONN"}, {"in reply to helo", "HELO"},
        // Exchange Online quoting the next server's RCPT TO refusal.
        {"unknown recipient or mailbox unavailable ->", "RCPT"},
        {"in reply to ehlo", "HELO"},        {"after helo", "HELO"},
        {"after ehlo", "HELO"},         {"my name was rejected", "HELO"},
    };
    size_t best = std::string_view::npos;
    std::string command;
    for (const P& p : kPhrases) {
      size_t at = FindIgnoreCase(t, p.phrase);
      if (at < best) {
        best = at;
        command = std::string(p.command);
      }
    }
    return command;
  };
  std::string c = from_phrases(UnfoldValue(diagnostic));
  if (!c.empty()) return c;
  c = CommandNamedIn(diagnostic);
  if (!c.empty()) return c;
  size_t at = address.empty() ? std::string_view::npos : FindIgnoreCase(region, address);
  if (at != std::string_view::npos) {
    c = from_phrases(UnfoldValue(region.substr(at, 1200)));
    if (!c.empty()) return c;
  }
  // Sendmail-style transcript: the last ">>> CMD" before the first "<<< 4/5xx"
  // after the recipient's mention.
  size_t from = at == std::string_view::npos ? 0 : at;
  size_t reply = std::string_view::npos;
  for (std::string_view marker : {"<<< 5", "<<< 4"}) reply = std::min(reply, region.find(marker, from));
  if (reply != std::string_view::npos) {
    size_t cmd = region.rfind(">>> ", reply);
    if (cmd != std::string_view::npos) {
      std::string word = ToLower(region.substr(cmd + 4, 4));
      if (word == "data") return "DATA";
      if (word == "mail") return "MAIL";
      if (word == "rcpt") return "RCPT";
      if (word == "helo" || word == "ehlo") return "HELO";
    }
  }
  return {};
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
