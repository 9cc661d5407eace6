// reply.cc: formatting of SMTP replies (Reply::Text, Reply::ToString).
#include "engine/smtp/reply.h"

namespace postino::smtp {

std::string Reply::Text() const {
  std::string text;
  size_t size = 0;
  for (const std::string& line : lines) size += line.size() + 1;
  text.reserve(size);
  for (size_t i = 0; i < lines.size(); ++i) {
    if (i > 0) text.push_back(' ');
    text.append(lines[i]);
  }
  return text;
}

std::string Reply::ToString() const {
  std::string out = std::to_string(code);
  std::string text = Text();
  // Parsed and local replies keep the enhanced code at the start of their
  // text; add it only when a hand-built reply left it out.
  if (!enhanced.empty() && text.compare(0, enhanced.size(), enhanced) != 0) {
    out.push_back(' ');
    out.append(enhanced);
  }
  if (!text.empty()) {
    out.push_back(' ');
    out.append(text);
  }
  return out;
}

}  // namespace postino::smtp
