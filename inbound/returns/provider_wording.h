// provider_wording.h: what one reporting system or one receiving provider
// means by its own words and codes, where the general reading of a reply
// (reason.cc) would misjudge it:
//  - verdicts a reporting gateway writes after its own directory lookup
//    ("not listed in Domino Directory"): the recipient does not exist,
//    whatever SMTP phase the message had reached;
//  - a vendor's bounce category field (PowerMTA's X-PowerMTA-BounceCategory);
//  - providers that encode the cause in a reply convention: au/KDDI
//    (ezweb.ne.jp, au.com) answers "550 : User unknown" when the recipient's
//    own filter refuses the sender and "<addr>: User unknown" when the
//    mailbox does not exist; Orange and La Poste end every refusal with a
//    numbered code (OFR_416, LPN007_416) whose last three digits name it;
//    NTT docomo answers "550 Unknown user" both for a missing mailbox (at
//    RCPT TO, or with 5.1.1) and, after DATA, for a recipient whose
//    settings refuse the sender; Microsoft's X.4.312 / X.4.316 details
//    (DNS query failed; connection refused until the message expired).
// See docs/returns.md, "Reasons and hard bounces".
#pragma once

#include <string_view>

#include "inbound/returns/mime_reader.h"

namespace postino::inbound::returns {

// True when `diagnostic` is a reporting system's own statement that the
// recipient is unknown to it (not a quoted remote reply of unknown phase).
bool ReporterSaysNoSuchRecipient(std::string_view diagnostic);

// A reporting gateway that checks recipients against its own directory
// and says so in its reports (IPSWITCH IMail: X-Mailer "<SMTP32 v...>" or
// "<IMail v...>"; McAfee Email Gateway: X-NAI-Header "Modified by
// McAfee"; Hotmail/Outlook.com: From postmaster@hotmail.com), from the
// report's header; "" when not one of them. Their "unknown user" is that
// directory's verdict, whatever the SMTP phase.
std::string_view DirectoryCheckingReporter(const Fields& report_headers);

// The reason a vendor bounce category names ("bad-mailbox" ->
// "userunknown"), or "" when unknown.
std::string_view ReasonFromVendorCategory(std::string_view category);

// The reason the receiving provider's own convention gives, found by the
// remote MTA's host name, else the recipient's domain (Microsoft's
// three-digit status details by the code alone); "" when the provider has
// no such convention or the reply does not use it. May return "undefined"
// when the provider's code says nothing about the cause. `status` is the
// enhanced code, `command` the SMTP command the reply answered ("" when
// not known).
std::string_view ReasonFromProviderConvention(std::string_view remote_mta,
                                              std::string_view recipient,
                                              std::string_view diagnostic, std::string_view status,
                                              std::string_view command);

}  // namespace postino::inbound::returns
