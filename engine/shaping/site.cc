// site.cc: site keys and host pattern matching.
#include "engine/shaping/site.h"

#include <algorithm>

#include "common/strings.h"

namespace postino::shaping {
namespace {

std::string Normalize(std::string_view s) {
  while (!s.empty() && s.back() == '.') s.remove_suffix(1);
  return AsciiLower(s);
}

}  // namespace

std::string MakeSiteKey(std::vector<std::string> mx_hosts) {
  for (std::string& h : mx_hosts) h = Normalize(h);
  std::sort(mx_hosts.begin(), mx_hosts.end());
  mx_hosts.erase(std::unique(mx_hosts.begin(), mx_hosts.end()), mx_hosts.end());
  std::string key;
  for (const std::string& h : mx_hosts) {
    if (h.empty()) continue;
    if (!key.empty()) key += ',';
    key += h;
  }
  return key;
}

std::string MakeStaticSiteKey(std::string_view host, uint16_t port) {
  std::string h = Normalize(host);
  if (h.find(':') != std::string::npos) h = "[" + h + "]";  // an IPv6 literal
  return h + ":" + std::to_string(port);
}

}  // namespace postino::shaping
