// route_match.h: picks the route for a recipient domain; the most specific
// pattern wins: exact domain > longest "*.suffix" > "*".
#pragma once

#include <string_view>
#include <vector>

#include "engine/delivery/engine.h"

namespace postino::delivery {

// The matching route, or nullptr (deliver by MX). `domain` is lowercase ASCII.
const Route* MatchRoute(const std::vector<Route>& routes, std::string_view domain);

}  // namespace postino::delivery
