// host_pattern.h: matching host names against domain / MX-host patterns
// ("gmail.com", "*.google.com", "*"), shared by config/ (limit rules),
// engine/shaping/ (sites, warm-up caps) and engine/policy/ (rules for a site),
// which must not depend on each other.
#pragma once

#include <string_view>

namespace postino {

// Matches one host name against a pattern, case-insensitively; trailing dots
// are ignored:
//   "*"              any host
//   "*.google.com"   google.com itself and any name below it
//   "gmail.com"      exactly that name
bool HostMatches(std::string_view pattern, std::string_view host);

// Specificity of a pattern, for "most specific first": exact names beat
// wildcards, longer suffixes beat shorter ones, "*" is least specific.
int PatternSpecificity(std::string_view pattern);

// True iff `pattern` matches at least one host of `site_key` (the MX host
// names joined with ',', shaping::MakeSiteKey), or matches the key as a whole.
// A static route's key "host:port" / "[v6]:port" (shaping::MakeStaticSiteKey)
// is matched by the host without its port as well.
bool SiteMatches(std::string_view pattern, std::string_view site_key);

}  // namespace postino
