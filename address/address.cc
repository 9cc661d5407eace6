// address.cc: RFC 5321 address syntax checks and IDNA conversion.
#include "address/address.h"

#include <idn2.h>

#include <cctype>
#include <cstdlib>

#include "common/strings.h"
#include "common/utf8.h"

namespace postino::address {
namespace {

constexpr size_t kMaxLocal = 64;      // RFC 5321 §4.5.3.1.1
constexpr size_t kMaxDomain = 253;    // §4.5.3.1.2, without the trailing dot
constexpr size_t kMaxLabel = 63;

bool IsAtext(unsigned char c) {
  if (std::isalnum(c)) return true;
  switch (c) {
    case '!': case '#': case '$': case '%': case '&': case '\'': case '*': case '+':
    case '-': case '/': case '=': case '?': case '^': case '_': case '`': case '{':
    case '|': case '}': case '~':
      return true;
    default:
      return c >= 0x80;  // UTF-8 (RFC 6531); validated separately
  }
}

bool ValidUtf8(std::string_view s) { return IsValidUtf8(s); }

Status CheckLocal(std::string_view local, bool* utf8) {
  if (local.empty()) return Status::InvalidArgument("empty local part before '@'");
  if (local.size() > kMaxLocal) {
    return Status::InvalidArgument("local part longer than 64 octets");
  }
  *utf8 = false;
  if (local.front() == '"') {
    // Quoted-string: printable ASCII except \ and " unless escaped.
    if (local.size() < 2 || local.back() != '"') {
      return Status::InvalidArgument("unterminated quoted local part");
    }
    for (size_t i = 1; i + 1 < local.size(); ++i) {
      unsigned char c = static_cast<unsigned char>(local[i]);
      if (c == '\\') {
        if (i + 2 >= local.size()) return Status::InvalidArgument("dangling '\\' in local part");
        // RFC 5321 quoted-pairSMTP: a backslash escapes only %d32-126.
        unsigned char escaped = static_cast<unsigned char>(local[i + 1]);
        if (escaped < 32 || escaped > 126) {
          return Status::InvalidArgument("control character in local part");
        }
        ++i;
        continue;
      }
      if (c == '"') return Status::InvalidArgument("unescaped '\"' inside quoted local part");
      if (c < 0x20 || c == 0x7f) return Status::InvalidArgument("control character in local part");
      if (c >= 0x80) *utf8 = true;
    }
  } else {
    if (local.front() == '.' || local.back() == '.') {
      return Status::InvalidArgument("local part starts or ends with '.'");
    }
    for (size_t i = 0; i < local.size(); ++i) {
      unsigned char c = static_cast<unsigned char>(local[i]);
      if (c == '.') {
        if (local[i - 1] == '.') return Status::InvalidArgument("'..' in local part");
        continue;
      }
      if (!IsAtext(c)) {
        if (c < 0x20 || c == 0x7f) {
          return Status::InvalidArgument("control character in local part");
        }
        return Status::InvalidArgument(
            std::string("character '") + static_cast<char>(c) + "' not allowed in local part");
      }
      if (c >= 0x80) *utf8 = true;
    }
  }
  if (*utf8 && !ValidUtf8(local)) return Status::InvalidArgument("local part is not valid UTF-8");
  return Status::Ok();
}

}  // namespace

Result<std::string> DomainToAscii(std::string_view domain) {
  if (domain.empty()) return Status::InvalidArgument("empty domain");
  if (domain.back() == '.') domain.remove_suffix(1);
  std::string input(domain);
  bool ascii = true;
  for (unsigned char c : input) {
    if (c >= 0x80) ascii = false;
    if (c < 0x20 || c == 0x7f) return Status::InvalidArgument("control character in domain");
  }
  std::string out;
  if (ascii) {
    out = AsciiLower(input);
  } else {
    if (!ValidUtf8(input)) return Status::InvalidArgument("domain is not valid UTF-8");
    char* converted = nullptr;
    // IDNA2008, non-transitional only: a transitional fallback could map the
    // name to a different domain (ZWJ dropped, ß -> ss).
    int rc = idn2_to_ascii_8z(input.c_str(), &converted, IDN2_NFC_INPUT | IDN2_NONTRANSITIONAL);
    if (rc != IDN2_OK) {
      return Status::InvalidArgument(std::string("internationalized domain rejected by IDNA: ") +
                                     idn2_strerror(rc));
    }
    out = converted;
    idn2_free(converted);
    out = AsciiLower(out);
  }
  if (out.size() > kMaxDomain) return Status::InvalidArgument("domain longer than 253 octets");
  size_t start = 0;
  int labels = 0;
  while (start <= out.size()) {
    size_t dot = out.find('.', start);
    if (dot == std::string::npos) dot = out.size();
    std::string_view label(out.data() + start, dot - start);
    if (label.empty()) return Status::InvalidArgument("empty label in domain (\"..\" or leading '.')");
    if (label.size() > kMaxLabel) return Status::InvalidArgument("domain label longer than 63 octets");
    if (label.front() == '-' || label.back() == '-') {
      return Status::InvalidArgument("domain label starts or ends with '-'");
    }
    for (char c : label) {
      if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-') {
        return Status::InvalidArgument(std::string("character '") + c + "' not allowed in domain");
      }
    }
    ++labels;
    start = dot + 1;
    if (dot == out.size()) break;
  }
  if (labels < 2) return Status::InvalidArgument("domain has no dot (\"" + out + "\")");
  return out;
}

Result<MailAddress> ParseAddress(std::string_view input) {
  std::string_view s = TrimBlanks(input);
  if (s.empty()) return Status::InvalidArgument("empty address");
  if (s.size() > 320) return Status::InvalidArgument("address longer than 320 octets");
  size_t at = s.rfind('@');
  if (at == std::string_view::npos) return Status::InvalidArgument("missing '@'");
  std::string_view local = s.substr(0, at);
  std::string_view domain = s.substr(at + 1);
  if (domain.empty()) return Status::InvalidArgument("empty domain after '@'");
  if (domain.front() == '[') {
    return Status::InvalidArgument("address literals ([ip]) are not accepted");
  }
  MailAddress out;
  Status st = CheckLocal(local, &out.utf8_local);
  if (!st.ok()) return st;
  Result<std::string> ascii = DomainToAscii(domain);
  if (!ascii.ok()) return ascii.status();
  out.local = std::string(local);
  out.domain = std::move(ascii).value();
  return out;
}

Result<NameAddr> ParseNameAddr(std::string_view input) {
  std::string_view s = TrimBlanks(input);
  NameAddr out;
  size_t lt = s.rfind('<');
  if (lt == std::string_view::npos) {
    Result<MailAddress> a = ParseAddress(s);
    if (!a.ok()) return a.status();
    out.address = std::move(a).value();
    return out;
  }
  if (s.back() != '>') return Status::InvalidArgument("'<' without a closing '>' at the end");
  Result<MailAddress> a = ParseAddress(s.substr(lt + 1, s.size() - lt - 2));
  if (!a.ok()) return a.status();
  out.address = std::move(a).value();
  std::string_view name = TrimBlanks(s.substr(0, lt));
  if (name.size() >= 2 && name.front() == '"' && name.back() == '"') {
    name = name.substr(1, name.size() - 2);
    std::string unquoted;
    for (size_t i = 0; i < name.size(); ++i) {
      if (name[i] == '\\' && i + 1 < name.size()) ++i;
      unquoted += name[i];
    }
    out.display_name = std::move(unquoted);
  } else {
    out.display_name = std::string(name);
  }
  for (unsigned char c : out.display_name) {
    if (c < 0x20 || c == 0x7f) return Status::InvalidArgument("control character in display name");
  }
  if (!ValidUtf8(out.display_name)) return Status::InvalidArgument("display name is not valid UTF-8");
  return out;
}

}  // namespace postino::address
