// spf.h: SPF evaluation (RFC 7208 check_host) of one source address for a
// domain, over a DnsLookup: ip4, ip6, a, mx, ptr, exists, include, redirect
// and all, with the limit of 10 DNS-querying terms (§4.6.4), at most 10 MX
// names per mx term and 2 void lookups. Macros (§7) are expanded for the
// letters s, l, o, d, i, h without transformers; others are a permerror.
#pragma once

#include <string>

#include "engine/net/dns_query.h"

namespace postino::net {

enum class SpfResult { kNone, kNeutral, kPass, kFail, kSoftFail, kTempError, kPermError };
const char* SpfResultName(SpfResult r);

struct SpfEvaluation {
  SpfResult result = SpfResult::kNone;
  std::string record;     // the SPF record of the domain ("" = none)
  std::string mechanism;  // the term that decided ("ip4:192.0.2.0/24", "include:x", "default")
  std::string detail;     // why (errors, the domain the match was found in)
  int lookups = 0;        // DNS-querying terms used
};

// `ip`: the source address; `domain`: the MAIL FROM (or HELO) domain;
// `sender`: the MAIL FROM address for macros ("" = postmaster@domain).
SpfEvaluation CheckSpf(DnsLookup& dns, const std::string& ip, const std::string& domain,
                       const std::string& sender = "");

}  // namespace postino::net
