// reply_context.h: what a recipient's reply says besides its words: the
// SMTP command it answered (where the session failed) and the enhanced and
// basic codes that are the receiving server's own rather than a relaying
// MTA's summary. Used by report.cc for every recipient; see
// docs/returns.md, "Reasons and hard bounces".
#pragma once

#include <string>
#include <string_view>

namespace postino::inbound::returns {

// Sets `status` (in: the DSN Status field or "") to the enhanced code that
// says the most of the field and the reply text, and `reply_code` (in: 0
// unless a field gave one) to the reply's basic code of that class.
void ResolveCodes(std::string_view diagnostic, std::string& status, int& reply_code);

// The SMTP command a recipient's reply answered: "DATA", "MAIL", "RCPT",
// "CONN" or "HELO", from the report's wording (`diagnostic`, else the text
// of `region` after the recipient's `address`), a command the reply names
// in capitals, or a Sendmail transcript; "" when not said.
std::string SmtpCommandFor(std::string_view region, std::string_view address,
                           std::string_view diagnostic);

// The SMTP command a text names in capitals as a word of its own ("did not
// like our RCPT TO:"); of several, the latest in a session's order; "".
std::string CommandNamedIn(std::string_view text);

}  // namespace postino::inbound::returns
