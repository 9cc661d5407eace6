// text_util.cc: see text_util.h.
#include "inbound/returns/text_util.h"

#include <iconv.h>

#include <algorithm>
#include <cctype>

namespace postino::inbound::returns {
namespace {

inline char Lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c + 32) : c; }
inline bool IsDigit(char c) { return c >= '0' && c <= '9'; }

bool IsLocalChar(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) || std::string_view("!#$%&'*+-/=?^_`{|}~.").find(c) != std::string_view::npos;
}
bool IsDomainChar(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '.' || c == '_';
}

}  // namespace

size_t FindIgnoreCase(std::string_view h, std::string_view n, size_t from) {
  if (n.empty()) return from <= h.size() ? from : std::string_view::npos;
  if (h.size() < n.size()) return std::string_view::npos;
  char first = Lower(n[0]);
  char first_upper = (first >= 'a' && first <= 'z') ? static_cast<char>(first - 32) : first;
  for (size_t i = from; i + n.size() <= h.size(); ++i) {
    if (h[i] != first && h[i] != first_upper) continue;
    size_t j = 1;
    while (j < n.size() && Lower(h[i + j]) == Lower(n[j])) ++j;
    if (j == n.size()) return i;
  }
  return std::string_view::npos;
}

bool ContainsIgnoreCase(std::string_view h, std::string_view n) {
  return FindIgnoreCase(h, n) != std::string_view::npos;
}

std::string UnfoldValue(std::string_view raw) {
  std::string out;
  out.reserve(raw.size());
  bool space = false;
  for (char c : raw) {
    if (c == '\r' || c == '\n' || c == ' ' || c == '\t') {
      space = !out.empty();
      continue;
    }
    if (space) out += ' ';
    space = false;
    out += c;
  }
  return out;
}

std::string StripHtml(std::string_view html) {
  std::string out;
  out.reserve(html.size());
  size_t i = 0;
  while (i < html.size()) {
    char c = html[i];
    if (c == '<') {
      size_t end = html.find('>', i);
      if (end == std::string_view::npos) break;
      std::string_view tag = html.substr(i + 1, end - i - 1);
      if (StartsWithIgnoreCase(tag, "br") || StartsWithIgnoreCase(tag, "p") ||
          StartsWithIgnoreCase(tag, "/p") || StartsWithIgnoreCase(tag, "div") ||
          StartsWithIgnoreCase(tag, "/div") || StartsWithIgnoreCase(tag, "tr") ||
          StartsWithIgnoreCase(tag, "/tr") || StartsWithIgnoreCase(tag, "li"))
        out += '\n';
      else if (StartsWithIgnoreCase(tag, "td") || StartsWithIgnoreCase(tag, "/td"))
        out += ' ';
      i = end + 1;
      continue;
    }
    if (c == '&') {
      static constexpr std::pair<std::string_view, char> kEntities[] = {
          {"&lt;", '<'}, {"&gt;", '>'}, {"&amp;", '&'}, {"&quot;", '"'}, {"&nbsp;", ' '}, {"&#39;", '\''}};
      bool done = false;
      for (const auto& [name, ch] : kEntities) {
        if (StartsWithIgnoreCase(html.substr(i), name)) {
          out += ch;
          i += name.size();
          done = true;
          break;
        }
      }
      if (done) continue;
    }
    out += c;
    ++i;
  }
  return out;
}

size_t CutAfterNestingHeaders(std::string_view bytes, int max, bool* cut) {
  int seen = 0;
  size_t pos = 0;
  while ((pos = FindIgnoreCase(bytes, "content-type:", pos)) != std::string_view::npos) {
    size_t v = pos + 13;
    while (v < bytes.size() && (bytes[v] == ' ' || bytes[v] == '\t' || bytes[v] == '\r' || bytes[v] == '\n')) ++v;
    std::string_view rest = bytes.substr(v, 10);
    if (StartsWithIgnoreCase(rest, "multipart") || StartsWithIgnoreCase(rest, "message")) {
      if (++seen > max) {
        if (cut) *cut = true;
        return pos;
      }
    }
    pos = v;
  }
  return bytes.size();
}

std::string CleanAddress(std::string_view value) {
  std::string_view v = TrimView(value);
  size_t semi = v.find(';');
  if (semi != std::string_view::npos && semi < 16) v = TrimView(v.substr(semi + 1));
  std::vector<std::string> found = FindAddresses(v, 1);
  return found.empty() ? std::string() : found.front();
}

std::vector<std::string> FindAddresses(std::string_view text, size_t max) {
  std::vector<std::string> out;
  size_t at = 0;
  while (out.size() < max && (at = text.find('@', at)) != std::string_view::npos) {
    size_t b = at;
    while (b > 0 && IsLocalChar(text[b - 1]) && at - b < 128) --b;
    size_t e = at + 1;
    while (e < text.size() && IsDomainChar(text[e]) && e - at < 256) ++e;
    std::string_view local = text.substr(b, at - b);
    std::string_view domain = text.substr(at + 1, e - at - 1);
    while (!local.empty() && (local.front() == '.' || local.front() == '\'' || local.front() == '='))
      local.remove_prefix(1);
    while (!domain.empty() && (domain.back() == '.' || domain.back() == '-')) domain.remove_suffix(1);
    at = e > at ? e : at + 1;
    if (local.empty() || domain.find('.') == std::string_view::npos || domain.front() == '.')
      continue;
    std::string addr(local);
    addr += '@';
    addr += ToLower(domain);
    bool dup = std::any_of(out.begin(), out.end(),
                           [&](const std::string& s) { return EqualsIgnoreCase(s, addr); });
    if (!dup) out.push_back(std::move(addr));
  }
  return out;
}

std::string FindEnhancedCode(std::string_view text) {
  for (size_t i = 0; i + 5 <= text.size(); ++i) {
    char c = text[i];
    if (c != '2' && c != '4' && c != '5') continue;
    if (i > 0 && (IsDigit(text[i - 1]) || text[i - 1] == '.')) continue;
    if (text[i + 1] != '.') continue;
    size_t j = i + 2, d1 = 0;
    while (j < text.size() && IsDigit(text[j]) && d1 < 3) ++j, ++d1;
    if (d1 == 0 || j >= text.size() || text[j] != '.') continue;
    ++j;
    size_t d2 = 0;
    while (j < text.size() && IsDigit(text[j]) && d2 < 3) ++j, ++d2;
    if (d2 == 0) continue;
    if (j < text.size() && (IsDigit(text[j]) || (text[j] == '.' && j + 1 < text.size() && IsDigit(text[j + 1]))))
      continue;
    return std::string(text.substr(i, j - i));
  }
  return {};
}

std::string DecodeIso2022Jp(std::string_view text) {
  if (text.find("\x1b$B") == std::string_view::npos && text.find("\x1b$@") == std::string_view::npos)
    return std::string(text);
  for (char c : text) {
    if (static_cast<unsigned char>(c) >= 0x80) return std::string(text);
  }
  iconv_t cd = iconv_open("UTF-8", "ISO-2022-JP");
  if (cd == reinterpret_cast<iconv_t>(-1)) return std::string(text);
  std::string in(text);
  std::string out(in.size() * 3 + 16, '\0');
  char* src = in.data();
  size_t src_left = in.size();
  char* dst = out.data();
  size_t dst_left = out.size();
  size_t rc = iconv(cd, &src, &src_left, &dst, &dst_left);
  iconv_close(cd);
  if (rc == static_cast<size_t>(-1) || src_left != 0) return std::string(text);
  out.resize(out.size() - dst_left);
  return out;
}

std::string FindTellingEnhancedCode(std::string_view text) {
  std::string fallback;
  size_t from = 0;
  for (int n = 0; n < 16 && from < text.size(); ++n) {
    std::string code = FindEnhancedCode(text.substr(from));
    if (code.empty()) break;
    bool vague = code.size() >= 5 && (code.substr(1) == ".0.0" || code == "4.4.7");
    // "X.Y.0" has a subject but no detail: a wrapper's summary ("5.1.0 -
    // Unknown address error 550-'5.7.1 ...'") when a detailed code follows.
    bool no_detail = code.size() >= 5 && code.compare(code.size() - 2, 2, ".0") == 0;
    if (!vague && !no_detail) return code;
    if (!vague && (fallback.empty() || fallback.substr(1) == ".0.0" || fallback == "4.4.7")) fallback = code;
    else if (fallback.empty()) fallback = code;
    size_t at = text.find(code, from);
    if (at == std::string_view::npos) break;
    from = at + code.size();
  }
  return fallback;
}

namespace {
int ReplyCodeAt(std::string_view text, size_t from, size_t* where);
}  // namespace

int FindReplyCode(std::string_view text) { return ReplyCodeAt(text, 0, nullptr); }

std::vector<int> FindReplyCodes(std::string_view text, size_t max) {
  std::vector<int> out;
  size_t from = 0;
  while (out.size() < max && from < text.size()) {
    size_t at = 0;
    int code = ReplyCodeAt(text, from, &at);
    if (code == 0) break;
    out.push_back(code);
    from = at + 3;
  }
  return out;
}

bool IsDefinedFailureReply(int code) {
  switch (code) {
    case 421: case 432: case 450: case 451: case 452: case 453: case 454: case 455: case 458: case 459:
    case 500: case 501: case 502: case 503: case 504: case 521: case 525: case 530: case 534: case 535: case 538:
    case 550: case 551: case 552: case 553: case 554: case 555: case 556:
      return true;
    default:
      return false;
  }
}

namespace {
int ReplyCodeAt(std::string_view text, size_t from, size_t* where) {
  for (size_t i = from; i + 3 <= text.size(); ++i) {
    char c = text[i];
    if (c != '2' && c != '4' && c != '5') continue;
    if (i > 0 && (std::isalnum(static_cast<unsigned char>(text[i - 1])) || text[i - 1] == '.' ||
                  text[i - 1] == ':' || text[i - 1] == '-' || text[i - 1] == '/' || text[i - 1] == '+' ||
                  text[i - 1] == '#'))
      continue;
    if (!IsDigit(text[i + 1]) || !IsDigit(text[i + 2])) continue;
    if (text[i + 1] > '5') continue;
    size_t j = i + 3;
    bool colon = j + 1 < text.size() && text[j] == ':' && text[j + 1] == ' ';  // "550: 5.2.2 ..."
    if (j < text.size() && text[j] != ' ' && text[j] != '-' && text[j] != '\r' && text[j] != '\n' &&
        text[j] != '\t' && text[j] != '"' && text[j] != ')' && text[j] != ']' && !colon)
      continue;
    if (j < text.size() && text[j] == '-' && j + 1 < text.size() && IsDigit(text[j + 1]) &&
        !(j + 2 < text.size() && text[j + 2] == '.'))
      continue;  // "500-1000": a range, not "550-5.1.1"
    if (where) *where = i;
    return (c - '0') * 100 + (text[i + 1] - '0') * 10 + (text[i + 2] - '0');
  }
  return 0;
}
}  // namespace

}  // namespace postino::inbound::returns
