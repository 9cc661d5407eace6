// spf_test.cc: RFC 7208 evaluation (engine/net/spf.h) over an in-memory
// zone: mechanisms, qualifiers, include/redirect, CIDR, the 10-lookup and
// 2-void-lookup limits, macros. The real resolver is covered by
// dns_check_cli_test.cc against dnsmasq.
#include "engine/net/spf.h"

#include <gtest/gtest.h>

#include <map>
#include <string>

namespace postino::net {
namespace {

class Zone : public DnsLookup {
 public:
  std::map<std::string, std::vector<std::string>> txt, a, aaaa, mx, ptr;
  DnsAnswer Txt(const std::string& n) override { return Get(txt, n); }
  DnsAnswer A(const std::string& n) override { return Get(a, n); }
  DnsAnswer Aaaa(const std::string& n) override { return Get(aaaa, n); }
  DnsAnswer Mx(const std::string& n) override { return Get(mx, n); }
  DnsAnswer Ptr(const std::string& n) override { return Get(ptr, n); }

 private:
  static DnsAnswer Get(const std::map<std::string, std::vector<std::string>>& m,
                       const std::string& n) {
    DnsAnswer out;
    auto it = m.find(n);
    if (it == m.end()) {
      out.code = DnsAnswer::Code::kNxDomain;
    } else {
      out.records = it->second;
    }
    return out;
  }
};

TEST(SpfTest, MechanismsAndQualifiers) {
  Zone z;
  z.txt["ex.test"] = {"some other txt", "v=spf1 ip4:192.0.2.0/24 ip6:2001:db8::/32 a mx ~all"};
  z.a["ex.test"] = {"198.51.100.7"};
  z.mx["ex.test"] = {"10 mx.ex.test"};
  z.a["mx.ex.test"] = {"203.0.113.5"};
  EXPECT_EQ(CheckSpf(z, "192.0.2.77", "ex.test").result, SpfResult::kPass);
  EXPECT_EQ(CheckSpf(z, "2001:db8::1", "ex.test").result, SpfResult::kPass);
  EXPECT_EQ(CheckSpf(z, "198.51.100.7", "ex.test").mechanism, "a");
  SpfEvaluation mx = CheckSpf(z, "203.0.113.5", "ex.test");
  EXPECT_EQ(mx.result, SpfResult::kPass);
  EXPECT_EQ(mx.mechanism, "mx");
  EXPECT_EQ(mx.lookups, 2);
  EXPECT_EQ(CheckSpf(z, "10.0.0.1", "ex.test").result, SpfResult::kSoftFail);
  EXPECT_EQ(CheckSpf(z, "::ffff:192.0.2.1", "ex.test").result, SpfResult::kPass);  // mapped v4
  EXPECT_EQ(CheckSpf(z, "10.0.0.1", "none.test").result, SpfResult::kNone);
}

TEST(SpfTest, IncludeRedirectAndErrors) {
  Zone z;
  z.txt["a.test"] = {"v=spf1 include:b.test -all"};
  z.txt["b.test"] = {"v=spf1 ip4:10.1.0.0/16 -all"};
  z.txt["r.test"] = {"v=spf1 redirect=b.test"};
  z.txt["bad.test"] = {"v=spf1 include:missing.test -all"};
  z.txt["two.test"] = {"v=spf1 -all", "v=spf1 +all"};
  z.txt["junk.test"] = {"v=spf1 ip4:999.1.1.1 -all"};
  EXPECT_EQ(CheckSpf(z, "10.1.2.3", "a.test").result, SpfResult::kPass);
  EXPECT_EQ(CheckSpf(z, "10.2.2.3", "a.test").result, SpfResult::kFail);
  EXPECT_EQ(CheckSpf(z, "10.1.2.3", "r.test").result, SpfResult::kPass);
  EXPECT_EQ(CheckSpf(z, "10.9.2.3", "r.test").result, SpfResult::kFail);
  EXPECT_EQ(CheckSpf(z, "10.1.2.3", "bad.test").result, SpfResult::kPermError);
  EXPECT_EQ(CheckSpf(z, "10.1.2.3", "two.test").result, SpfResult::kPermError);
  EXPECT_EQ(CheckSpf(z, "10.1.2.3", "junk.test").result, SpfResult::kPermError);
}

TEST(SpfTest, TheTenLookupLimit) {
  Zone z;
  for (int i = 0; i < 12; ++i) {
    z.txt["l" + std::to_string(i) + ".test"] = {"v=spf1 include:l" + std::to_string(i + 1) + ".test -all"};
  }
  z.txt["l12.test"] = {"v=spf1 ip4:10.0.0.1 -all"};
  SpfEvaluation ev = CheckSpf(z, "10.0.0.1", "l0.test");
  EXPECT_EQ(ev.result, SpfResult::kPermError);
  EXPECT_NE(ev.detail.find("more than 10 DNS lookups"), std::string::npos) << ev.detail;
  // Ten are fine.
  z.txt["l10.test"] = {"v=spf1 ip4:10.0.0.1 -all"};
  EXPECT_EQ(CheckSpf(z, "10.0.0.1", "l0.test").result, SpfResult::kPass);
}

TEST(SpfTest, VoidLookupsAndMacros) {
  Zone z;
  z.txt["v.test"] = {"v=spf1 a:x1.v.test a:x2.v.test a:x3.v.test -all"};
  EXPECT_EQ(CheckSpf(z, "10.0.0.1", "v.test").result, SpfResult::kPermError);
  z.txt["m.test"] = {"v=spf1 exists:%{i}._spf.%{d} -all"};
  z.a["10.0.0.9._spf.m.test"] = {"127.0.0.2"};
  EXPECT_EQ(CheckSpf(z, "10.0.0.9", "m.test").result, SpfResult::kPass);
  EXPECT_EQ(CheckSpf(z, "10.0.0.8", "m.test").result, SpfResult::kFail);
}

}  // namespace
}  // namespace postino::net
