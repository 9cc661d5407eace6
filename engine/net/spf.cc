// spf.cc: RFC 7208 check_host (see spf.h).
#include "engine/net/spf.h"

#include <arpa/inet.h>

#include <cstring>
#include <optional>
#include <vector>

#include "common/strings.h"

namespace postino::net {
namespace {

constexpr int kMaxLookups = 10;
constexpr int kMaxVoidLookups = 2;
constexpr int kMaxMxNames = 10;

struct Ip {
  int family = 0;  // AF_INET or AF_INET6
  unsigned char bytes[16]{};
};

std::optional<Ip> ParseIp(const std::string& text) {
  Ip ip;
  if (inet_pton(AF_INET, text.c_str(), ip.bytes) == 1) {
    ip.family = AF_INET;
    return ip;
  }
  if (inet_pton(AF_INET6, text.c_str(), ip.bytes) == 1) {
    ip.family = AF_INET6;
    // An IPv4-mapped IPv6 address is evaluated as IPv4 (§5).
    static const unsigned char kMapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    if (std::memcmp(ip.bytes, kMapped, 12) == 0) {
      std::memmove(ip.bytes, ip.bytes + 12, 4);
      ip.family = AF_INET;
    }
    return ip;
  }
  return std::nullopt;
}

bool InNetwork(const Ip& ip, const Ip& net, int prefix) {
  if (ip.family != net.family) return false;
  int bits = ip.family == AF_INET ? 32 : 128;
  if (prefix < 0 || prefix > bits) return false;
  int full = prefix / 8, rest = prefix % 8;
  if (std::memcmp(ip.bytes, net.bytes, static_cast<size_t>(full)) != 0) return false;
  if (rest == 0) return true;
  unsigned char mask = static_cast<unsigned char>(0xff << (8 - rest));
  return (ip.bytes[full] & mask) == (net.bytes[full] & mask);
}

class Evaluator {
 public:
  Evaluator(DnsLookup& dns, Ip ip, std::string ip_text, std::string sender)
      : dns_(dns), ip_(ip), ip_text_(std::move(ip_text)), sender_(std::move(sender)) {}

  SpfEvaluation Check(const std::string& domain, int depth) {
    SpfEvaluation ev;
    if (depth > kMaxLookups + 1) return Error(SpfResult::kPermError, "include/redirect loop");
    DnsAnswer txt = dns_.Txt(domain);
    if (txt.code == DnsAnswer::Code::kError) {
      return Error(SpfResult::kTempError, "TXT " + domain + ": " + txt.error);
    }
    std::vector<std::string> spf;
    for (const auto& r : txt.records) {
      if (StartsWithIgnoreCase(r, "v=spf1") && (r.size() == 6 || r[6] == ' ')) spf.push_back(r);
    }
    if (spf.empty()) {
      ev.result = SpfResult::kNone;
      ev.detail = "no SPF record at " + domain;
      return ev;
    }
    if (spf.size() > 1) {
      ev = Error(SpfResult::kPermError, "more than one SPF record at " + domain);
      ev.record = spf[0];
      return ev;
    }
    ev.record = spf[0];
    std::string redirect;
    std::vector<std::string> terms;
    for (std::string_view rest = std::string_view(spf[0]).substr(6); !rest.empty();) {
      size_t sp = rest.find(' ');
      std::string_view term = rest.substr(0, sp);
      rest = sp == std::string_view::npos ? std::string_view() : rest.substr(sp + 1);
      if (!term.empty()) terms.emplace_back(term);
    }
    for (const std::string& term : terms) {
      std::string lower = AsciiLower(term);
      if (StartsWithIgnoreCase(lower, "redirect=")) {
        redirect = term.substr(9);
        continue;
      }
      if (lower.find('=') != std::string::npos && lower.find(':') > lower.find('=')) continue;  // exp= and unknown modifiers
      char qualifier = '+';
      std::string mech = term;
      if (!mech.empty() && std::strchr("+-~?", mech[0]) != nullptr) {
        qualifier = mech[0];
        mech = mech.substr(1);
      }
      std::optional<bool> match = Match(mech, domain, &ev);
      if (!match) return Finish(ev, term);
      if (*match) {
        ev.result = qualifier == '+'   ? SpfResult::kPass
                    : qualifier == '-' ? SpfResult::kFail
                    : qualifier == '~' ? SpfResult::kSoftFail
                                       : SpfResult::kNeutral;
        ev.mechanism = term;
        if (depth > 0) ev.detail = "matched in " + domain;
        ev.lookups = lookups_;
        return ev;
      }
    }
    if (!redirect.empty()) {
      if (!Count(&ev)) return Finish(ev, "redirect=" + redirect);
      std::optional<std::string> target = Expand(redirect, domain);
      if (!target) return Finish(Error(SpfResult::kPermError, "bad macro in " + redirect), "");
      SpfEvaluation sub = Check(*target, depth + 1);
      std::string record = ev.record;
      if (sub.result == SpfResult::kNone) {
        sub = Error(SpfResult::kPermError, "redirect=" + *target + " has no SPF record");
      }
      sub.record = record;
      if (sub.mechanism.empty()) sub.mechanism = "redirect=" + *target;
      sub.lookups = lookups_;
      return sub;
    }
    ev.result = SpfResult::kNeutral;
    ev.mechanism = "default";
    ev.detail = "no mechanism matched and no all/redirect (neutral)";
    ev.lookups = lookups_;
    return ev;
  }

 private:
  SpfEvaluation Error(SpfResult r, std::string detail) {
    SpfEvaluation ev;
    ev.result = r;
    ev.detail = std::move(detail);
    ev.lookups = lookups_;
    return ev;
  }
  SpfEvaluation Finish(SpfEvaluation ev, const std::string& term) {
    if (ev.mechanism.empty()) ev.mechanism = term;
    ev.lookups = lookups_;
    return ev;
  }
  // One more DNS-querying term; false (permerror set) past the limit.
  bool Count(SpfEvaluation* ev) {
    if (++lookups_ > kMaxLookups) {
      ev->result = SpfResult::kPermError;
      ev->detail = "more than 10 DNS lookups (RFC 7208 §4.6.4)";
      return false;
    }
    return true;
  }
  bool Void(const DnsAnswer& a, SpfEvaluation* ev) {
    if (a.empty_answer() && ++voids_ > kMaxVoidLookups) {
      ev->result = SpfResult::kPermError;
      ev->detail = "more than 2 void DNS lookups (RFC 7208 §4.6.4)";
      return false;
    }
    return true;
  }

  // "%{d}" etc.; nullopt for macros this evaluator does not support.
  std::optional<std::string> Expand(const std::string& spec, const std::string& domain) {
    if (spec.find('%') == std::string::npos) return spec;
    std::string out;
    std::string sender = sender_.empty() ? "postmaster@" + domain : sender_;
    size_t at = sender.rfind('@');
    for (size_t i = 0; i < spec.size(); ++i) {
      if (spec[i] != '%') {
        out.push_back(spec[i]);
        continue;
      }
      if (i + 1 >= spec.size()) return std::nullopt;
      char c = spec[++i];
      if (c == '%') { out.push_back('%'); continue; }
      if (c == '_') { out.push_back(' '); continue; }
      if (c == '-') { out += "%20"; continue; }
      if (c != '{' || i + 2 >= spec.size() || spec[i + 2] != '}') return std::nullopt;
      char letter = static_cast<char>(std::tolower(static_cast<unsigned char>(spec[i + 1])));
      i += 2;
      switch (letter) {
        case 's': out += sender; break;
        case 'l': out += sender.substr(0, at); break;
        case 'o': out += sender.substr(at + 1); break;
        case 'd': out += domain; break;
        case 'h': out += domain; break;
        case 'i': out += ip_text_; break;
        default: return std::nullopt;
      }
    }
    return out;
  }

  // Splits "name/24//64" into name, v4 and v6 prefixes.
  static bool SplitCidr(std::string arg, std::string* name, int* p4, int* p6) {
    *p4 = 32;
    *p6 = 128;
    size_t dbl = arg.find("//");
    if (dbl != std::string::npos) {
      *p6 = std::atoi(arg.c_str() + dbl + 2);
      if (*p6 < 0 || *p6 > 128) return false;
      arg = arg.substr(0, dbl);
    }
    size_t slash = arg.find('/');
    if (slash != std::string::npos) {
      *p4 = std::atoi(arg.c_str() + slash + 1);
      if (*p4 < 0 || *p4 > 32) return false;
      arg = arg.substr(0, slash);
    }
    *name = arg;
    return true;
  }

  bool AddressMatches(const std::string& host, int p4, int p6, SpfEvaluation* ev,
                      std::optional<bool>* out) {
    DnsAnswer a = ip_.family == AF_INET ? dns_.A(host) : dns_.Aaaa(host);
    if (a.code == DnsAnswer::Code::kError) {
      ev->result = SpfResult::kTempError;
      ev->detail = "address lookup of " + host + ": " + a.error;
      *out = std::nullopt;
      return true;
    }
    if (!Void(a, ev)) {
      *out = std::nullopt;
      return true;
    }
    for (const auto& r : a.records) {
      std::optional<Ip> addr = ParseIp(r);
      if (addr && InNetwork(ip_, *addr, ip_.family == AF_INET ? p4 : p6)) {
        *out = true;
        return true;
      }
    }
    return false;
  }

  // true/false: matched or not; nullopt: an error ended evaluation (set in ev).
  std::optional<bool> Match(const std::string& mech, const std::string& domain,
                            SpfEvaluation* ev) {
    std::string lower = AsciiLower(mech);
    if (lower == "all") return true;
    if (StartsWithIgnoreCase(lower, "ip4:") || StartsWithIgnoreCase(lower, "ip6:")) {
      std::string net = mech.substr(4);
      int prefix = lower[2] == '4' ? 32 : 128;
      size_t slash = net.find('/');
      if (slash != std::string::npos) {
        prefix = std::atoi(net.c_str() + slash + 1);
        net = net.substr(0, slash);
      }
      std::optional<Ip> n = ParseIp(net);
      if (!n || (lower[2] == '4') != (n->family == AF_INET)) {
        ev->result = SpfResult::kPermError;
        ev->detail = "bad network in " + mech;
        return std::nullopt;
      }
      return InNetwork(ip_, *n, prefix);
    }
    if (lower == "a" || StartsWithIgnoreCase(lower, "a:") || StartsWithIgnoreCase(lower, "a/")) {
      if (!Count(ev)) return std::nullopt;
      std::string name;
      int p4, p6;
      std::string spec = lower.size() > 1 && lower[1] == ':' ? mech.substr(2) : domain + mech.substr(1);
      if (!SplitCidr(spec, &name, &p4, &p6)) {
        ev->result = SpfResult::kPermError;
        ev->detail = "bad prefix in " + mech;
        return std::nullopt;
      }
      std::optional<std::string> host = Expand(name, domain);
      if (!host) return Bad(mech, ev);
      std::optional<bool> out = false;
      AddressMatches(*host, p4, p6, ev, &out);
      return out;
    }
    if (lower == "mx" || StartsWithIgnoreCase(lower, "mx:") || StartsWithIgnoreCase(lower, "mx/")) {
      if (!Count(ev)) return std::nullopt;
      std::string name;
      int p4, p6;
      std::string spec = lower.size() > 2 && lower[2] == ':' ? mech.substr(3) : domain + mech.substr(2);
      if (!SplitCidr(spec, &name, &p4, &p6)) return Bad(mech, ev);
      std::optional<std::string> host = Expand(name, domain);
      if (!host) return Bad(mech, ev);
      DnsAnswer mx = dns_.Mx(*host);
      if (mx.code == DnsAnswer::Code::kError) {
        ev->result = SpfResult::kTempError;
        ev->detail = "MX " + *host + ": " + mx.error;
        return std::nullopt;
      }
      if (!Void(mx, ev)) return std::nullopt;
      if (mx.records.size() > static_cast<size_t>(kMaxMxNames)) {
        ev->result = SpfResult::kPermError;
        ev->detail = "more than 10 MX names for " + *host;
        return std::nullopt;
      }
      for (const auto& r : mx.records) {
        std::string exchange = r.substr(r.find(' ') + 1);
        std::optional<bool> out = false;
        if (AddressMatches(exchange, p4, p6, ev, &out)) return out;
      }
      return false;
    }
    if (StartsWithIgnoreCase(lower, "include:")) {
      if (!Count(ev)) return std::nullopt;
      std::optional<std::string> target = Expand(mech.substr(8), domain);
      if (!target) return Bad(mech, ev);
      SpfEvaluation sub = Check(*target, ++depth_);
      switch (sub.result) {
        case SpfResult::kPass:
          ev->detail = "via include:" + *target;
          return true;
        case SpfResult::kFail:
        case SpfResult::kSoftFail:
        case SpfResult::kNeutral:
          return false;
        case SpfResult::kTempError:
          ev->result = SpfResult::kTempError;
          ev->detail = sub.detail;
          return std::nullopt;
        default:
          ev->result = SpfResult::kPermError;
          ev->detail = "include:" + *target + ": " +
                       (sub.result == SpfResult::kNone ? "no SPF record" : sub.detail);
          return std::nullopt;
      }
    }
    if (StartsWithIgnoreCase(lower, "exists:")) {
      if (!Count(ev)) return std::nullopt;
      std::optional<std::string> host = Expand(mech.substr(7), domain);
      if (!host) return Bad(mech, ev);
      DnsAnswer a = dns_.A(*host);
      if (a.code == DnsAnswer::Code::kError) {
        ev->result = SpfResult::kTempError;
        ev->detail = "A " + *host + ": " + a.error;
        return std::nullopt;
      }
      if (!Void(a, ev)) return std::nullopt;
      return !a.records.empty();
    }
    if (lower == "ptr" || StartsWithIgnoreCase(lower, "ptr:")) {
      if (!Count(ev)) return std::nullopt;
      std::string target = AsciiLower(lower == "ptr" ? domain : mech.substr(4));
      DnsAnswer names = dns_.Ptr(ip_text_);
      for (const auto& n : names.records) {
        std::string ln = AsciiLower(n);
        if (ln != target && !(ln.size() > target.size() &&
                              ln.compare(ln.size() - target.size(), target.size(), target) == 0 &&
                              ln[ln.size() - target.size() - 1] == '.')) {
          continue;
        }
        std::optional<bool> out = false;
        if (AddressMatches(n, 32, 128, ev, &out) && out.value_or(false)) return true;
      }
      return false;
    }
    return Bad(mech, ev);
  }

  std::optional<bool> Bad(const std::string& mech, SpfEvaluation* ev) {
    ev->result = SpfResult::kPermError;
    ev->detail = "unknown or malformed term \"" + mech + "\"";
    return std::nullopt;
  }

  DnsLookup& dns_;
  Ip ip_;
  std::string ip_text_;
  std::string sender_;
  int lookups_ = 0;
  int voids_ = 0;
  int depth_ = 0;
};

}  // namespace

const char* SpfResultName(SpfResult r) {
  switch (r) {
    case SpfResult::kNone: return "none";
    case SpfResult::kNeutral: return "neutral";
    case SpfResult::kPass: return "pass";
    case SpfResult::kFail: return "fail";
    case SpfResult::kSoftFail: return "softfail";
    case SpfResult::kTempError: return "temperror";
    case SpfResult::kPermError: return "permerror";
  }
  return "?";
}

SpfEvaluation CheckSpf(DnsLookup& dns, const std::string& ip, const std::string& domain,
                       const std::string& sender) {
  std::optional<Ip> parsed = ParseIp(ip);
  if (!parsed) {
    SpfEvaluation ev;
    ev.result = SpfResult::kPermError;
    ev.detail = "not an IP address: " + ip;
    return ev;
  }
  Evaluator e(dns, *parsed, ip, sender);
  return e.Check(AsciiLower(domain), 0);
}

}  // namespace postino::net
