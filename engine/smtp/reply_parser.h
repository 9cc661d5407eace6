// reply_parser.h: incremental parser of SMTP replies (RFC 5321 §4.2) from
// the bytes a server sends, split at any point. Joins multi-line replies,
// checks that every line carries the same code, extracts the RFC 3463
// enhanced status code from the final line, and bounds memory: a line longer
// than the limit or a malformed line is a kProtocol error, after which the
// parser refuses further input.
#pragma once

#include <cstddef>
#include <deque>
#include <optional>
#include <string>
#include <string_view>

#include "common/status.h"
#include "engine/smtp/reply.h"

namespace postino::smtp {

struct ReplyParserLimits {
  size_t max_line = 4096;  // octets per line, without CRLF
  size_t max_lines = 512;  // lines in one multi-line reply
  // RFC 5321 wants one code on every line of a reply; some servers break
  // that (La Poste: "220-laposte" then "421 4.2.1 ..."). false: a protocol
  // error (the session's choice, like OpenSMTPD). true: the final line's
  // code wins (like Postfix), for tools that read logged replies.
  bool allow_code_change = false;
};

class ReplyParser {
 public:
  ReplyParser() = default;
  explicit ReplyParser(ReplyParserLimits limits) : limits_(limits) {}

  // Consumes `bytes`. Complete replies become available through Next().
  // Returns the (sticky) error once the peer sent something malformed; the
  // replies completed before the error stay available.
  Status Feed(std::string_view bytes);

  // The next complete reply, in arrival order, or nullopt.
  std::optional<Reply> Next();
  bool HasReply() const { return !ready_.empty(); }

  // True when no byte of an unfinished line or reply is buffered.
  bool Idle() const { return line_.empty() && !in_reply_; }

  const Status& status() const { return status_; }

  // Forgets everything buffered (used after STARTTLS, where earlier
  // plaintext must not leak into the TLS session), but not a sticky error.
  void Clear();

 private:
  Status ParseLine(std::string_view line);

  ReplyParserLimits limits_;
  std::string line_;       // the unfinished line, without its line end
  bool in_reply_ = false;  // continuation lines ("250-") seen
  Reply current_;
  std::deque<Reply> ready_;
  Status status_;
};

// Length of the RFC 3463 code ("4.7.28") at the start of `text`, followed by
// a space or the end of text, whose class digit is `klass`; 0 when none.
size_t EnhancedCodeLength(std::string_view text, char klass);

}  // namespace postino::smtp
