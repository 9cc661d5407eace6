// data_encoder.h: turns RFC 5322 message bytes into the body of the SMTP
// DATA command (RFC 5321 §4.5.2): line ends normalised to CRLF, a "." added
// before every line that starts with ".", and the terminating "\r\n.\r\n".
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "common/status.h"

namespace postino::smtp {

// Longest message line accepted, without its CRLF (RFC 5322 §2.1.1). The
// transparency dot is not counted (RFC 5321 §4.5.3.1.6).
inline constexpr size_t kMaxMessageLine = 998;

// Appends the DATA body for `message` to `*out` in one pass: bare CR, bare LF
// and CRLF all become CRLF; a line starting with "." gets another "."; a
// missing final line end is added; then ".\r\n". An empty message gives just
// ".\r\n". Returns InvalidArgument (and leaves `*out` as it was) when a line
// is longer than kMaxMessageLine octets: that is the caller's bug, and such
// a line must never be sent.
Status DotStuff(std::string_view message, std::string* out);

}  // namespace postino::smtp
