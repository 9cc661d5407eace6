// normalize.cc: NormalizeReply, the bounded "CODE ENHANCED TEXT" form of a
// reply that every policy rule (configured, provider, principled) reads.
// Bounded: at most kMaxLineBytes of each line and kMaxNormalizedReply in all,
// so a 78 KB reply costs the rules no more than a 4 KB one.
#include <string>
#include <string_view>

#include "engine/policy/policy.h"

namespace postino::policy {
namespace {

constexpr size_t kMaxLineBytes = 512;

bool IsDigit(char c) { return c >= '0' && c <= '9'; }

// Length of an RFC 3463 code ("4.7.28") at the start of `s`, followed by a
// space, a tab or the end; 0 when there is none.
size_t EnhancedCodeLength(std::string_view s) {
  if (s.size() < 5 || (s[0] != '2' && s[0] != '4' && s[0] != '5') || s[1] != '.') return 0;
  size_t i = 2;
  size_t start = i;
  while (i < s.size() && IsDigit(s[i]) && i - start < 3) ++i;
  if (i == start || i >= s.size() || s[i] != '.') return 0;
  ++i;
  start = i;
  while (i < s.size() && IsDigit(s[i]) && i - start < 3) ++i;
  if (i == start) return 0;
  if (i < s.size() && s[i] != ' ' && s[i] != '\t') return 0;
  return i;
}

std::string_view TrimLeft(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  return s;
}

std::string_view TrimRight(std::string_view s) {
  while (!s.empty() && (s.back() == '\r' || s.back() == ' ' || s.back() == '\t')) {
    s.remove_suffix(1);
  }
  return s;
}

// Collects "CODE ENH TEXT" within the bounds.
class Builder {
 public:
  void Code(std::string_view code) { code_.assign(code); }
  void Enhanced(std::string_view enhanced) {
    if (enhanced.size() <= 16) enhanced_.assign(enhanced);
  }
  // Adds one line's text (its code and enhanced code already removed).
  void Line(std::string_view line) {
    line = TrimLeft(TrimRight(line));
    if (line.empty() || text_.size() >= kMaxNormalizedReply) return;
    if (line.size() > kMaxLineBytes) line = line.substr(0, kMaxLineBytes);
    if (!text_.empty()) text_.push_back(' ');
    size_t room = kMaxNormalizedReply - text_.size();
    text_.append(line.substr(0, room));
  }
  bool Full() const { return text_.size() >= kMaxNormalizedReply; }
  std::string Finish() {
    std::string out = code_;
    if (!enhanced_.empty()) out += (out.empty() ? "" : " ") + enhanced_;
    if (!text_.empty()) {
      if (!out.empty()) out.push_back(' ');
      out.append(text_);
    }
    // Control characters (a hostile peer's escapes) read as spaces.
    for (char& c : out) {
      if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) c = ' ';
    }
    if (out.size() > kMaxNormalizedReply) out.resize(kMaxNormalizedReply);
    return out;
  }

 private:
  std::string code_, enhanced_, text_;
};

}  // namespace

std::string NormalizeReply(std::string_view raw) {
  Builder b;
  // Every line is scanned (linear) so the final line's codes count; only
  // the first kMaxNormalizedReply bytes of text are kept.
  while (!raw.empty()) {
    size_t nl = raw.find('\n');
    std::string_view line = raw.substr(0, nl);
    raw = nl == std::string_view::npos ? std::string_view() : raw.substr(nl + 1);
    line = TrimRight(line);
    if (line.size() >= 3 && IsDigit(line[0]) && IsDigit(line[1]) && IsDigit(line[2]) &&
        (line.size() == 3 || line[3] == ' ' || line[3] == '-')) {
      b.Code(line.substr(0, 3));
      line = line.substr(std::min<size_t>(4, line.size()));
    }
    line = TrimLeft(line);
    if (size_t n = EnhancedCodeLength(line); n > 0) {
      b.Enhanced(line.substr(0, n));
      line = line.substr(n);
    }
    b.Line(line);
  }
  return b.Finish();
}

std::string NormalizeReply(const smtp::Reply& reply) {
  Builder b;
  if (reply.code > 0 && reply.code < 1000) b.Code(std::to_string(reply.code));
  b.Enhanced(reply.enhanced);
  for (const std::string& line : reply.lines) {
    if (b.Full()) break;
    std::string_view rest = line;
    if (size_t n = EnhancedCodeLength(rest); n > 0) rest.remove_prefix(n);
    b.Line(rest);
  }
  return b.Finish();
}

}  // namespace postino::policy
