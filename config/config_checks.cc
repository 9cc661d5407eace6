// config_checks.cc: EHLO names, node ids and secret files (see config_checks.h).
#include "config/config_checks.h"

#include <arpa/inet.h>
#include <fmt/format.h>
#include <sys/stat.h>

#include <fstream>
#include <sstream>

#include "common/strings.h"

namespace postino::config::internal {
namespace {

bool IsLetDig(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

}  // namespace

bool IsValidEhloName(std::string_view name) {
  if (name.size() >= 2 && name.front() == '[' && name.back() == ']') {
    std::string inner(name.substr(1, name.size() - 2));
    unsigned char buf[16];
    if (inner.rfind("IPv6:", 0) == 0) return inet_pton(AF_INET6, inner.c_str() + 5, buf) == 1;
    return inet_pton(AF_INET, inner.c_str(), buf) == 1;
  }
  if (!name.empty() && name.back() == '.') name.remove_suffix(1);
  if (name.empty() || name.size() > 253) return false;
  size_t start = 0;
  while (true) {
    size_t dot = name.find('.', start);
    std::string_view label = name.substr(start, dot == std::string_view::npos ? dot : dot - start);
    if (label.empty() || label.size() > 63 || !IsLetDig(label.front()) || !IsLetDig(label.back())) {
      return false;
    }
    for (char c : label) {
      if (!IsLetDig(c) && c != '-') return false;
    }
    if (dot == std::string_view::npos) return true;
    start = dot + 1;
  }
}

Status CheckNodeId(std::string_view id) {
  if (id.empty()) return Status::InvalidArgument("is empty; expected a node name");
  if (id.size() > 64) {
    return Status::InvalidArgument(fmt::format("is {} characters long; at most 64", id.size()));
  }
  for (char ch : id) {
    auto c = static_cast<unsigned char>(ch);
    if (c <= 0x20 || c >= 0x7F) {
      return Status::InvalidArgument(fmt::format(
          "\"{}\" holds a space, a control or a non-ASCII character; expected printable ASCII "
          "such as \"mail-1\"",
          EscapeControl(id)));
    }
  }
  return Status::Ok();
}

Result<std::string> ReadSecretFile(const std::string& path) {
  struct stat st {};
  if (stat(path.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) {
    return Status::InvalidArgument(fmt::format("\"{}\" is not a readable file", path));
  }
  if ((st.st_mode & (S_IROTH | S_IWOTH | S_IWGRP)) != 0) {
    return Status::InvalidArgument(fmt::format(
        "\"{}\" has mode {:04o}: other users could read or change the secret; run chmod 600 on it",
        path, st.st_mode & 07777));
  }
  std::ifstream in(path, std::ios::binary);
  if (!in.is_open()) return Status::InvalidArgument(fmt::format("\"{}\" cannot be read", path));
  std::ostringstream buf;
  buf << in.rdbuf();
  std::string secret = buf.str();
  while (!secret.empty() && (secret.back() == '\n' || secret.back() == '\r')) secret.pop_back();
  if (secret.size() < kMinSecretBytes) {
    return Status::InvalidArgument(fmt::format(
        "\"{}\" holds {} octets; a secret needs at least {} (e.g. head -c 32 /dev/urandom > FILE)",
        path, secret.size(), kMinSecretBytes));
  }
  return secret;
}

}  // namespace postino::config::internal
