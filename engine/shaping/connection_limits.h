// connection_limits.h: concurrency counters per egress path (source, site)
// and per site over all sources. Acquire before opening a connection,
// Release when it closes.
#pragma once

#include <string>
#include <string_view>
#include <unordered_map>

namespace postino::shaping {

// An egress path: one source address towards one MX site.
struct PathKey {
  std::string source;
  std::string site;  // see MakeSiteKey
  friend bool operator==(const PathKey&, const PathKey&) = default;
};

struct PathKeyHash {
  size_t operator()(const PathKey& k) const {
    size_t h = std::hash<std::string>()(k.source);
    return h ^ (std::hash<std::string>()(k.site) + 0x9e3779b97f4a7c15ULL + (h << 6) + (h >> 2));
  }
};

class ConnectionLimits {
 public:
  // Takes a slot when the path has fewer than `max_path` and the site fewer
  // than `max_site` open connections; returns false (and takes nothing)
  // otherwise. A limit <= 0 means unlimited.
  bool TryAcquire(const PathKey& path, int max_path, int max_site);
  // Gives a slot back; releasing more than acquired is ignored.
  void Release(const PathKey& path);

  int PathConnections(const PathKey& path) const;
  int SiteConnections(std::string_view site) const;

 private:
  std::unordered_map<PathKey, int, PathKeyHash> per_path_;
  std::unordered_map<std::string, int> per_site_;
};

}  // namespace postino::shaping
