// mime_reader.h: a returned message (bounce, complaint, auto-reply) read
// with GMime 3 into the few parts a bounce parser needs: the top headers,
// the human-readable text, the RFC 3464 delivery-status fields, the RFC 5965
// feedback-report fields and the headers of the returned original message.
// Bounded: the input is cut at kMaxReadBytes, MIME nesting at kMaxDepth and
// the walk at kMaxParts parts; any input gives a (possibly empty) result.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace postino::inbound::returns {

// "Name: value" fields, names as written, values unfolded; order kept.
using Fields = std::vector<std::pair<std::string, std::string>>;

// The first value of `name` (case-insensitive), or "".
std::string_view FieldValue(const Fields& fields, std::string_view name);

// RFC 822-style field blocks separated by blank lines (a delivery-status
// or feedback-report body, a header block). Continuation lines are joined
// with one space. At most `max_blocks` blocks.
std::vector<Fields> ParseFieldBlocks(std::string_view text, size_t max_blocks = 256);

struct MimeLimits {
  size_t max_bytes = 2 << 20;  // input beyond this is ignored (the report comes first)
  int max_depth = 8;           // nested multiparts / attached messages
  int max_parts = 64;          // parts visited
};

struct ReturnedMessage {
  Fields headers;                  // the top-level header
  std::string content_type;        // "multipart/report" (lower case)
  std::string report_type;         // report-type parameter, lower case
  std::string text;                // decoded text/plain (or stripped HTML) parts, in order
  std::vector<Fields> delivery_status;  // blocks of message/delivery-status parts
  Fields feedback_report;          // message/feedback-report fields (first part)
  bool has_feedback_report = false;
  Fields original_headers;         // header of the returned message (rfc822 / rfc822-headers)
  bool has_original = false;
  bool truncated = false;          // a limit was reached
};

// Parses `bytes` (one message; a leading mbox "From " line is skipped).
ReturnedMessage ReadReturnedMessage(std::string_view bytes, const MimeLimits& limits = {});

}  // namespace postino::inbound::returns
