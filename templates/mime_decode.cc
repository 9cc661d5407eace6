// mime_decode.cc: decoding a rendered message for people (see mime_decode.h).
#include "templates/mime_decode.h"

#include "common/strings.h"

namespace postino::templates {
namespace {

constexpr int kMaxDepth = 4;

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;
}

int Base64Value(char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '+') return 62;
  if (c == '/') return 63;
  return -1;
}

// Splits a header block from its body at the first empty line.
std::pair<std::string_view, std::string_view> SplitHead(std::string_view part) {
  if (part.substr(0, 2) == "\r\n") return {{}, part.substr(2)};
  if (part.substr(0, 1) == "\n") return {{}, part.substr(1)};
  size_t crlf = part.find("\r\n\r\n");
  size_t lf = part.find("\n\n");
  if (crlf != std::string_view::npos && (lf == std::string_view::npos || crlf <= lf)) {
    return {part.substr(0, crlf), part.substr(crlf + 4)};
  }
  if (lf != std::string_view::npos) return {part.substr(0, lf), part.substr(lf + 2)};
  return {part, {}};
}

// Header fields, unfolded, raw values.
std::vector<std::pair<std::string, std::string>> ParseHeaders(std::string_view head) {
  std::vector<std::pair<std::string, std::string>> out;
  size_t pos = 0;
  while (pos < head.size()) {
    size_t nl = head.find('\n', pos);
    std::string_view line = head.substr(pos, nl == std::string_view::npos ? nl : nl - pos);
    pos = nl == std::string_view::npos ? head.size() : nl + 1;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (!line.empty() && (line[0] == ' ' || line[0] == '\t')) {
      if (!out.empty()) out.back().second += std::string(line);  // unfold: drop the CRLF only
      continue;
    }
    size_t colon = line.find(':');
    if (colon == std::string_view::npos) continue;
    out.emplace_back(std::string(TrimBlanks(line.substr(0, colon))),
                     std::string(TrimBlanks(line.substr(colon + 1))));
  }
  return out;
}

std::string Find(const std::vector<std::pair<std::string, std::string>>& headers,
                 std::string_view name) {
  for (const auto& [n, v] : headers) {
    if (EqualsIgnoreCase(n, name)) return v;
  }
  return {};
}

// The value of parameter `name` in a Content-Type value ("" when absent).
std::string Param(std::string_view value, std::string_view name) {
  size_t pos = 0;
  while ((pos = value.find(';', pos)) != std::string_view::npos) {
    ++pos;
    std::string_view rest = TrimLeft(value.substr(pos));
    if (!StartsWithIgnoreCase(rest, name)) continue;
    rest.remove_prefix(name.size());
    rest = TrimLeft(rest);
    if (rest.empty() || rest[0] != '=') continue;
    rest = TrimLeft(rest.substr(1));
    if (!rest.empty() && rest[0] == '"') {
      size_t end = rest.find('"', 1);
      return std::string(rest.substr(1, end == std::string_view::npos ? end : end - 1));
    }
    size_t end = rest.find_first_of("; \t");
    return std::string(rest.substr(0, end));
  }
  return {};
}

void DecodePart(std::string_view part, int depth, DecodedMessage* out) {
  auto [head, body] = SplitHead(part);
  auto headers = ParseHeaders(head);
  std::string type = AsciiLower(Find(headers, "Content-Type"));
  if (type.empty()) type = "text/plain";
  std::string encoding = AsciiLower(std::string(Trim(Find(headers, "Content-Transfer-Encoding"))));
  if (type.rfind("multipart/", 0) == 0) {
    if (depth >= kMaxDepth) return;
    std::string boundary = Param(Find(headers, "Content-Type"), "boundary");
    if (boundary.empty()) return;
    std::string delim = "--" + boundary;
    size_t pos = body.find(delim);
    while (pos != std::string_view::npos) {
      size_t start = body.find('\n', pos);
      if (start == std::string_view::npos) break;
      if (body.substr(pos + delim.size(), 2) == "--") break;  // closing delimiter
      ++start;
      size_t next = body.find("\n" + delim, start);
      std::string_view sub = body.substr(start, next == std::string_view::npos ? next : next - start);
      if (!sub.empty() && sub.back() == '\r') sub.remove_suffix(1);
      DecodePart(sub, depth + 1, out);
      pos = next == std::string_view::npos ? next : next + 1;
    }
    return;
  }
  std::string decoded = encoding == "quoted-printable" ? DecodeQuotedPrintable(body)
                        : encoding == "base64"         ? DecodeBase64(body)
                                                       : std::string(body);
  if (encoding != "quoted-printable") {
    std::string lf;
    for (size_t i = 0; i < decoded.size(); ++i) {
      if (decoded[i] == '\r' && i + 1 < decoded.size() && decoded[i + 1] == '\n') continue;
      lf += decoded[i];
    }
    decoded.swap(lf);
  }
  if (type.rfind("text/html", 0) == 0) {
    if (!out->has_html) {
      out->html = std::move(decoded);
      out->has_html = true;
    }
  } else if (type.rfind("text/plain", 0) == 0) {
    if (!out->has_text) {
      out->text = std::move(decoded);
      out->has_text = true;
    }
  }
}

}  // namespace

std::string DecodedMessage::Header(std::string_view name) const { return Find(headers, name); }

std::string DecodeQuotedPrintable(std::string_view in) {
  std::string out;
  out.reserve(in.size());
  for (size_t i = 0; i < in.size(); ++i) {
    char c = in[i];
    if (c == '\r' && i + 1 < in.size() && in[i + 1] == '\n') continue;  // CRLF -> LF
    if (c != '=') {
      out += c;
      continue;
    }
    if (i + 1 < in.size() && (in[i + 1] == '\n' || in[i + 1] == '\r')) {  // soft line break
      i += in[i + 1] == '\r' && i + 2 < in.size() && in[i + 2] == '\n' ? 2 : 1;
      continue;
    }
    int hi = i + 1 < in.size() ? HexValue(in[i + 1]) : -1;
    int lo = i + 2 < in.size() ? HexValue(in[i + 2]) : -1;
    if (hi < 0 || lo < 0) {
      out += c;  // not an escape: keep as written
      continue;
    }
    out += static_cast<char>(hi * 16 + lo);
    i += 2;
  }
  return out;
}

std::string DecodeBase64(std::string_view in) {
  std::string out;
  uint32_t acc = 0;
  int bits = 0;
  for (char c : in) {
    if (c == ' ' || c == '\t' || c == '\r' || c == '\n') continue;
    int v = Base64Value(c);
    if (v < 0) break;  // '=' padding or garbage
    acc = (acc << 6) | static_cast<uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out += static_cast<char>((acc >> bits) & 0xFF);
    }
  }
  return out;
}

std::string DecodeEncodedWords(std::string_view value) {
  std::string out;
  size_t pos = 0;
  bool last_was_word = false;
  while (pos < value.size()) {
    size_t start = value.find("=?", pos);
    if (start == std::string_view::npos) {
      out.append(value.substr(pos));
      break;
    }
    // =?charset?X?text?=
    size_t q1 = value.find('?', start + 2);
    size_t q2 = q1 == std::string_view::npos ? q1 : value.find('?', q1 + 1);
    size_t end = q2 == std::string_view::npos ? q2 : value.find("?=", q2 + 1);
    char kind = q1 == std::string_view::npos || q1 + 1 >= value.size()
                    ? '\0'
                    : static_cast<char>(value[q1 + 1] | 0x20);
    if (end == std::string_view::npos || q2 != q1 + 2 || (kind != 'b' && kind != 'q')) {
      out.append(value.substr(pos, start + 2 - pos));
      pos = start + 2;
      last_was_word = false;
      continue;
    }
    std::string_view between = value.substr(pos, start - pos);
    bool blank = Trim(between).empty();
    if (!(last_was_word && blank)) out.append(between);  // space between two words goes
    std::string_view text = value.substr(q2 + 1, end - q2 - 1);
    if (kind == 'b') {
      out += DecodeBase64(text);
    } else {
      std::string t(text);
      for (char& c : t) {
        if (c == '_') c = ' ';
      }
      out += DecodeQuotedPrintable(t);
    }
    pos = end + 2;
    last_was_word = true;
  }
  return out;
}

DecodedMessage DecodeMessage(std::string_view bytes) {
  DecodedMessage out;
  for (auto& [name, value] : ParseHeaders(SplitHead(bytes).first)) {
    out.headers.emplace_back(name, DecodeEncodedWords(value));
  }
  DecodePart(bytes, 0, &out);
  return out;
}

}  // namespace postino::templates
