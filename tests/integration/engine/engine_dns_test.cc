// engine_dns_test.cc: MX resolution against a real dnsmasq started by the
// test (the resolver alone, then the engine): preference order, shuffling
// of equal preferences, implicit MX, null MX, NXDOMAIN, an unanswering
// server, next MX after a 4xx banner or a refused connection.
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <filesystem>
#include <set>

#include "engine/net/mx_resolver.h"
#include "tests/fakemx/fake_mx.h"
#include "tests/integration/engine/engine_fixture.h"

namespace postino::testing {
namespace {

using namespace std::chrono_literals;
using delivery::Disposition;
using fakemx::FakeMx;
using fakemx::Script;

// dnsmasq on 127.0.0.1:<free port> with the zone the tests need.
class Dnsmasq {
 public:
  explicit Dnsmasq(std::vector<std::string> records) : port_(static_cast<uint16_t>(FreePort())) {
    std::vector<std::string> argv = {"/usr/sbin/dnsmasq", "--no-daemon", "--no-resolv",
                                     "--no-hosts", "--port=" + std::to_string(port_),
                                     "--listen-address=127.0.0.1", "--bind-interfaces",
                                     "--pid-file=", "--user=root", "--local-ttl=60"};
    argv.insert(argv.end(), records.begin(), records.end());
    process_ = std::make_unique<ChildProcess>(argv);
    usleep(300000);
  }
  uint16_t port() const { return port_; }
  std::string server() const { return "127.0.0.1:" + std::to_string(port_); }
  bool running() const { return process_->running(); }

 private:
  uint16_t port_;
  std::unique_ptr<ChildProcess> process_;
};

std::vector<std::string> Zone() {
  return {
      "--mx-host=pref.test,mx20.pref.test,20",
      "--mx-host=pref.test,mx10.pref.test,10",
      "--host-record=mx10.pref.test,127.0.0.1",
      "--host-record=mx20.pref.test,127.0.0.3",
      "--mx-host=equal.test,a.equal.test,10",
      "--mx-host=equal.test,b.equal.test,10",
      "--host-record=a.equal.test,127.0.0.1",
      "--host-record=b.equal.test,127.0.0.3",
      "--host-record=implicit.test,127.0.0.1",
      "--local=/implicit.test/",  // answer locally: NODATA for its MX
      "--dns-rr=null.test,15,000000",  // MX 0 "." (RFC 7505)
      "--address=/nx.test/",           // NXDOMAIN for nx.test
  };
}

class DnsTest : public EngineTest {
 protected:
  void SetUp() override {
    if (!std::filesystem::exists("/usr/sbin/dnsmasq")) GTEST_SKIP() << "dnsmasq not installed";
    EngineTest::SetUp();
    dns_ = std::make_unique<Dnsmasq>(Zone());
    ASSERT_TRUE(dns_->running()) << "dnsmasq did not start";
  }
  void TearDown() override {
    resolver_.reset();
    EngineTest::TearDown();
    dns_.reset();
  }
  net::MxResolver& Resolver(std::vector<std::string> servers = {}) {
    net::ResolverOptions o;
    o.servers = servers.empty() ? std::vector<std::string>{dns_->server()} : servers;
    o.timeout = 300ms;
    o.tries = 1;
    auto r = net::MxResolver::Create(&loop_, o);
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    resolver_ = std::move(*r);
    return *resolver_;
  }
  net::MxAnswer Lookup(net::MxResolver& r, const std::string& domain) {
    net::MxAnswer answer;
    bool done = false;
    r.ResolveMx(domain, [&](const net::MxAnswer& a) {
      answer = a;
      done = true;
    });
    EXPECT_TRUE(RunUntilGuarded([&] { return done; }, 10s));
    return answer;
  }
  delivery::EngineConfig DnsConfig(uint16_t mx_port) {
    auto c = BaseConfig();
    c.dns_servers = {dns_->server()};
    c.mx_port = mx_port;
    return c;
  }
  std::unique_ptr<Dnsmasq> dns_;
  std::unique_ptr<net::MxResolver> resolver_;
};

TEST_F(DnsTest, MxHostsComeInPreferenceOrderWithAddresses) {
  auto a = Lookup(Resolver(), "pref.test");
  ASSERT_EQ(a.error, net::MxAnswer::Error::kNone) << a.detail;
  ASSERT_EQ(a.hosts.size(), 2u);
  EXPECT_EQ(a.hosts[0].name, "mx10.pref.test");
  EXPECT_EQ(a.hosts[0].addresses, std::vector<std::string>{"127.0.0.1"});
  EXPECT_EQ(a.hosts[1].name, "mx20.pref.test");
  EXPECT_FALSE(a.implicit_mx);
  // A second lookup comes from the cache.
  auto b = Lookup(*resolver_, "PREF.test");
  EXPECT_TRUE(b.from_cache);
  EXPECT_EQ(b.hosts[0].name, "mx10.pref.test");
}

TEST_F(DnsTest, EqualPreferencesAreShuffled) {
  auto& r = Resolver();
  std::set<std::string> firsts;
  for (int i = 0; i < 40 && firsts.size() < 2; ++i) {
    r.ClearCache();
    auto a = Lookup(r, "equal.test");
    ASSERT_EQ(a.hosts.size(), 2u) << a.detail;
    firsts.insert(a.hosts[0].name);
  }
  EXPECT_EQ(firsts.size(), 2u);  // 2^-39 chance of a false failure
}

TEST_F(DnsTest, NoMxMeansTheDomainItself) {
  auto a = Lookup(Resolver(), "implicit.test");
  ASSERT_EQ(a.error, net::MxAnswer::Error::kNone) << a.detail;
  EXPECT_TRUE(a.implicit_mx);
  ASSERT_EQ(a.hosts.size(), 1u);
  EXPECT_EQ(a.hosts[0].name, "implicit.test");
}

TEST_F(DnsTest, NullMxAndNxDomainArePermanent) {
  auto& r = Resolver();
  EXPECT_EQ(Lookup(r, "null.test").error, net::MxAnswer::Error::kNullMx);
  EXPECT_EQ(Lookup(r, "nx.test").error, net::MxAnswer::Error::kNxDomain);
}

TEST_F(DnsTest, UnansweringServerIsTemporary) {
  // A UDP socket that never answers.
  int fd = socket(AF_INET, SOCK_DGRAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a));
  socklen_t len = sizeof(a);
  getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  auto& r = Resolver({"127.0.0.1:" + std::to_string(ntohs(a.sin_port))});
  auto answer = Lookup(r, "pref.test");
  close(fd);
  EXPECT_EQ(answer.error, net::MxAnswer::Error::kTemporary) << answer.detail;
}

// IDNA lives in address/ only: the resolver lowercases ASCII names and
// refuses a U-label with a message that says where to convert it.
TEST_F(DnsTest, ResolverTakesAsciiNamesOnly) {
  auto ascii = net::NormalizeDnsName("XN--Bcher-KVA.Example.");
  ASSERT_TRUE(ascii.ok());
  EXPECT_EQ(*ascii, "xn--bcher-kva.example");
  auto unicode = net::NormalizeDnsName("bücher.example");
  ASSERT_FALSE(unicode.ok());
  EXPECT_NE(unicode.status().message().find("A-labels"), std::string::npos);
}

TEST_F(DnsTest, EngineDeliversToTheMxWithMxPortOverride) {
  FakeMx mx(Script{});
  auto config = DnsConfig(mx.port());
  StartEngine(config);
  uint64_t id = Send("implicit.test");
  ASSERT_TRUE(WaitForOutcomes(1));
  EXPECT_EQ(OutcomeFor(id)->disposition, Disposition::kDelivered)
      << OutcomeFor(id)->reply.ToString();
  EXPECT_EQ(OutcomeFor(id)->mx_host, "implicit.test");
}

TEST_F(DnsTest, NullMxBouncesWithoutConnecting) {
  FakeMx mx(Script{});
  StartEngine(DnsConfig(mx.port()));
  uint64_t id = Send("null.test");
  uint64_t nx = Send("nx.test");
  ASSERT_TRUE(WaitForOutcomes(2));
  EXPECT_EQ(OutcomeFor(id)->disposition, Disposition::kBounced);
  EXPECT_EQ(OutcomeFor(id)->reply.code, 556);
  EXPECT_EQ(OutcomeFor(id)->reply.enhanced, "5.1.10");
  EXPECT_TRUE(OutcomeFor(id)->source_address.empty());
  EXPECT_EQ(OutcomeFor(nx)->disposition, Disposition::kBounced);
  EXPECT_EQ(OutcomeFor(nx)->reply.enhanced, "5.1.2");
  EXPECT_EQ(mx.total_connections(), 0);
}

TEST_F(DnsTest, FourXxBannerMovesToTheNextMx) {
  Script bad;
  bad.banner = fakemx::Reply("421 4.7.0 Too busy, try later");
  FakeMx primary(bad, "127.0.0.1");
  FakeMx backup(Script{}, "127.0.0.3", primary.port());
  StartEngine(DnsConfig(primary.port()));
  uint64_t id = Send("pref.test");
  ASSERT_TRUE(WaitForOutcomes(1));
  EXPECT_EQ(OutcomeFor(id)->disposition, Disposition::kDelivered)
      << OutcomeFor(id)->reply.ToString();
  EXPECT_EQ(OutcomeFor(id)->mx_host, "mx20.pref.test");
  EXPECT_EQ(primary.total_connections(), 1);
  EXPECT_EQ(backup.accepted_messages(), 1u);
  // The failed host is remembered: the next message goes straight to the backup.
  uint64_t id2 = Send("pref.test");
  ASSERT_TRUE(WaitForOutcomes(2));
  EXPECT_EQ(OutcomeFor(id2)->disposition, Disposition::kDelivered);
  EXPECT_EQ(primary.total_connections(), 1);
}

TEST_F(DnsTest, ARecipientGroupMovesToTheNextMxTogether) {
  Script bad;
  bad.banner = fakemx::Reply("421 4.7.0 Too busy, try later");
  FakeMx primary(bad, "127.0.0.1");
  FakeMx backup(Script{}, "127.0.0.3", primary.port());
  StartEngine(DnsConfig(primary.port()));
  std::vector<uint64_t> ids = SendGroup({"a@pref.test", "b@pref.test", "c@pref.test"});
  ASSERT_TRUE(WaitForOutcomes(3));
  for (uint64_t id : ids) {
    EXPECT_EQ(OutcomeFor(id)->disposition, Disposition::kDelivered)
        << OutcomeFor(id)->reply.ToString();
    EXPECT_EQ(OutcomeFor(id)->mx_host, "mx20.pref.test");
  }
  auto messages = backup.messages();
  ASSERT_EQ(messages.size(), 1u);  // still one transaction
  EXPECT_EQ(messages[0].rcpts.size(), 3u);
}

TEST_F(DnsTest, RefusedConnectionMovesToTheNextMx) {
  // Only the backup (127.0.0.3) listens on the port.
  FakeMx backup(Script{}, "127.0.0.3");
  StartEngine(DnsConfig(backup.port()));
  uint64_t id = Send("pref.test");
  ASSERT_TRUE(WaitForOutcomes(1));
  EXPECT_EQ(OutcomeFor(id)->disposition, Disposition::kDelivered)
      << OutcomeFor(id)->reply.ToString();
  EXPECT_EQ(backup.accepted_messages(), 1u);
}

TEST_F(DnsTest, AllMxHostsFailingDefers) {
  Script bad;
  bad.banner = fakemx::Reply("421 4.7.0 Too busy");
  FakeMx primary(bad, "127.0.0.1");
  FakeMx backup(bad, "127.0.0.3", primary.port());
  StartEngine(DnsConfig(primary.port()));
  uint64_t id = Send("pref.test");
  ASSERT_TRUE(WaitForOutcomes(1));
  EXPECT_EQ(OutcomeFor(id)->disposition, Disposition::kDeferred);
  EXPECT_EQ(OutcomeFor(id)->reply.code, 421);
  EXPECT_EQ(primary.total_connections() + backup.total_connections(), 2);
}

}  // namespace
}  // namespace postino::testing
