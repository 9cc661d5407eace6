// commands.cc: see commands.h.
#include "engine/smtp/commands.h"

#include <cstdint>

namespace postino::smtp {

bool IsSafePathAddress(std::string_view address, bool allow_empty) {
  if (address.empty()) return allow_empty;
  if (address.size() > 900) return false;
  for (char c : address) {
    unsigned char u = static_cast<unsigned char>(c);
    if (u < 0x20 || u == 0x7f || c == '<' || c == '>') return false;
  }
  return true;
}

bool IsSafeHeloName(std::string_view name) {
  if (name.empty() || name.size() > 255) return false;
  for (char c : name) {
    unsigned char u = static_cast<unsigned char>(c);
    if (u <= 0x20 || u == 0x7f) return false;
  }
  return true;
}

std::string Base64Encode(std::string_view data) {
  static const char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  out.reserve((data.size() + 2) / 3 * 4);
  size_t i = 0;
  for (; i + 3 <= data.size(); i += 3) {
    uint32_t v = (static_cast<uint8_t>(data[i]) << 16) | (static_cast<uint8_t>(data[i + 1]) << 8) |
                 static_cast<uint8_t>(data[i + 2]);
    out.push_back(kAlphabet[(v >> 18) & 63]);
    out.push_back(kAlphabet[(v >> 12) & 63]);
    out.push_back(kAlphabet[(v >> 6) & 63]);
    out.push_back(kAlphabet[v & 63]);
  }
  size_t left = data.size() - i;
  if (left > 0) {
    uint32_t v = static_cast<uint8_t>(data[i]) << 16;
    if (left == 2) v |= static_cast<uint8_t>(data[i + 1]) << 8;
    out.push_back(kAlphabet[(v >> 18) & 63]);
    out.push_back(kAlphabet[(v >> 12) & 63]);
    out.push_back(left == 2 ? kAlphabet[(v >> 6) & 63] : '=');
    out.push_back('=');
  }
  return out;
}

std::string EhloCommand(std::string_view helo_name) {
  std::string cmd = "EHLO ";
  cmd.append(helo_name);
  cmd.append("\r\n");
  return cmd;
}

std::string HeloCommand(std::string_view helo_name) {
  std::string cmd = "HELO ";
  cmd.append(helo_name);
  cmd.append("\r\n");
  return cmd;
}

std::string MailCommand(std::string_view from, bool smtputf8, bool eightbit, bool with_size,
                        size_t size) {
  std::string cmd = "MAIL FROM:<";
  cmd.append(from);
  cmd.push_back('>');
  if (with_size) {
    cmd.append(" SIZE=");
    cmd.append(std::to_string(size));
  }
  if (eightbit) cmd.append(" BODY=8BITMIME");
  if (smtputf8) cmd.append(" SMTPUTF8");
  cmd.append("\r\n");
  return cmd;
}

std::string RcptCommand(std::string_view to) {
  std::string cmd = "RCPT TO:<";
  cmd.append(to);
  cmd.append(">\r\n");
  return cmd;
}

std::string AuthPlainCommand(std::string_view user, std::string_view password) {
  std::string token;
  token.reserve(user.size() + password.size() + 2);
  token.push_back('\0');
  token.append(user);
  token.push_back('\0');
  token.append(password);
  return "AUTH PLAIN " + Base64Encode(token) + "\r\n";
}

}  // namespace postino::smtp
