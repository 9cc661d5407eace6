// mime_decode.h: the inverse of the message builder, for people reading a
// rendered message (`template preview`, `campaign check`): header fields
// unfolded with RFC 2047 encoded words decoded, and the text and HTML parts
// with their transfer encoding (quoted-printable, base64) undone. It reads
// postino's own output and tolerates anything else: malformed input gives
// what could be decoded, never an error; work is linear in the input size
// and multipart nesting is bounded.
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace postino::templates {

struct DecodedMessage {
  // Top-level header fields in order, names as written, values unfolded
  // and decoded to UTF-8.
  std::vector<std::pair<std::string, std::string>> headers;
  std::string text;  // first text/plain part, decoded ("" when none)
  std::string html;  // first text/html part, decoded ("" when none)
  bool has_text = false, has_html = false;

  // The first header of that name (ASCII case-insensitive), or "".
  std::string Header(std::string_view name) const;
};

DecodedMessage DecodeMessage(std::string_view bytes);

// RFC 2047: "=?utf-8?B?...?=" and "=?utf-8?Q?...?=" words decoded (white
// space between two encoded words dropped); other text unchanged.
std::string DecodeEncodedWords(std::string_view value);

// Quoted-printable (soft line breaks removed); CRLF line ends become LF.
std::string DecodeQuotedPrintable(std::string_view in);
// Base64 (white space ignored; stops at the first invalid character).
std::string DecodeBase64(std::string_view in);

}  // namespace postino::templates
