// reason.h: what a bounce says went wrong, in the vocabulary of the bounce
// corpus (sisimai's reasons: userunknown, mailboxfull, hostunknown, expired,
// blocked, ...), decided by general rules: the meaning of the reply text
// (which party it blames), then the RFC 3463 enhanced status code, then the
// basic SMTP code. See docs/returns.md for the list and the rules.
#pragma once

#include <string>
#include <string_view>

namespace postino::inbound::returns {

struct ReasonInput {
  std::string_view status;      // enhanced code "5.1.1" ("" when none)
  int reply_code = 0;           // basic SMTP code (0 when none)
  std::string_view diagnostic;  // the reply / diagnostic text for this recipient
  std::string_view context;     // wider text of the report (used when the diagnostic says nothing)
  std::string_view action;      // DSN Action ("failed", "delayed", ...), lower case, "" when none
  std::string_view command;     // SMTP command the reply answered ("DATA", "MAIL", ...), or ""
  bool structured = false;      // from an RFC 3464 DSN (the Action field is the MTA's own)
  std::string_view remote_mta;  // the receiving server's host name (DSN Remote-MTA), or ""
  std::string_view recipient;   // the failed address, or ""
  std::string_view category;    // a vendor's bounce category (X-PowerMTA-BounceCategory), or ""
  std::string_view diagnostic_type;  // DSN Diagnostic-Code type, lower case ("smtp", "x-unix", "x-postfix"), or ""
  bool reporter_checks_directory = false;  // the report comes from a gateway that checks its own directory
};

// The reason word ("userunknown", ...); "undefined" when nothing decides.
std::string ClassifyReason(const ReasonInput& in);

// The reason a text alone implies, or "" when no rule matches.
std::string_view ReasonFromText(std::string_view text);

// The reason an enhanced status code alone implies, or "" when it is
// ambiguous (x.0.0, x.7.1, ...).
std::string_view ReasonFromStatus(std::string_view status);

// The hard-bounce flag: userunknown, hostunknown, hasmoved always;
// notaccept unless the code is temporary (4xx / 4.x.x).
bool IsHardBounce(std::string_view reason, std::string_view status, int reply_code);

// A reason that is not a failure at all (success DSN, auto-reply) or a
// complaint: never a bounce.
bool IsNonBounceReason(std::string_view reason);

}  // namespace postino::inbound::returns
