// dsn.h: delivery status notifications (RFC 3464) as postino sends them to
// the envelope sender of a submitted message: a multipart/report (RFC 6522)
// with a human-readable text/plain part, a message/delivery-status part and
// the original message's header (text/rfc822-headers, RET=HDRS, the default)
// or the whole message (message/rfc822, RET=FULL, up to a size cap). Pure:
// no I/O, no clock; the caller (scheduler/) decides when one is owed.
// docs/dsn.md describes the rules.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <vector>

#include "common/clock.h"
#include "common/status.h"

namespace postino::templates {

// One recipient of the report (RFC 3464 §2.3).
struct DsnRecipientReport {
  std::string final_recipient;     // the address the delivery was made to
  std::string original_recipient;  // RFC 3461 ORCPT "type;address" (decoded) or ""
  std::string action;              // failed, delayed, delivered, relayed
  // RFC 3463 status "5.1.1"; "" = derived from smtp_code/action.
  std::string status;
  int smtp_code = 0;               // last SMTP reply code, 0 = none
  std::string reply;               // last reply text (no code), "" = none
  std::string remote_mta;          // host name of the server that replied, "" = none
  std::optional<WallTime> last_attempt;
  std::optional<WallTime> will_retry_until;  // delayed only
  bool expired = false;            // failed because it stayed queued too long
};

struct DsnSpec {
  std::string reporting_mta;  // this host's name (Reporting-MTA: dns; NAME)
  std::string from;           // From: address of the report, e.g. MAILER-DAEMON@host
  std::string to;             // the original envelope sender
  std::string envid;          // RFC 3461 ENVID (decoded), "" = none
  WallTime arrival_date{};    // when the original message was accepted
  WallTime now{};             // Date: of the report
  bool return_full = false;   // RET=FULL
  size_t full_limit = 1 << 20;  // RET=FULL above this many bytes returns the header only
  std::string original;       // the original message (CRLF)
  std::string subject;        // original Subject, shown in the text part ("" = none)
  std::string message_id_domain;  // right-hand side of the report's Message-ID
  std::string unique;         // makes the Message-ID and boundary unique (e.g. ids)
  std::vector<DsnRecipientReport> recipients;  // at least one, all the same action
};

struct BuiltDsn {
  std::string bytes;       // CRLF lines, not dot-stuffed
  std::string message_id;  // without <>
};

// Builds the report. InvalidArgument when there is no recipient, no
// sender to report to, or actions differ.
Result<BuiltDsn> BuildDsn(const DsnSpec& spec);

// The RFC 3463 status of a recipient: 2.0.0 for delivered and relayed,
// 4.4.7 for an expiry, else its `status` when valid, else the enhanced code
// at the start of `reply`, else from the SMTP code class and the action
// (failed without a reply: 5.0.0; delayed: 4.0.0).
std::string DsnStatus(const DsnRecipientReport& r);

// The header of a message (up to and excluding the empty line), CRLF lines.
std::string MessageHeader(const std::string& message);

// The unfolded value of the first header field `name` (case-insensitive), or "".
std::string HeaderValue(const std::string& message, const std::string& name);

}  // namespace postino::templates
