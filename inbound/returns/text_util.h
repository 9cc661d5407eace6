// text_util.h: small text helpers of the bounce parser: unfolding, HTML to
// text, e-mail address and SMTP reply spotting in free text. All linear in
// the input and allocation-bounded by it.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/strings.h"

namespace postino::inbound::returns {

using postino::EqualsIgnoreCase;
using postino::StartsWithIgnoreCase;

inline std::string_view TrimView(std::string_view s) { return postino::Trim(s); }
inline std::string ToLower(std::string_view s) { return postino::AsciiLower(s); }

// Case-insensitive search; npos when absent.
size_t FindIgnoreCase(std::string_view haystack, std::string_view needle, size_t from = 0);
bool ContainsIgnoreCase(std::string_view haystack, std::string_view needle);

// CR/LF + whitespace runs collapsed into one space, trimmed.
std::string UnfoldValue(std::string_view raw);

// 7-bit ISO-2022-JP text (ESC $ B ... ESC ( B), as Japanese MTAs write it
// even in DSN fields that have no charset, converted to UTF-8; any other
// text, or one that does not convert, is returned as it is.
std::string DecodeIso2022Jp(std::string_view text);

// Tags removed (block tags become newlines), a few entities decoded.
std::string StripHtml(std::string_view html);

// Length of the prefix of `bytes` that holds at most `max` MIME headers
// that can nest (Content-Type: multipart/* or message/*); sets *cut when
// the input was shortened.
size_t CutAfterNestingHeaders(std::string_view bytes, int max, bool* cut);

// The address in "rfc822; user@example.com", "<user@example.com>",
// "Name <user@example.com>" or a bare address; "" when none. Lower-cased
// domain, local part kept.
std::string CleanAddress(std::string_view value);

// Every syntactically plausible address in `text`, in order, without
// duplicates (case-insensitive), at most `max`.
std::vector<std::string> FindAddresses(std::string_view text, size_t max = 64);

// An RFC 3463 enhanced status code "D.D.D" in `text` (first class 2, 4 or
// 5), or "".
std::string FindEnhancedCode(std::string_view text);
// The enhanced code of `text` that says the most: the first one with a
// detail that is not 4.4.7 (a wrapper's "gave up"), else the first X.Y.0,
// else the first X.0.0 or 4.4.7; "" when none.
std::string FindTellingEnhancedCode(std::string_view text);
// A basic SMTP reply code (2xx/4xx/5xx, as a standalone number followed by
// a space, '-' or end, not a part of a longer number or a date/time), or 0.
int FindReplyCode(std::string_view text);
// Every such reply code of `text`, in order, at most `max` (also "550:"
// as some reports write it).
std::vector<int> FindReplyCodes(std::string_view text, size_t max = 16);
// A reply code RFC 5321 and its extensions define for a failure (421,
// 450-455, 500-504, 521, 525, 530, 534, 535, 538, 550-556, ...).
bool IsDefinedFailureReply(int code);

}  // namespace postino::inbound::returns
