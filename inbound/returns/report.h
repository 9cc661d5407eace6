// report.h: a returned message understood: what kind of report it is
// (bounce, delay, success, complaint, auto-reply), one entry per recipient
// with its status, reply code, diagnostic, reason and hard/soft flag, and
// what identifies the original message (its Message-ID, To, the envelope
// the report was sent to) so that it can be matched to a delivery.
// ParseReturn never fails: unknown input gives kUnknown with no recipients.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "inbound/returns/mime_reader.h"

namespace postino::inbound::returns {

enum class ReportKind {
  kUnknown,    // nothing recognised as a report
  kBounce,     // at least one recipient failed (hard or soft)
  kDelay,      // only delayed/transient recipients (DSN Action: delayed)
  kSuccess,    // success DSN (delivered, relayed, expanded)
  kComplaint,  // ARF (RFC 5965) or a provider's complaint notification
  kAutoReply,  // RFC 3834 auto-reply, vacation / out-of-office
};

std::string_view ReportKindName(ReportKind kind);

struct RecipientReport {
  std::string address;        // the failed recipient ("" when unknown)
  std::string original_recipient;  // DSN Original-Recipient, when given
  std::string action;         // DSN Action, lower case ("" when none)
  std::string status;         // enhanced code "5.1.1" or ""
  int reply_code = 0;         // basic SMTP code, 0 when none
  std::string diagnostic;     // the reply text / diagnostic, unfolded, bounded
  std::string remote_mta;
  std::string command;        // SMTP command the reply answered: DATA, MAIL, RCPT, CONN, HELO or ""
  std::string vendor_category;  // the reporting MTA's own bounce category (PowerMTA), or ""
  std::string diagnostic_type;  // the DSN Diagnostic-Code's type, lower case ("smtp", "x-unix", ...), or ""
  std::string reason;         // corpus vocabulary (reason.h)
  bool hard_bounce = false;
  std::string feedback_type;  // complaints: abuse, fraud, opt-out, ...
};

struct ReturnReport {
  ReportKind kind = ReportKind::kUnknown;
  std::vector<RecipientReport> recipients;
  std::string format;               // "rfc3464", "arf", "ses-json", "text", "rfc3834"
  std::string original_message_id;  // <...> of the returned message, "" when not found
  std::string original_to;          // To of the returned message
  std::string original_from;
  std::string original_envelope_id; // DSN Original-Envelope-Id
  Fields original_headers;          // the returned message's header (bounded)
  std::string reporting_mta;
  std::string reporter;             // a known reporting gateway ("imail", "mcafee"), "" when not known
  std::string feedback_source;      // complaint: the reporting provider (User-Agent / From domain)
  std::string source_ip;            // complaint: Source-IP
  bool truncated = false;
};

// Parses one message.
ReturnReport ParseReturn(std::string_view bytes, const MimeLimits& limits = {});

// The same, from an already read message.
ReturnReport AnalyzeReturn(const ReturnedMessage& msg);

}  // namespace postino::inbound::returns
