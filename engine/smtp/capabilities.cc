// capabilities.cc: see capabilities.h.
#include "engine/smtp/capabilities.h"

#include <charconv>
#include <string_view>

namespace postino::smtp {
namespace {

bool EqualsNoCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    char x = a[i];
    char y = b[i];
    if (x >= 'a' && x <= 'z') x = static_cast<char>(x - 'a' + 'A');
    if (y >= 'a' && y <= 'z') y = static_cast<char>(y - 'a' + 'A');
    if (x != y) return false;
  }
  return true;
}

// Splits off the next space- or tab-separated word of `*rest`.
std::string_view NextWord(std::string_view* rest) {
  size_t i = 0;
  while (i < rest->size() && ((*rest)[i] == ' ' || (*rest)[i] == '\t')) ++i;
  size_t start = i;
  while (i < rest->size() && (*rest)[i] != ' ' && (*rest)[i] != '\t') ++i;
  std::string_view word = rest->substr(start, i - start);
  rest->remove_prefix(i);
  return word;
}

void ReadAuthMechanisms(std::string_view rest, Capabilities* caps) {
  for (std::string_view mech = NextWord(&rest); !mech.empty(); mech = NextWord(&rest)) {
    if (EqualsNoCase(mech, "PLAIN")) caps->auth_plain = true;
    if (EqualsNoCase(mech, "LOGIN")) caps->auth_login = true;
  }
}

}  // namespace

Capabilities ParseCapabilities(const Reply& ehlo_reply) {
  Capabilities caps;
  caps.esmtp = true;
  for (size_t i = 1; i < ehlo_reply.lines.size(); ++i) {
    std::string_view rest = ehlo_reply.lines[i];
    std::string_view keyword = NextWord(&rest);
    if (keyword.empty()) continue;
    // Old form "AUTH=PLAIN LOGIN" (pre-RFC 4954 servers).
    if (keyword.size() > 5 && EqualsNoCase(keyword.substr(0, 5), "AUTH=")) {
      ReadAuthMechanisms(keyword.substr(5), &caps);
      ReadAuthMechanisms(rest, &caps);
      continue;
    }
    if (EqualsNoCase(keyword, "PIPELINING")) {
      caps.pipelining = true;
    } else if (EqualsNoCase(keyword, "STARTTLS")) {
      caps.starttls = true;
    } else if (EqualsNoCase(keyword, "8BITMIME")) {
      caps.eightbitmime = true;
    } else if (EqualsNoCase(keyword, "SMTPUTF8")) {
      caps.smtputf8 = true;
    } else if (EqualsNoCase(keyword, "ENHANCEDSTATUSCODES")) {
      caps.enhancedstatuscodes = true;
    } else if (EqualsNoCase(keyword, "AUTH")) {
      ReadAuthMechanisms(rest, &caps);
    } else if (EqualsNoCase(keyword, "SIZE")) {
      caps.size_announced = true;
      std::string_view value = NextWord(&rest);
      uint64_t size = 0;
      auto [ptr, ec] = std::from_chars(value.data(), value.data() + value.size(), size);
      if (ec == std::errc() && ptr == value.data() + value.size()) caps.size = size;
    }
  }
  return caps;
}

}  // namespace postino::smtp
