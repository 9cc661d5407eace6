// dns_record_checks.cc: see dns_record_checks.h. Alignment uses the
// organizational domain approximated as the last two labels (no public
// suffix list here): "mail.example.com" and "example.com" align relaxed.
#include "cli/dns_record_checks.h"

#include <fmt/format.h>

#include <fstream>
#include <map>
#include <sstream>

#include "common/strings.h"
#include "engine/net/spf.h"
#include "templates/dkim.h"

namespace postino::cli {
namespace {

using net::DnsAnswer;

DnsCheckRow Row(std::string check, std::string subject, std::string result, std::string detail,
                std::string fix = "") {
  return {std::move(check), std::move(subject), std::move(result), std::move(detail),
          std::move(fix)};
}

// "k=v; k2=v2" tag lists (DKIM, DMARC, MTA-STS): lowercase tags, trimmed values.
std::map<std::string, std::string> Tags(std::string_view record) {
  std::map<std::string, std::string> out;
  while (!record.empty()) {
    size_t semi = record.find(';');
    std::string_view part = record.substr(0, semi);
    record = semi == std::string_view::npos ? std::string_view() : record.substr(semi + 1);
    size_t eq = part.find('=');
    if (eq == std::string_view::npos) continue;
    std::string value;
    for (char c : Trim(part.substr(eq + 1))) {
      if (c != ' ' && c != '\t') value.push_back(c);  // p= may be split by spaces
    }
    out[AsciiLower(Trim(part.substr(0, eq)))] = value;
  }
  return out;
}

std::string OrgDomain(const std::string& d) {
  size_t last = d.rfind('.');
  if (last == std::string::npos || last == 0) return d;
  size_t prev = d.rfind('.', last - 1);
  return prev == std::string::npos ? d : d.substr(prev + 1);
}

bool Aligned(const std::string& a, const std::string& b, bool strict) {
  return strict ? AsciiLower(a) == AsciiLower(b) : OrgDomain(AsciiLower(a)) == OrgDomain(AsciiLower(b));
}

std::string Trunc(const std::string& s, size_t n = 90) {
  return s.size() <= n ? s : s.substr(0, n) + "…";
}

void CheckMx(net::DnsLookup& dns, const std::string& domain, std::vector<DnsCheckRow>* out) {
  DnsAnswer mx = dns.Mx(domain);
  if (mx.ok()) {
    std::string hosts;
    for (const auto& r : mx.records) hosts += (hosts.empty() ? "" : ", ") + r;
    out->push_back(Row("mx", domain, "pass", "MX " + Trunc(hosts)));
  } else if (mx.code == DnsAnswer::Code::kNxDomain) {
    out->push_back(Row("mx", domain, "fail", "the domain does not exist (NXDOMAIN)",
                       "publish the domain's zone with an MX record"));
  } else if (mx.code == DnsAnswer::Code::kNoData) {
    out->push_back(Row("mx", domain, "warn", "no MX record (mail to it goes to its A record)",
                       fmt::format("publish \"{}. MX 10 mail.{}.\" so replies and bounces arrive",
                                   domain, domain)));
  } else {
    out->push_back(Row("mx", domain, "fail", "lookup failed: " + mx.error, "check the DNS servers"));
  }
}

void CheckSpfFor(net::DnsLookup& dns, const config::Config& c, const std::string& domain,
                 std::vector<DnsCheckRow>* out) {
  if (c.sources.empty()) {
    out->push_back(Row("spf", domain, "warn", "no [[sources]] configured: nothing to evaluate"));
  }
  for (const auto& s : c.sources) {
    net::SpfEvaluation ev = net::CheckSpf(dns, s.address, domain);
    std::string subject = fmt::format("{} for {} ({})", domain, s.name, s.address);
    std::string detail = fmt::format("{} by {}{}{}; {} lookup(s)", net::SpfResultName(ev.result),
                                     ev.mechanism.empty() ? "-" : ev.mechanism,
                                     ev.detail.empty() ? "" : ": ", ev.detail, ev.lookups);
    const std::string mech = s.address.find(':') != std::string::npos ? "ip6:" : "ip4:";
    switch (ev.result) {
      case net::SpfResult::kPass:
        out->push_back(Row("spf", subject, "pass", detail));
        break;
      case net::SpfResult::kNone:
        out->push_back(Row("spf", subject, "fail", "no SPF record",
                           fmt::format("publish TXT \"v=spf1 {}{} -all\" at {}", mech, s.address,
                                       domain)));
        break;
      case net::SpfResult::kPermError:
        out->push_back(Row("spf", subject, "fail", detail,
                           "fix the record: one v=spf1 record, at most 10 DNS-querying terms "
                           "(flatten includes into ip4:/ip6:)"));
        break;
      case net::SpfResult::kTempError:
        out->push_back(Row("spf", subject, "fail", detail, "check the DNS servers and retry"));
        break;
      default:
        out->push_back(Row("spf", subject, "fail", detail,
                           fmt::format("add {}{} to the SPF record of {} (before its all)", mech,
                                       s.address, domain)));
    }
  }
}

std::string ReadAll(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

// The p= of the record `postino dkim keygen` would print for the key file.
std::string ConfiguredPublicKey(const config::DkimKeyConfig& k, std::string* error) {
  std::string pem = ReadAll(k.key_file);
  if (pem.empty()) {
    *error = "key file " + k.key_file + " cannot be read";
    return "";
  }
  Result<std::string> record = templates::DkimDnsRecordForKey(k.domain, k.selector, pem);
  if (!record.ok()) {
    *error = record.status().message();
    return "";
  }
  // `sel._domainkey.d. IN TXT "v=DKIM1; k=rsa; p=AAA" "BBB"`: join the strings.
  std::string joined;
  bool in = false;
  for (char ch : *record) {
    if (ch == '"') {
      in = !in;
      continue;
    }
    if (in) joined.push_back(ch);
  }
  return Tags(joined)["p"];
}

void CheckDkim(net::DnsLookup& dns, const config::Config& c, const std::string& domain,
               std::vector<DnsCheckRow>* out) {
  bool any = false;
  for (const auto& k : c.dkim.keys) {
    if (!EqualsIgnoreCase(k.domain, domain) && !Aligned(k.domain, domain, false)) continue;
    any = true;
    const std::string name = k.selector + "._domainkey." + k.domain;
    std::string error;
    std::string want = ConfiguredPublicKey(k, &error);
    DnsAnswer txt = dns.Txt(name);
    const std::string fix = fmt::format(
        "publish the TXT record printed by `postino dkim keygen` for this key (or derive it "
        "from {})",
        k.key_file);
    if (!txt.ok()) {
      out->push_back(Row("dkim", name, "fail",
                         txt.empty_answer() ? "no TXT record" : "lookup failed: " + txt.error, fix));
      continue;
    }
    std::string found;
    for (const auto& r : txt.records) {
      auto tags = Tags(r);
      if (tags.count("p")) found = tags["p"];
    }
    if (found.empty()) {
      out->push_back(Row("dkim", name, "fail", "TXT record without a public key (p= empty: revoked)", fix));
    } else if (want.empty()) {
      out->push_back(Row("dkim", name, "fail", "configured key unusable: " + error,
                         "fix [dkim] key_file (`postino config check`)"));
    } else if (found != want) {
      out->push_back(Row("dkim", name, "fail", "published public key does not match " + k.key_file,
                         fix));
    } else {
      out->push_back(Row("dkim", name, "pass", "public key matches " + k.key_file));
    }
  }
  if (!any) {
    out->push_back(Row("dkim", domain, "fail", "no [[dkim.keys]] entry signs for this domain",
                       fmt::format("`postino dkim keygen --domain {} --selector s1`, add the key "
                                   "to [dkim], publish the record",
                                   domain)));
  }
}

void CheckDmarc(net::DnsLookup& dns, const config::Config& c, const std::string& domain,
                std::vector<DnsCheckRow>* out) {
  std::string name = "_dmarc." + domain;
  DnsAnswer txt = dns.Txt(name);
  std::string record;
  for (const auto& r : txt.records) {
    if (StartsWithIgnoreCase(r, "v=DMARC1")) record = r;
  }
  if (record.empty() && OrgDomain(domain) != domain) {
    name = "_dmarc." + OrgDomain(domain);
    for (const auto& r : dns.Txt(name).records) {
      if (StartsWithIgnoreCase(r, "v=DMARC1")) record = r;
    }
  }
  if (record.empty()) {
    out->push_back(Row("dmarc", "_dmarc." + domain, "fail", "no DMARC record",
                       fmt::format("publish TXT \"v=DMARC1; p=none; rua=mailto:dmarc@{}\" at "
                                   "_dmarc.{} (then move to quarantine/reject)",
                                   domain, domain)));
    return;
  }
  auto tags = Tags(record);
  std::string p = AsciiLower(tags["p"]);
  if (p != "none" && p != "quarantine" && p != "reject") {
    out->push_back(Row("dmarc", name, "fail", "p= missing or invalid in \"" + Trunc(record) + "\"",
                       "set p=none, quarantine or reject"));
    return;
  }
  out->push_back(Row("dmarc", name, p == "none" ? "warn" : "pass",
                     "p=" + p + (tags.count("rua") ? ", rua=" + tags["rua"] : ", no rua"),
                     p == "none" ? "p=none only monitors; move to p=quarantine once reports are clean"
                                 : ""));
  // Alignment: DKIM d= of the keys for this domain, SPF of the envelope domain.
  bool strict_dkim = AsciiLower(tags["adkim"]) == "s";
  bool strict_spf = AsciiLower(tags["aspf"]) == "s";
  bool dkim_aligned = false;
  std::string dkim_domains;
  for (const auto& k : c.dkim.keys) {
    if (!Aligned(k.domain, domain, false)) continue;
    dkim_domains += (dkim_domains.empty() ? "" : ", ") + k.domain;
    dkim_aligned |= Aligned(k.domain, domain, strict_dkim);
  }
  std::string envelope = c.campaign_defaults.verp_domain.empty() ? domain
                                                                 : c.campaign_defaults.verp_domain;
  bool spf_aligned = Aligned(envelope, domain, strict_spf);
  std::string detail = fmt::format("DKIM d={} ({}, adkim={}); envelope {} ({}, aspf={})",
                                   dkim_domains.empty() ? "-" : dkim_domains,
                                   dkim_aligned ? "aligned" : "not aligned",
                                   strict_dkim ? "s" : "r", envelope,
                                   spf_aligned ? "aligned" : "not aligned", strict_spf ? "s" : "r");
  if (dkim_aligned && spf_aligned) {
    out->push_back(Row("dmarc-alignment", domain, "pass", detail));
  } else if (dkim_aligned || spf_aligned) {
    out->push_back(Row("dmarc-alignment", domain, "warn", detail,
                       spf_aligned ? "sign with a key of d=" + domain
                                   : "use a VERP domain under " + OrgDomain(domain) +
                                         (strict_spf ? " (aspf=s: exactly " + domain + ")" : "")));
  } else {
    out->push_back(Row("dmarc-alignment", domain, "fail", detail,
                       "sign with a DKIM key of d=" + domain + " ([dkim] keys)"));
  }
}

void CheckPtr(net::DnsLookup& dns, const config::Config& c, std::vector<DnsCheckRow>* out) {
  for (const auto& s : c.sources) {
    std::string subject = fmt::format("{} ({})", s.address, s.name);
    DnsAnswer names = dns.Ptr(s.address);
    if (!names.ok()) {
      out->push_back(Row("ptr", subject, "fail",
                         names.empty_answer() ? "no PTR record" : "lookup failed: " + names.error,
                         fmt::format("ask the owner of {} for a PTR to a name whose A/AAAA is {}",
                                     s.address, s.address)));
      continue;
    }
    std::string confirmed;
    for (const auto& n : names.records) {
      DnsAnswer fwd = s.address.find(':') != std::string::npos ? dns.Aaaa(n) : dns.A(n);
      for (const auto& a : fwd.records) {
        if (a == s.address) confirmed = n;
      }
      if (!confirmed.empty()) break;
    }
    if (confirmed.empty()) {
      out->push_back(Row("ptr", subject, "fail",
                         "PTR " + names.records[0] + " does not resolve back to " + s.address,
                         fmt::format("publish {}. A {} (forward-confirmed reverse DNS)",
                                     names.records[0], s.address)));
      continue;
    }
    const std::string ehlo = s.ehlo.empty() ? c.node.id : s.ehlo;
    if (!ehlo.empty() && !EqualsIgnoreCase(ehlo, confirmed)) {
      out->push_back(Row("ptr", subject, "warn",
                         "PTR " + confirmed + " is forward-confirmed; EHLO name is " + ehlo,
                         "set sources.ehlo = \"" + confirmed + "\""));
    } else {
      out->push_back(Row("ptr", subject, "pass", "PTR " + confirmed + " is forward-confirmed"));
    }
  }
}

void CheckMtaSts(net::DnsLookup& dns, const std::string& domain, std::vector<DnsCheckRow>* out) {
  const std::string name = "_mta-sts." + domain;
  DnsAnswer txt = dns.Txt(name);
  std::string record;
  for (const auto& r : txt.records) {
    if (StartsWithIgnoreCase(r, "v=STSv1")) record = r;
  }
  if (record.empty()) {
    out->push_back(Row("mta-sts", name, "warn", "no MTA-STS record (optional)",
                       fmt::format("publish TXT \"v=STSv1; id=20260101\" at {} and the policy at "
                                   "https://mta-sts.{}/.well-known/mta-sts.txt",
                                   name, domain)));
    return;
  }
  auto tags = Tags(record);
  if (tags["id"].empty()) {
    out->push_back(Row("mta-sts", name, "fail", "record without id=", "add id=<1-32 alphanumerics>"));
    return;
  }
  out->push_back(Row("mta-sts", name, "pass", "v=STSv1 id=" + tags["id"]));
}

}  // namespace

std::vector<DnsCheckRow> CheckDomainDns(net::DnsLookup& dns, const config::Config& config,
                                        const std::string& domain_in) {
  std::string domain = AsciiLower(domain_in);
  while (!domain.empty() && domain.back() == '.') domain.pop_back();
  std::vector<DnsCheckRow> out;
  CheckMx(dns, domain, &out);
  CheckSpfFor(dns, config, domain, &out);
  const std::string& verp = config.campaign_defaults.verp_domain;
  if (!verp.empty() && !EqualsIgnoreCase(verp, domain)) CheckSpfFor(dns, config, verp, &out);
  CheckDkim(dns, config, domain, &out);
  CheckDmarc(dns, config, domain, &out);
  CheckPtr(dns, config, &out);
  CheckMtaSts(dns, domain, &out);
  return out;
}

}  // namespace postino::cli
