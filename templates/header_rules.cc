// header_rules.cc: validation of a campaign's extra headers (see header_rules.h).
#include "templates/header_rules.h"

#include <fmt/format.h>

#include "common/strings.h"
#include "common/utf8.h"
#include "templates/mime_encoding.h"

namespace postino::templates {
namespace {

bool IsReservedHeader(std::string_view name) {
  static constexpr std::string_view kReserved[] = {
      "from",         "sender",        "reply-to",         "to",
      "cc",           "bcc",           "subject",          "date",
      "message-id",   "return-path",   "received",         "dkim-signature",
      "mime-version", "list-id",       "precedence",       "feedback-id",
      "resent-from",  "resent-sender", "resent-to",        "resent-cc",
      "resent-bcc",   "resent-date",   "resent-message-id"};
  for (std::string_view r : kReserved) {
    if (EqualsIgnoreCase(name, r)) return true;
  }
  return StartsWithIgnoreCase(name, "content-") || StartsWithIgnoreCase(name, "list-unsubscribe");
}

}  // namespace

Status ValidateExtraHeader(std::string_view name, std::string_view value) {
  if (!IsValidHeaderName(name)) {
    return Status::InvalidArgument(fmt::format(
        "header name \"{}\" is invalid: expected 1 to 76 printable ASCII characters without ':' "
        "or spaces (e.g. \"X-Campaign\")",
        EscapeControl(name)));
  }
  if (IsReservedHeader(name)) {
    return Status::InvalidArgument(fmt::format(
        "header \"{}\" cannot be set: postino writes it itself or it would change who the "
        "message is from or where it goes",
        name));
  }
  for (char ch : value) {
    auto c = static_cast<unsigned char>(ch);
    if ((c < 0x20 && c != '\t') || c == 0x7F) {
      return Status::InvalidArgument(
          fmt::format("header \"{}\": the value holds a control character (CR, LF, NUL...): \"{}\"",
                      name, EscapeControl(value)));
    }
  }
  if (!IsValidUtf8(value)) {
    return Status::InvalidArgument(
        fmt::format("header \"{}\": the value is not valid UTF-8", name));
  }
  if (value.size() > kMaxExtraHeaderValue) {
    return Status::InvalidArgument(fmt::format("header \"{}\": the value is {} octets, at most {}",
                                               name, value.size(), kMaxExtraHeaderValue));
  }
  return Status::Ok();
}

}  // namespace postino::templates
