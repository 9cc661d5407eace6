// site.h: identifying an MX site (the set of MX hosts a domain resolves to)
// and matching domain / MX-host patterns ("gmail.com", "*.google.com", "*").
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "common/host_pattern.h"

namespace postino::shaping {

// The key of a site: MX host names lowercased, trailing dots removed,
// sorted, de-duplicated and joined with ','. Domains whose MX sets are equal
// share a site and therefore its limits ("MX rollup").
std::string MakeSiteKey(std::vector<std::string> mx_hosts);

// HostMatches and PatternSpecificity live in common/host_pattern.h.
using ::postino::HostMatches;
using ::postino::PatternSpecificity;

// True iff `pattern` matches at least one host of `site_key` (see
// MakeSiteKey), or matches the key as a whole.
bool SiteMatches(std::string_view pattern, std::string_view site_key);

}  // namespace postino::shaping
