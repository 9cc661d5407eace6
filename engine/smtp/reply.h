// reply.h: one complete SMTP reply (RFC 5321 §4.2), possibly multi-line,
// with its RFC 3463 enhanced status code when the server sent one.
#pragma once

#include <string>
#include <vector>

namespace postino::smtp {

struct Reply {
  int code = 0;                    // 200..599; 0 never appears in a parsed reply
  std::string enhanced;            // "4.7.28" when the final line starts with one, else ""
  std::vector<std::string> lines;  // text of each line, without code, separator and CRLF
  // True when postino made this reply up for a local event (connection lost,
  // timeout, TLS failure, ...) instead of receiving it from the peer.
  bool local = false;

  // The lines joined with a single space: what is stored and shown.
  std::string Text() const;
  // "421 4.7.28 text..." on one line.
  std::string ToString() const;
  bool IsPositive() const { return code >= 200 && code < 400; }
  bool IsTransient() const { return code >= 400 && code < 500; }
  bool IsPermanent() const { return code >= 500 && code < 600; }
};

}  // namespace postino::smtp
