// data_encoder.cc: see data_encoder.h.
#include "engine/smtp/data_encoder.h"

#include <string>

namespace postino::smtp {

Status DotStuff(std::string_view message, std::string* out) {
  const size_t original_size = out->size();
  // Typical mail has ~1 line end to normalise per 70 octets and few dots;
  // reserve a little headroom so the common case never reallocates.
  out->reserve(original_size + message.size() + message.size() / 32 + 8);
  const char* p = message.data();
  const char* const end = p + message.size();
  size_t line_number = 1;
  while (p < end) {
    // At the start of a line.
    if (*p == '.') out->push_back('.');
    const char* line_start = p;
    while (p < end && *p != '\r' && *p != '\n') ++p;
    size_t length = static_cast<size_t>(p - line_start);
    if (length > kMaxMessageLine) {
      out->resize(original_size);
      return Status::InvalidArgument("message line " + std::to_string(line_number) + " is " +
                                     std::to_string(length) + " octets, more than the " +
                                     std::to_string(kMaxMessageLine) + " SMTP allows");
    }
    out->append(line_start, length);
    out->append("\r\n", 2);
    if (p < end) {
      // CRLF, bare CR or bare LF: one line end.
      if (*p == '\r' && p + 1 < end && p[1] == '\n') ++p;
      ++p;
    }
    ++line_number;
  }
  out->append(".\r\n", 3);
  return Status::Ok();
}

}  // namespace postino::smtp
