// reply_parser.cc: see reply_parser.h.
#include "engine/smtp/reply_parser.h"

#include <cstring>
#include <string>

namespace postino::smtp {
namespace {

bool IsDigit(char c) { return c >= '0' && c <= '9'; }

// Printable rendering of untrusted bytes for an error message.
std::string Printable(std::string_view s) {
  std::string out;
  for (char c : s.substr(0, 40)) {
    unsigned char u = static_cast<unsigned char>(c);
    if (u >= 0x20 && u < 0x7f) {
      out.push_back(c);
    } else {
      static const char kHex[] = "0123456789abcdef";
      out += "\\x";
      out.push_back(kHex[u >> 4]);
      out.push_back(kHex[u & 15]);
    }
  }
  if (s.size() > 40) out += "...";
  return out;
}

}  // namespace

size_t EnhancedCodeLength(std::string_view text, char klass) {
  // class "." subject(1-3 digits) "." detail(1-3 digits)
  if (text.size() < 5 || text[0] != klass || text[1] != '.') return 0;
  size_t i = 2;
  size_t start = i;
  while (i < text.size() && IsDigit(text[i]) && i - start < 4) ++i;
  if (i == start || i - start > 3 || i >= text.size() || text[i] != '.') return 0;
  ++i;
  start = i;
  while (i < text.size() && IsDigit(text[i]) && i - start < 4) ++i;
  if (i == start || i - start > 3) return 0;
  if (i < text.size() && text[i] != ' ') return 0;
  return i;
}

void ReplyParser::Clear() {
  line_.clear();
  in_reply_ = false;
  current_ = Reply();
  ready_.clear();
}

std::optional<Reply> ReplyParser::Next() {
  if (ready_.empty()) return std::nullopt;
  Reply reply = std::move(ready_.front());
  ready_.pop_front();
  return reply;
}

Status ReplyParser::Feed(std::string_view bytes) {
  if (!status_.ok()) return status_;
  while (!bytes.empty()) {
    const void* found = std::memchr(bytes.data(), '\n', bytes.size());
    if (found == nullptr) {
      if (line_.size() + bytes.size() > limits_.max_line + 1) {  // +1: a pending CR
        status_ = Status::Protocol("reply line longer than " + std::to_string(limits_.max_line) +
                                   " octets");
        return status_;
      }
      line_.append(bytes);
      return status_;
    }
    size_t n = static_cast<const char*>(found) - bytes.data();
    std::string_view piece = bytes.substr(0, n);
    bytes.remove_prefix(n + 1);
    std::string_view line;
    if (line_.empty()) {
      line = piece;
    } else {
      if (line_.size() + piece.size() > limits_.max_line + 1) {
        status_ = Status::Protocol("reply line longer than " + std::to_string(limits_.max_line) +
                                   " octets");
        return status_;
      }
      line_.append(piece);
      line = line_;
    }
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);  // CRLF or bare LF
    if (line.size() > limits_.max_line) {
      status_ = Status::Protocol("reply line longer than " + std::to_string(limits_.max_line) +
                                 " octets");
      return status_;
    }
    Status st = ParseLine(line);
    line_.clear();
    if (!st.ok()) {
      status_ = st;
      return status_;
    }
  }
  return status_;
}

Status ReplyParser::ParseLine(std::string_view line) {
  if (line.size() < 3 || !IsDigit(line[0]) || !IsDigit(line[1]) || !IsDigit(line[2]) ||
      line[0] < '2' || line[0] > '5') {
    return Status::Protocol("malformed reply line (no reply code): \"" + Printable(line) + "\"");
  }
  int code = (line[0] - '0') * 100 + (line[1] - '0') * 10 + (line[2] - '0');
  bool last = true;
  if (line.size() > 3) {
    if (line[3] == '-') {
      last = false;
    } else if (line[3] != ' ') {
      return Status::Protocol("malformed reply line (bad separator after code): \"" +
                              Printable(line) + "\"");
    }
  }
  std::string_view text = line.size() > 4 ? line.substr(4) : std::string_view();
  if (in_reply_) {
    if (code != current_.code && limits_.allow_code_change) {
      current_.code = code;
    } else if (code != current_.code) {
      return Status::Protocol("reply code changed within a multi-line reply: " +
                              std::to_string(current_.code) + " then \"" + Printable(line) + "\"");
    }
    if (current_.lines.size() >= limits_.max_lines) {
      return Status::Protocol("multi-line reply longer than " + std::to_string(limits_.max_lines) +
                              " lines");
    }
  } else {
    current_ = Reply();
    current_.code = code;
    in_reply_ = true;
  }
  current_.lines.emplace_back(text);
  if (last) {
    size_t n = EnhancedCodeLength(text, line[0]);
    if (n > 0) current_.enhanced.assign(text.substr(0, n));
    ready_.push_back(std::move(current_));
    current_ = Reply();
    in_reply_ = false;
  }
  return Status::Ok();
}

}  // namespace postino::smtp
