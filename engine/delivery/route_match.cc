// route_match.cc: route pattern matching (see route_match.h).
#include "engine/delivery/route_match.h"

#include <string>

#include "common/strings.h"

namespace postino::delivery {

namespace {
// Lowercase, without a trailing dot.
std::string Lower(std::string_view s) {
  if (!s.empty() && s.back() == '.') s.remove_suffix(1);
  return AsciiLower(s);
}
}  // namespace

const Route* MatchRoute(const std::vector<Route>& routes, std::string_view domain_in) {
  const std::string domain = Lower(domain_in);
  const Route* best = nullptr;
  int best_rank = -1;  // 0 = "*", 1 + suffix length = "*.suffix", max = exact
  for (const Route& r : routes) {
    const std::string pattern = Lower(r.domain_pattern);
    int rank = -1;
    if (pattern == "*") {
      rank = 0;
    } else if (pattern.size() > 2 && pattern[0] == '*' && pattern[1] == '.') {
      std::string_view suffix = std::string_view(pattern).substr(1);  // ".example.com"
      if (domain.size() > suffix.size() &&
          domain.compare(domain.size() - suffix.size(), suffix.size(), suffix) == 0) {
        rank = 1 + static_cast<int>(suffix.size());
      }
    } else if (pattern == domain) {
      rank = 1 << 20;
    }
    if (rank > best_rank) {
      best_rank = rank;
      best = &r;
    }
  }
  return best;
}

}  // namespace postino::delivery
