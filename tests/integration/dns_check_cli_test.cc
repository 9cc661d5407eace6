// dns_check_cli_test.cc: `postino dns check` against a local dnsmasq serving
// a good zone (every check passes, exit 0) and broken ones (SPF without the
// source, an SPF include chain over 10 lookups, a DKIM record of another
// key, no DMARC, a PTR that does not resolve back: exit 1, each named with
// its fix). Skipped when dnsmasq is not installed.
#include <fmt/format.h>
#include <unistd.h>

#include <string>
#include <thread>
#include <vector>

#include "tests/integration/postino_fixture.h"

namespace postino::testing {
namespace {

bool HaveDnsmasq() {
  for (const char* dir : {"/usr/sbin/dnsmasq", "/usr/bin/dnsmasq", "/sbin/dnsmasq"}) {
    if (access(dir, X_OK) == 0) return true;
  }
  return false;
}

// The base64 p= of `postino dkim keygen` output.
std::string PublicKeyOf(const std::string& keygen_out) {
  std::string joined;
  bool in = false;
  for (char c : keygen_out) {
    if (c == '"') {
      in = !in;
    } else if (in) {
      joined.push_back(c);
    }
  }
  size_t p = joined.find("p=");
  return p == std::string::npos ? "" : joined.substr(p + 2);
}

class DnsCheckTest : public PostinoTest {
 protected:
  void SetUp() override {
    if (!HaveDnsmasq()) GTEST_SKIP() << "dnsmasq is not installed (apt-get install dnsmasq)";
    PostinoTest::SetUp();
  }

  void StartDns(const std::vector<std::string>& records) {
    port_ = FreePort();
    std::vector<std::string> argv = {"dnsmasq", "--no-daemon", fmt::format("--port={}", port_),
                                     "--listen-address=127.0.0.1", "--bind-interfaces",
                                     "--no-resolv", "--no-hosts", "--user=root"};
    argv.insert(argv.end(), records.begin(), records.end());
    dns_ = std::make_unique<BackgroundProcess>(argv, std::map<std::string, std::string>{},
                                               dir_ + "/dnsmasq.log");
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
    ASSERT_TRUE(dns_->Running()) << "dnsmasq did not start (see " << dir_ << "/dnsmasq.log)";
  }

  ProcessResult Check(const std::string& domain, const std::string& format = "table") {
    return Postino({"dns", "check", "--domain", domain, "--dns-server",
                    fmt::format("127.0.0.1:{}", port_), "--format", format});
  }

  // A config with source lo = 127.0.0.1 and a DKIM key s1 for good.test.
  std::string Key() {
    std::string key = dir_ + "/s1.pem";
    ProcessResult kg = Postino({"dkim", "keygen", "--domain", "good.test", "--selector", "s1",
                                "--out", key});
    EXPECT_EQ(kg.exit_code, 0) << kg.err;
    WriteConfig(25, fmt::format("[[dkim.keys]]\ndomain = \"good.test\"\nselector = \"s1\"\n"
                                "key_file = \"{}\"\n[[dkim.keys]]\ndomain = \"broken.test\"\n"
                                "selector = \"s1\"\nkey_file = \"{}\"\n",
                                key, key));
    return PublicKeyOf(kg.out);
  }

  int port_ = 0;
  std::unique_ptr<BackgroundProcess> dns_;
};

TEST_F(DnsCheckTest, AGoodZonePassesEveryCheck) {
  std::string p = Key();
  ASSERT_FALSE(p.empty());
  StartDns({"--mx-host=good.test,mx.good.test,10", "--host-record=mx.good.test,127.0.0.9",
            "--host-record=test.postino.example,127.0.0.1",
            "--txt-record=good.test,v=spf1 a:mx.good.test include:_spf.good.test ~all",
            "--txt-record=_spf.good.test,v=spf1 ip4:127.0.0.0/24 -all",
            "--txt-record=s1._domainkey.good.test,v=DKIM1; k=rsa; p=" + p,
            "--txt-record=_dmarc.good.test,v=DMARC1; p=reject; rua=mailto:d@good.test",
            "--txt-record=_mta-sts.good.test,v=STSv1; id=20261202",
            "--ptr-record=1.0.0.127.in-addr.arpa,test.postino.example"});
  ProcessResult r = Check("good.test");
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("good.test: 7 passed, 0 warning(s), 0 failed"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("via include:_spf.good.test"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("2 lookup(s)"), std::string::npos) << r.out;
}

TEST_F(DnsCheckTest, ABrokenZoneFailsWithTheFix) {
  Key();
  std::vector<std::string> records = {
      "--mx-host=broken.test,mx.broken.test,10", "--host-record=mx.broken.test,127.0.0.9",
      "--host-record=elsewhere.test,127.0.0.77",
      "--txt-record=broken.test,v=spf1 ip4:192.0.2.0/24 -all",
      // Another key than the configured one.
      "--txt-record=s1._domainkey.broken.test,v=DKIM1; k=rsa; p=MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEA",
      // A PTR that does not resolve back to the source.
      "--ptr-record=1.0.0.127.in-addr.arpa,elsewhere.test",
      // An include chain over the 10-lookup limit.
      "--txt-record=loop.test,v=spf1 include:l1.loop.test -all"};
  for (int i = 1; i <= 11; ++i) {
    records.push_back(fmt::format("--txt-record=l{}.loop.test,v=spf1 include:l{}.loop.test -all", i,
                                  i + 1));
  }
  records.push_back("--txt-record=l12.loop.test,v=spf1 ip4:127.0.0.1 -all");
  StartDns(records);
  ProcessResult r = Check("broken.test", "json");
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  EXPECT_NE(r.out.find("\"fail\": 4"), std::string::npos) << r.out;  // spf, dkim, dmarc, ptr
  EXPECT_NE(r.out.find("add ip4:127.0.0.1 to the SPF record of broken.test"), std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("published public key does not match"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("no DMARC record"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("does not resolve back to 127.0.0.1"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("no MTA-STS record"), std::string::npos) << r.out;

  ProcessResult loop = Check("loop.test");
  EXPECT_EQ(loop.exit_code, 1);
  EXPECT_NE(loop.out.find("more than 10 DNS lookups"), std::string::npos) << loop.out;
}

}  // namespace
}  // namespace postino::testing
