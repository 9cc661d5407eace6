// site.h: identifying an MX site (the set of MX hosts a domain resolves to)
// and matching domain / MX-host patterns ("gmail.com", "*.google.com", "*").
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/host_pattern.h"

namespace postino::shaping {

// The key of a site: MX host names lowercased, trailing dots removed,
// sorted, de-duplicated and joined with ','. Domains whose MX sets are equal
// share a site and therefore its limits ("MX rollup").
std::string MakeSiteKey(std::vector<std::string> mx_hosts);

// The key of a static route's site: its host AND port ("relay.example.com:2525",
// "[::1]:2525"), so two routes to one host on different ports are two sites
// with their own limits, warm-up counts and suspensions. Patterns naming the
// host alone still match it (common/host_pattern.h SiteMatches).
std::string MakeStaticSiteKey(std::string_view host, uint16_t port);

// Matching a site key against a pattern (SiteMatches) and host names
// (HostMatches) lives in common/host_pattern.h.

}  // namespace postino::shaping
