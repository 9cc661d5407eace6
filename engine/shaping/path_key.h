// path_key.h: the key of an egress path (one source address towards one MX
// site), used by backoff and the engine's shaping state.
#pragma once

#include <functional>
#include <string>

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

}  // namespace postino::shaping
