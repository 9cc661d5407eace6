// connection_limits.cc: per-path and per-site connection counters.
#include "engine/shaping/connection_limits.h"

namespace postino::shaping {

bool ConnectionLimits::TryAcquire(const PathKey& path, int max_path, int max_site) {
  int& p = per_path_[path];
  int& s = per_site_[path.site];
  if ((max_path > 0 && p >= max_path) || (max_site > 0 && s >= max_site)) return false;
  ++p;
  ++s;
  return true;
}

void ConnectionLimits::Release(const PathKey& path) {
  auto p = per_path_.find(path);
  if (p == per_path_.end() || p->second <= 0) return;
  if (--p->second == 0) per_path_.erase(p);
  auto s = per_site_.find(path.site);
  if (s != per_site_.end() && --s->second <= 0) per_site_.erase(s);
}

int ConnectionLimits::PathConnections(const PathKey& path) const {
  auto it = per_path_.find(path);
  return it == per_path_.end() ? 0 : it->second;
}

int ConnectionLimits::SiteConnections(std::string_view site) const {
  auto it = per_site_.find(std::string(site));
  return it == per_site_.end() ? 0 : it->second;
}

}  // namespace postino::shaping
