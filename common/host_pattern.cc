// host_pattern.cc: host name pattern matching.
#include "common/host_pattern.h"

#include <cctype>

namespace postino {
namespace {

bool IEquals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(a[i])) !=
        std::tolower(static_cast<unsigned char>(b[i]))) {
      return false;
    }
  }
  return true;
}

}  // namespace

bool HostMatches(std::string_view pattern, std::string_view host) {
  while (!host.empty() && host.back() == '.') host.remove_suffix(1);
  while (!pattern.empty() && pattern.back() == '.') pattern.remove_suffix(1);
  if (pattern == "*") return true;
  if (pattern.size() >= 2 && pattern[0] == '*' && pattern[1] == '.') {
    std::string_view suffix = pattern.substr(2);
    if (IEquals(host, suffix)) return true;
    return host.size() > suffix.size() && host[host.size() - suffix.size() - 1] == '.' &&
           IEquals(host.substr(host.size() - suffix.size()), suffix);
  }
  return IEquals(pattern, host);
}

int PatternSpecificity(std::string_view pattern) {
  if (pattern == "*") return 0;
  if (pattern.size() >= 2 && pattern[0] == '*' && pattern[1] == '.') {
    return 1 + static_cast<int>(pattern.size());
  }
  return 100000 + static_cast<int>(pattern.size());
}

}  // namespace postino
