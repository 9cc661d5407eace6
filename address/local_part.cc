// local_part.cc: the "can postino send to it today" checks of local_part.h.
#include "address/local_part.h"

#include <fmt/format.h>

#include <cstdint>

#include "common/utf8.h"

namespace postino::address {
namespace {

// Unicode default-ignorable code points and format controls: they show as
// nothing at all.
bool IsInvisible(int32_t cp) {
  return cp == 0xAD || cp == 0x34F || cp == 0x61C || cp == 0x115F || cp == 0x1160 ||
         cp == 0x17B4 || cp == 0x17B5 || (cp >= 0x180B && cp <= 0x180F) ||
         (cp >= 0x200B && cp <= 0x200F) || (cp >= 0x202A && cp <= 0x202E) ||
         (cp >= 0x2060 && cp <= 0x206F) || cp == 0x3164 || (cp >= 0xFE00 && cp <= 0xFE0F) ||
         cp == 0xFEFF || cp == 0xFFA0 || (cp >= 0xFFF0 && cp <= 0xFFF8) ||
         (cp >= 0x1BCA0 && cp <= 0x1BCA3) || (cp >= 0x1D173 && cp <= 0x1D17A) ||
         (cp >= 0xE0000 && cp <= 0xE0FFF);
}

// Spaces other than U+0020 that look like one (or like nothing).
bool IsUnusualSpace(int32_t cp) {
  return cp == 0xA0 || cp == 0x1680 || (cp >= 0x2000 && cp <= 0x200A) || cp == 0x2028 ||
         cp == 0x2029 || cp == 0x202F || cp == 0x205F || cp == 0x3000;
}

}  // namespace

Status CheckNoInvisible(std::string_view text) {
  size_t i = 0;
  while (i < text.size()) {
    int32_t cp = DecodeUtf8(text, &i);
    if (cp < 0x80) continue;
    if (IsInvisible(cp)) {
      return Status::InvalidArgument(
          fmt::format("invisible character U+{:04X} in the address", cp));
    }
    if (IsUnusualSpace(cp)) {
      return Status::InvalidArgument(
          fmt::format("unusual space character U+{:04X} in the address", cp));
    }
  }
  return Status::Ok();
}

Status CheckSendable(const MailAddress& address) {
  if (Status s = CheckNoInvisible(address.local); !s.ok()) return s;
  if (Status s = CheckNoInvisible(address.domain); !s.ok()) return s;
  if (!address.local.empty() && address.local.front() == '"') {
    return Status::InvalidArgument("quoted local parts are not supported");
  }
  if (address.utf8_local) {
    return Status::InvalidArgument(
        "non-ASCII local part needs SMTPUTF8, which postino does not send yet");
  }
  return Status::Ok();
}

}  // namespace postino::address
