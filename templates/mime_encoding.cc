// mime_encoding.cc: quoted-printable, RFC 2047 encoded words, header
// folding, address validation with IDNA, RFC 5322 dates.
#include "templates/mime_encoding.h"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <cstring>
#include <ctime>

#include "address/address.h"

namespace postino::templates {
namespace {

constexpr char kHex[] = "0123456789ABCDEF";
constexpr char kBase64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

// 1 for bytes written literally in quoted-printable: '!'..'~' except '='.
constexpr std::array<uint8_t, 256> MakeQpSafe() {
  std::array<uint8_t, 256> t{};
  for (int c = 33; c <= 126; ++c) t[c] = c != '=';
  return t;
}
constexpr std::array<uint8_t, 256> kQpSafe = MakeQpSafe();

bool IsAtext(unsigned char c) {
  if (c >= 'a' && c <= 'z') return true;
  if (c >= 'A' && c <= 'Z') return true;
  if (c >= '0' && c <= '9') return true;
  return std::string_view("!#$%&'*+-/=?^_`{|}~").find(static_cast<char>(c)) !=
         std::string_view::npos;
}

void AppendBase64(std::string_view in, std::string* out) {
  size_t i = 0;
  auto byte = [&](size_t k) { return static_cast<unsigned char>(in[k]); };
  for (; i + 3 <= in.size(); i += 3) {
    uint32_t v = (byte(i) << 16) | (byte(i + 1) << 8) | byte(i + 2);
    out->push_back(kBase64[v >> 18]);
    out->push_back(kBase64[(v >> 12) & 63]);
    out->push_back(kBase64[(v >> 6) & 63]);
    out->push_back(kBase64[v & 63]);
  }
  if (i + 1 == in.size()) {
    uint32_t v = byte(i) << 16;
    out->push_back(kBase64[v >> 18]);
    out->push_back(kBase64[(v >> 12) & 63]);
    out->append("==");
  } else if (i + 2 == in.size()) {
    uint32_t v = (byte(i) << 16) | (byte(i + 1) << 8);
    out->push_back(kBase64[v >> 18]);
    out->push_back(kBase64[(v >> 12) & 63]);
    out->push_back(kBase64[(v >> 6) & 63]);
    out->push_back('=');
  }
}

// Writes `text` as "B" encoded words starting at column *col; each word
// after the first goes on a folded continuation line.
void AppendEncodedWords(std::string_view text, size_t* col, std::string* out) {
  constexpr std::string_view kPrefix = "=?UTF-8?B?";
  constexpr size_t kOverhead = kPrefix.size() + 2;  // prefix + "?="
  constexpr size_t kMaxWordBase64 = 60;             // 12 + 60 = 72 <= 75 chars per encoded word
  size_t pos = 0;
  bool first = true;
  while (pos < text.size()) {
    if (!first) {
      out->append("\r\n ");
      *col = 1;
    }
    size_t room = *col + kOverhead < kFoldColumns ? kFoldColumns - *col - kOverhead : 0;
    size_t b64 = std::min(room, kMaxWordBase64) / 4 * 4;
    size_t raw = b64 / 4 * 3;
    if (raw < 6) {  // not even one wide character fits: start a new line
      out->append("\r\n ");
      *col = 1;
      raw = kMaxWordBase64 / 4 * 3;
    }
    size_t end = pos + raw;
    if (end >= text.size()) {
      end = text.size();
    } else {
      size_t cut = end;
      while (cut > pos && (static_cast<unsigned char>(text[cut]) & 0xC0) == 0x80) --cut;
      if (cut > pos) end = cut;  // else: an invalid run of continuation bytes, cut anyway
    }
    size_t before = out->size();
    out->append(kPrefix);
    AppendBase64(text.substr(pos, end - pos), out);
    out->append("?=");
    *col += out->size() - before;
    pos = end;
    first = false;
  }
}

bool IsPrintableAscii(std::string_view s) {
  for (char ch : s) {
    auto c = static_cast<unsigned char>(ch);
    if (c < 0x20 || c > 0x7E) return false;
  }
  return true;
}

}  // namespace

void AppendQuotedPrintable(std::string_view in, std::string* out) {
  const size_t n = in.size();
  const size_t old = out->size();
  // Worst case: 3 output bytes per input byte, plus a 3-byte soft break per
  // 73 output bytes.
  out->resize(old + 3 * n + (3 * n) / 24 + 16);
  char* w = out->data() + old;
  const char* p = in.data();
  size_t col = 0;
  size_t i = 0;
  while (i < n) {
    // Fast run: bytes written as they are while the line has room for them
    // and a soft break ("=" at column 76). A space or tab qualifies when a
    // byte other than a line break follows it.
    size_t run_end = std::min(n, i + (75 - std::min<size_t>(col, 75)));
    size_t j = i;
    while (j < run_end) {
      auto c = static_cast<unsigned char>(p[j]);
      if (kQpSafe[c]) {
        ++j;
      } else if ((c == ' ' || c == '\t') && j + 1 < n && p[j + 1] != '\r' && p[j + 1] != '\n') {
        ++j;
      } else {
        break;
      }
    }
    std::memcpy(w, p + i, j - i);
    w += j - i;
    col += j - i;
    i = j;
    if (i == n) break;

    auto c = static_cast<unsigned char>(p[i]);
    if (c == '\r' || c == '\n') {
      if (c == '\r' && i + 1 < n && p[i + 1] == '\n') ++i;
      *w++ = '\r';
      *w++ = '\n';
      col = 0;
      ++i;
      continue;
    }
    bool last_on_line = i + 1 == n || p[i + 1] == '\r' || p[i + 1] == '\n';
    bool literal = kQpSafe[c] || ((c == ' ' || c == '\t') && !last_on_line);
    size_t len = literal ? 1 : 3;
    if (col + len > (last_on_line ? 76u : 75u)) {
      *w++ = '=';
      *w++ = '\r';
      *w++ = '\n';
      col = 0;
    }
    if (literal) {
      *w++ = static_cast<char>(c);
    } else {
      *w++ = '=';
      *w++ = kHex[c >> 4];
      *w++ = kHex[c & 15];
    }
    col += len;
    ++i;
  }
  out->resize(static_cast<size_t>(w - out->data()));
}

uint32_t NeutralizeHeaderText(std::string* text) {
  uint32_t changed = 0;
  size_t w = 0;
  for (size_t r = 0; r < text->size(); ++r) {
    auto c = static_cast<unsigned char>((*text)[r]);
    if (c == 0) {
      ++changed;
      continue;
    }
    if ((c < 0x20 && c != '\t') || c == 0x7F) {
      ++changed;
      c = ' ';
    }
    (*text)[w++] = static_cast<char>(c);
  }
  text->resize(w);
  return changed;
}

void AppendUnstructuredHeader(std::string_view name, std::string_view value, std::string* out) {
  out->append(name);
  out->append(": ");
  size_t start_col = name.size() + 2;
  size_t col = start_col;
  bool plain = true;
  for (char c : value) {
    if (c == '\t') continue;
    auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u > 0x7E) plain = false;
  }
  if (value.find("=?") != std::string_view::npos) plain = false;
  // Plain text is folded before a run of white space (RFC 5322 §2.2.3). Each
  // segment (white space + word) must fit on a line of its own and no line
  // may be white space only; otherwise (a word longer than a line, a long
  // run of spaces) the whole value is written as encoded words, which fold
  // anywhere, so no line ever exceeds kFoldColumns (+ the name's length).
  if (plain) {
    size_t mark = out->size();
    size_t i = 0;
    while (plain && i < value.size()) {
      size_t seg_start = i;
      while (i < value.size() && (value[i] == ' ' || value[i] == '\t')) ++i;
      bool blank_only = i == value.size();
      while (i < value.size() && value[i] != ' ' && value[i] != '\t') ++i;
      std::string_view seg = value.substr(seg_start, i - seg_start);
      if (col + seg.size() > kFoldColumns) {
        bool can_fold = col > start_col && (seg[0] == ' ' || seg[0] == '\t');
        if (!can_fold || seg.size() > kFoldColumns || blank_only) {
          plain = false;
          break;
        }
        out->append("\r\n");
        col = 0;
      }
      out->append(seg);
      col += seg.size();
    }
    if (plain) {
      out->append("\r\n");
      return;
    }
    out->resize(mark);
    col = start_col;
  }
  AppendEncodedWords(value, &col, out);
  out->append("\r\n");
}

void AppendMailboxHeader(std::string_view name, std::string_view display, std::string_view address,
                         std::string* out) {
  out->append(name);
  out->append(": ");
  size_t col = name.size() + 2;
  if (!display.empty()) {
    size_t quoted = display.size() + 2;
    for (char c : display) quoted += (c == '"' || c == '\\');
    bool ascii = IsPrintableAscii(display) && display.find("=?") == std::string_view::npos &&
                 col + quoted <= kFoldColumns;
    bool atoms = ascii;
    for (char c : display) atoms &= c == ' ' || IsAtext(static_cast<unsigned char>(c));
    atoms &= display.front() != ' ' && display.back() != ' ';
    if (atoms) {
      out->append(display);
      col += display.size();
    } else if (ascii) {
      out->push_back('"');
      for (char c : display) {
        if (c == '"' || c == '\\') out->push_back('\\');
        out->push_back(c);
      }
      out->push_back('"');
      col += quoted;
    } else {
      AppendEncodedWords(display, &col, out);
    }
    if (col + address.size() + 3 > kFoldColumns) {
      out->append("\r\n ");
      col = 1;
    } else {
      out->push_back(' ');
      ++col;
    }
    out->push_back('<');
    out->append(address);
    out->push_back('>');
  } else {
    out->append(address);
  }
  out->append("\r\n");
}

Result<std::string> NormalizeDomain(std::string_view domain) {
  if (domain.empty()) return Status::InvalidArgument("empty domain");
  std::string ascii;
  bool is_ascii = true;
  for (char c : domain) is_ascii &= static_cast<unsigned char>(c) < 0x80;
  if (is_ascii) {
    ascii = std::string(domain);
  } else {
    Result<std::string> converted = address::DomainToAscii(domain);  // the one IDNA home
    if (!converted.ok()) {
      return Status::InvalidArgument(
          fmt::format("domain \"{}\" is not a valid internationalized domain name: {}", domain,
                      converted.status().message()));
    }
    ascii = std::move(converted).value();
  }
  if (ascii.size() > 253) {
    return Status::InvalidArgument(fmt::format("domain \"{}\" is longer than 253 octets", domain));
  }
  if (ascii.front() == '[') {
    if (ascii.back() != ']' || ascii.size() < 3 ||
        ascii.find_first_not_of("0123456789abcdefABCDEF:.IPv", 1) != ascii.size() - 1) {
      return Status::InvalidArgument(fmt::format("bad address literal \"{}\"", domain));
    }
    return ascii;
  }
  size_t start = 0;
  while (true) {
    size_t dot = ascii.find('.', start);
    std::string_view label =
        std::string_view(ascii).substr(start, dot == std::string::npos ? dot : dot - start);
    bool ok = !label.empty() && label.size() <= 63 && label.front() != '-' && label.back() != '-';
    for (char c : label) {
      ok &= (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-';
    }
    if (!ok) {
      return Status::InvalidArgument(
          fmt::format("domain \"{}\" has an invalid label \"{}\"", domain, label));
    }
    if (dot == std::string::npos) break;
    start = dot + 1;
  }
  return ascii;
}

Result<std::string> NormalizeAddress(std::string_view address) {
  size_t at = address.rfind('@');
  if (at == std::string_view::npos || at == 0 || at + 1 == address.size()) {
    return Status::InvalidArgument(fmt::format("address \"{}\" is not local@domain", address));
  }
  std::string_view local = address.substr(0, at);
  if (local.size() > 64) {
    return Status::InvalidArgument(
        fmt::format("address \"{}\": local part longer than 64 octets", address));
  }
  bool dot_ok =
      local.front() != '.' && local.back() != '.' && local.find("..") == std::string_view::npos;
  for (char ch : local) {
    auto c = static_cast<unsigned char>(ch);
    if (c >= 0x80) {
      return Status::InvalidArgument(fmt::format(
          "address \"{}\": a non-ASCII local part needs SMTPUTF8, which postino does not send",
          address));
    }
    if (!IsAtext(c) && c != '.') dot_ok = false;
  }
  if (!dot_ok) {
    return Status::InvalidArgument(fmt::format(
        "address \"{}\": local part must be dot-atom text (no spaces, quotes, controls, "
        "\"..\")",
        address));
  }
  auto domain = NormalizeDomain(address.substr(at + 1));
  if (!domain.ok()) {
    return Status::InvalidArgument(
        fmt::format("address \"{}\": {}", address, domain.status().message()));
  }
  std::string result(local);
  result.push_back('@');
  result.append(*domain);
  return result;
}

bool IsValidHeaderName(std::string_view name) {
  if (name.empty() || name.size() > 76) return false;
  for (char ch : name) {
    auto c = static_cast<unsigned char>(ch);
    if (c < 33 || c > 126 || c == ':') return false;
  }
  return true;
}

void AppendRfc5322Date(WallTime when, std::string* out) {
  static constexpr const char* kDays[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
  static constexpr const char* kMonths[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                            "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  std::time_t t = std::chrono::system_clock::to_time_t(when);
  std::tm tm{};
  gmtime_r(&t, &tm);
  fmt::format_to(std::back_inserter(*out), "{}, {:02} {} {} {:02}:{:02}:{:02} +0000",
                 kDays[tm.tm_wday], tm.tm_mday, kMonths[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour,
                 tm.tm_min, tm.tm_sec);
}

std::string Base64Encode(std::string_view bytes) {
  std::string out;
  out.reserve((bytes.size() + 2) / 3 * 4);
  AppendBase64(bytes, &out);
  return out;
}

}  // namespace postino::templates
