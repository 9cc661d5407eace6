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

namespace {

// "host:25" -> "host", "[::1]:25" -> "::1"; anything else unchanged.
std::string_view WithoutPort(std::string_view host) {
  if (!host.empty() && host.front() == '[') {
    size_t close = host.find(']');
    if (close != std::string_view::npos && close + 1 < host.size() && host[close + 1] == ':') {
      return host.substr(1, close - 1);
    }
    return host;
  }
  size_t colon = host.rfind(':');
  if (colon == std::string_view::npos || colon + 1 == host.size()) return host;
  if (host.find(':') != colon) return host;  // a bare IPv6 literal
  for (char c : host.substr(colon + 1)) {
    if (c < '0' || c > '9') return host;
  }
  return host.substr(0, colon);
}

}  // namespace

bool SiteMatches(std::string_view pattern, std::string_view site_key) {
  if (EqualsIgnoreCase(pattern, site_key)) return true;
  if (std::string_view bare = WithoutPort(site_key);
      bare != site_key && EqualsIgnoreCase(pattern, bare)) {
    return true;
  }
  size_t start = 0;
  while (start <= site_key.size()) {
    size_t comma = site_key.find(',', start);
    if (comma == std::string_view::npos) comma = site_key.size();
    if (comma > start && HostMatches(pattern, WithoutPort(site_key.substr(start, comma - start)))) {
      return true;
    }
    start = comma + 1;
  }
  return false;
}

}  // namespace postino
