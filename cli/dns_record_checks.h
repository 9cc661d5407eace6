// dns_record_checks.h: the checks behind `postino dns check` (MX, SPF per
// source, DKIM per key, DMARC and alignment, PTR with forward confirmation,
// MTA-STS), each a row with its result and the fix.
#pragma once

#include <string>
#include <vector>

#include "config/config.h"
#include "engine/net/dns_query.h"

namespace postino::cli {

struct DnsCheckRow {
  std::string check;    // mx, spf, dkim, dmarc, ptr, mta-sts
  std::string subject;  // what was checked: a name, "source ip1 192.0.2.1"
  std::string result;   // pass, warn or fail
  std::string detail;   // what was found
  std::string fix;      // what to publish or change ("" on pass)
};

std::vector<DnsCheckRow> CheckDomainDns(net::DnsLookup& dns, const config::Config& config,
                                        const std::string& domain);

}  // namespace postino::cli
