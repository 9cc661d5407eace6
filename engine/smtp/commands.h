// commands.h: encoding of the client's SMTP commands (RFC 5321 §4.1) and
// the checks that keep untrusted strings from breaking a command line.
#pragma once

#include <string>
#include <string_view>

namespace postino::smtp {

// True when `address` can go between "<" and ">" of MAIL FROM / RCPT TO:
// no CR, LF, "<", ">", other control characters or DEL, at most 900 octets
// (so the command line stays far below 998). Empty is allowed only when
// `allow_empty` (the null reverse-path).
bool IsSafePathAddress(std::string_view address, bool allow_empty);

// True when `name` is a non-empty EHLO/HELO argument without spaces or
// control characters, at most 255 octets.
bool IsSafeHeloName(std::string_view name);

// RFC 4648 base64, no line breaks.
std::string Base64Encode(std::string_view data);

// Commands, each ending with CRLF.
std::string EhloCommand(std::string_view helo_name);
std::string HeloCommand(std::string_view helo_name);
std::string MailCommand(std::string_view from, bool smtputf8, bool eightbit, bool with_size,
                        size_t size);
std::string RcptCommand(std::string_view to);
std::string AuthPlainCommand(std::string_view user, std::string_view password);

}  // namespace postino::smtp
