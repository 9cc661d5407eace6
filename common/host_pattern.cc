// host_pattern.cc: host name pattern matching.
#include "common/host_pattern.h"

#include "common/strings.h"

namespace postino {

bool HostMatches(std::string_view pattern, std::string_view host) {
  while (!host.empty() && host.back() == '.') host.remove_suffix(1);
  while (!pattern.empty() && pattern.back() == '.') pattern.remove_suffix(1);
  if (pattern == "*") return true;
  if (pattern.size() >= 2 && pattern[0] == '*' && pattern[1] == '.') {
    std::string_view suffix = pattern.substr(2);
    if (EqualsIgnoreCase(host, suffix)) return true;
    return host.size() > suffix.size() && host[host.size() - suffix.size() - 1] == '.' &&
           EqualsIgnoreCase(host.substr(host.size() - suffix.size()), suffix);
  }
  return EqualsIgnoreCase(pattern, host);
}

int PatternSpecificity(std::string_view pattern) {
  if (pattern == "*") return 0;
  if (pattern.size() >= 2 && pattern[0] == '*' && pattern[1] == '.') {
    return 1 + static_cast<int>(pattern.size());
  }
  return 100000 + static_cast<int>(pattern.size());
}

bool SiteMatches(std::string_view pattern, std::string_view site_key) {
  if (EqualsIgnoreCase(pattern, site_key)) return true;
  size_t start = 0;
  while (start <= site_key.size()) {
    size_t comma = site_key.find(',', start);
    if (comma == std::string_view::npos) comma = site_key.size();
    if (comma > start && HostMatches(pattern, site_key.substr(start, comma - start))) return true;
    start = comma + 1;
  }
  return false;
}

}  // namespace postino
