// config_test.cc: postino.toml loading — a full valid config, the shipped
// example, env overrides, and one test per kind of error checking that the
// message names FILE:LINE:COL, the key path and what was expected.
#include "config/config.h"

#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>

#include "tests/support/testdata.h"

namespace postino::config {
namespace {

using std::chrono::hours;
using std::chrono::minutes;

// Minimal valid prefix; tests append sections to it.
constexpr const char* kBase = R"(
[database]
url = "postgresql:///t"

[[sources]]
name = "ip1"
address = "127.0.0.1"

[[sources]]
name = "ip2"
address = "127.0.0.2"
ehlo = "two.example"

)";

// Clears env overrides for the duration of a test.
class ConfigTest : public ::testing::Test {
 protected:
  void SetUp() override {
    unsetenv("POSTINO_DATABASE_URL");
    unsetenv("POSTINO_CONFIG");
  }
  void TearDown() override { SetUp(); }

  // Expects a parse error whose message contains `needle`.
  static std::string ErrorOf(const std::string& text) {
    Result<Config> r = ParseConfig(text, "postino.toml");
    EXPECT_FALSE(r.ok()) << "expected an error for:\n" << text;
    if (r.ok()) return "";
    EXPECT_EQ(r.status().code(), Status::Code::kInvalidArgument);
    return r.status().message();
  }
};

TEST_F(ConfigTest, MinimalConfigGetsDefaults) {
  Result<Config> r = ParseConfig(kBase, "postino.toml");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  const Config& c = *r;
  EXPECT_EQ(c.database.url, "postgresql:///t");
  EXPECT_FALSE(c.node.id.empty());
  EXPECT_EQ(c.node.batch_size, 1000);
  EXPECT_EQ(c.node.lease_seconds, 300);
  EXPECT_EQ(c.node.max_connections, 1000);
  ASSERT_EQ(c.sources.size(), 2u);
  EXPECT_EQ(c.sources[0].ehlo, c.node.id);
  EXPECT_EQ(c.sources[1].ehlo, "two.example");
  EXPECT_EQ(c.dns.mx_port, 25);
  EXPECT_EQ(*c.limits.defaults.max_connections, 10);
  EXPECT_EQ(*c.limits.defaults.max_site_connections, 50);
  EXPECT_EQ(*c.limits.defaults.max_messages_per_connection, 100);
  EXPECT_EQ(*c.limits.defaults.max_recipients_per_message, 50);
  EXPECT_FALSE(c.limits.defaults.max_message_rate.has_value());
  EXPECT_EQ(c.timeouts.connect.count(), 30);
  EXPECT_EQ(c.timeouts.end_of_data.count(), 600);
  EXPECT_TRUE(c.use_default_backoff);
  ASSERT_EQ(c.retry.schedule.size(), 7u);
  EXPECT_EQ(c.retry.schedule[0], minutes(5));
  EXPECT_EQ(c.retry.schedule[6], hours(4));
  EXPECT_EQ(c.retry.max_age, hours(72));
  EXPECT_DOUBLE_EQ(c.retry.jitter, 0.1);
  EXPECT_TRUE(c.suppression.auto_suppress_hard_bounces);
  EXPECT_FALSE(c.submission.enabled);
  EXPECT_EQ(c.FindRoute("example.com"), nullptr);
}

TEST_F(ConfigTest, FullConfig) {
  std::string text =
      "default_pool = \"bulk\"\nuse_default_backoff = false\n" + std::string(kBase) + R"(
[node]
id = "n1"
batch_size = 500
lease_seconds = 60

[[pools]]
name = "bulk"
entries = [{ source = "ip1", weight = 3 }, { source = "ip2" }]


[[routes]]
domain = "*"
to = "127.0.0.1:2525"
tls = "none"

[[routes]]
domain = "*.example.com"
to = "[::1]:587"
tls = "required"
auth = { username = "u", password = "p" }
pool = "bulk"

[[routes]]
domain = "example.com"
tls = "implicit"

[dns]
servers = ["127.0.0.1:5353", "::1", "[::1]:53"]
mx_port = 2525

[limits]
max_connections = 4
max_message_rate = "600/min"
max_connection_rate = "10/s"

[[limits.rules]]
mx = "*.google.com"
max_connections = 2
max_message_rate = "50000/hour"

[[limits.rules]]
match = "gmail.com"
max_messages_per_connection = 7
max_recipients_per_message = 100
tls = "required"
retry_schedule = ["1m", "2m"]
max_age = "1d"

[[limits.rules]]
match = "*.com"
max_messages_per_connection = 9
max_connections = 3

[timeouts]
connect = 5
data = "2m"

[[warmup]]
source = "ip2"
start = 2026-11-01
caps = [50, 100]
[[warmup.sites]]
site = "*.google.com"
caps = [10]

[[backoff]]
match = "^421 4\\.7\\.0 .*slow down"
site = "*.example.net"
action = "slow"
rate = "10/min"
duration = "15m"

[[backoff]]
match = "blocked"
action = "suspend"


[retry]
schedule = ["1m", "1h"]
max_age = "2d"
jitter = 0.2

[dkim]
canonicalization = "relaxed"
headers = ["From", "To"]
[[dkim.keys]]
domain = "example.net"
selector = "s1"
algorithm = "ed25519-sha256"
key_file = "/k.pem"

[unsubscribe]
url_base = "https://example.net/u/"
mailto = "u@example.net"
secret_env = "POSTINO_TEST_UNSUBSCRIBE_KEY"

[campaign_defaults]
list_id = "l.example.net"
feedback_id = "fb"
verp_domain = "b.example.net"

[suppression]
auto_suppress_hard_bounces = false
)";
  setenv("POSTINO_TEST_UNSUBSCRIBE_KEY", "0123456789abcdef-key", 1);
  Result<Config> r = ParseConfig(text, "full.toml");
  unsetenv("POSTINO_TEST_UNSUBSCRIBE_KEY");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  const Config& c = *r;
  EXPECT_EQ(c.file, "full.toml");
  EXPECT_EQ(c.node.id, "n1");
  EXPECT_EQ(c.sources[0].ehlo, "n1");
  EXPECT_EQ(c.node.batch_size, 500);
  ASSERT_EQ(c.pools.size(), 1u);
  EXPECT_EQ(c.pools[0].entries[0].weight, 3u);
  EXPECT_EQ(c.pools[0].entries[1].weight, 1u);
  EXPECT_EQ(c.default_pool, "bulk");
  ASSERT_EQ(c.routes.size(), 3u);
  EXPECT_EQ(c.routes[0].kind, RouteConfig::Kind::kStatic);
  EXPECT_EQ(c.routes[0].host, "127.0.0.1");
  EXPECT_EQ(c.routes[0].port, 2525);
  EXPECT_EQ(c.routes[0].tls, TlsMode::kNone);
  EXPECT_EQ(c.routes[1].host, "::1");
  EXPECT_EQ(c.routes[1].port, 587);
  ASSERT_TRUE(c.routes[1].auth.has_value());
  EXPECT_EQ(c.routes[1].auth->password, "p");
  EXPECT_TRUE(c.routes[1].auth_requires_tls);
  EXPECT_EQ(c.routes[2].kind, RouteConfig::Kind::kMx);
  // Most specific route wins.
  EXPECT_EQ(c.FindRoute("example.com"), &c.routes[2]);
  EXPECT_EQ(c.FindRoute("a.example.com"), &c.routes[1]);
  EXPECT_EQ(c.FindRoute("other.org"), &c.routes[0]);
  EXPECT_EQ(c.dns.servers.size(), 3u);
  EXPECT_EQ(c.dns.mx_port, 2525);
  EXPECT_EQ(c.timeouts.connect.count(), 5);
  EXPECT_EQ(c.timeouts.data.count(), 120);
  ASSERT_EQ(c.warmup.size(), 1u);
  EXPECT_EQ(c.warmup[0].start,
            std::chrono::sys_days(std::chrono::year(2026) / std::chrono::November / 1));
  EXPECT_EQ(c.warmup[0].caps, (std::vector<uint64_t>{50, 100}));
  ASSERT_EQ(c.warmup[0].sites.size(), 1u);
  EXPECT_EQ(c.warmup[0].sites[0].caps, (std::vector<uint64_t>{10}));
  ASSERT_EQ(c.backoff.size(), 2u);
  EXPECT_EQ(c.backoff[0].action, BackoffRuleConfig::Action::kSlow);
  EXPECT_EQ(c.backoff[0].rate->count, 10u);
  EXPECT_EQ(c.backoff[0].duration, minutes(15));
  EXPECT_EQ(c.backoff[1].duration, hours(1));  // suspend default
  EXPECT_FALSE(c.use_default_backoff);
  EXPECT_DOUBLE_EQ(c.retry.jitter, 0.2);
  EXPECT_EQ(c.retry.max_age, hours(48));
  EXPECT_EQ(c.dkim.canonicalization, "relaxed/simple");
  EXPECT_EQ(c.dkim.keys[0].algorithm, "ed25519-sha256");
  EXPECT_FALSE(c.suppression.auto_suppress_hard_bounces);
  EXPECT_EQ(c.unsubscribe.secret, "0123456789abcdef-key");
  EXPECT_EQ(c.campaign_defaults.verp_domain, "b.example.net");

  // Limits: defaults, then MX rule, then *.com, then gmail.com.
  EffectiveLimits g = c.LimitsFor("gmail.com", {"gmail-smtp-in.l.google.com"});
  EXPECT_EQ(g.max_connections, 3);              // *.com (domain) beats the MX rule
  EXPECT_EQ(g.max_messages_per_connection, 7);  // gmail.com beats *.com
  EXPECT_EQ(g.max_recipients_per_message, 100);
  EXPECT_EQ(g.max_message_rate->count, 50000u);
  EXPECT_EQ(g.max_connection_rate->count, 10u);
  EXPECT_EQ(g.tls, TlsMode::kRequired);
  EXPECT_EQ(g.retry_schedule.size(), 2u);
  EXPECT_EQ(g.max_age, hours(24));
  EffectiveLimits o = c.LimitsFor("corp.org", {"aspmx.l.google.com"});
  EXPECT_EQ(o.max_connections, 2);
  EXPECT_EQ(o.max_recipients_per_message, 50);  // the default
  EXPECT_FALSE(o.tls.has_value());
  EXPECT_EQ(o.retry_schedule, c.retry.schedule);
  EffectiveLimits n = c.LimitsFor("corp.org", {});
  EXPECT_EQ(n.max_connections, 4);
  EXPECT_EQ(n.max_message_rate->count, 600u);
}

TEST_F(ConfigTest, ShippedExampleParses) {
  std::string path = testing::SourceDir() + "/examples/postino.toml";
  setenv("POSTINO_UNSUBSCRIBE_SECRET", "an example secret of 32 octets!!", 1);
  Result<Config> r = LoadConfigFile(path);
  unsetenv("POSTINO_UNSUBSCRIBE_SECRET");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  // The demo routes everything to the local sink.
  const RouteConfig* route = r->FindRoute("anything.example");
  ASSERT_NE(route, nullptr);
  EXPECT_EQ(route->host, "127.0.0.1");
  EXPECT_EQ(route->port, 2525);
  EXPECT_FALSE(r->sources.empty());
}

TEST_F(ConfigTest, DatabaseUrlFromEnvironment) {
  setenv("POSTINO_DATABASE_URL", "postgresql://env/db", 1);
  Result<Config> r = ParseConfig(kBase, "postino.toml");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->database.url, "postgresql://env/db");
  // Also satisfies a config without [database].
  r = ParseConfig("[[sources]]\nname = \"a\"\naddress = \"::1\"\n", "x.toml");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->database.url, "postgresql://env/db");
}

TEST_F(ConfigTest, ResolveConfigPathOrder) {
  EXPECT_EQ(ResolveConfigPath(""), "./postino.toml");
  setenv("POSTINO_CONFIG", "/etc/postino/p.toml", 1);
  EXPECT_EQ(ResolveConfigPath(""), "/etc/postino/p.toml");
  EXPECT_EQ(ResolveConfigPath("/x.toml"), "/x.toml");
}

TEST_F(ConfigTest, PasswordFromEnvironment) {
  std::string text = std::string(kBase) +
                     "[[routes]]\ndomain = \"*\"\nto = \"127.0.0.1:25\"\n"
                     "auth = { username = \"u\", password_env = \"POSTINO_TEST_PW\" }\n";
  setenv("POSTINO_TEST_PW", "s3cret", 1);
  Result<Config> r = ParseConfig(text, "postino.toml");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->routes[0].auth->password, "s3cret");
  EXPECT_EQ(r->routes[0].auth->password_env, "POSTINO_TEST_PW");
  unsetenv("POSTINO_TEST_PW");
  EXPECT_NE(ErrorOf(text).find("routes[0].auth.password_env: environment variable "
                               "$POSTINO_TEST_PW is not set"),
            std::string::npos);
}

TEST_F(ConfigTest, MissingFileIsNotFound) {
  Result<Config> r = LoadConfigFile("/nonexistent/postino.toml");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Status::Code::kNotFound);
  EXPECT_NE(r.status().message().find("/nonexistent/postino.toml"), std::string::npos);
}

// kBase ends with a blank line 13; appended text starts on line 14.

TEST_F(ConfigTest, BadTlsValueNamesLineKeyAndChoices) {
  std::string text = std::string(kBase) +
                     "[[routes]]\ndomain = \"a.com\"\n[[routes]]\ndomain = \"b.com\"\n"
                     "[[routes]]\ndomain = \"c.com\"\ntls   = \"maybe\"\n";
  EXPECT_EQ(ErrorOf(text),
            "postino.toml:20:9: routes[2].tls: \"maybe\" is not one of none, opportunistic, "
            "required, implicit");
}

TEST_F(ConfigTest, UnknownKeyIsAnError) {
  std::string e = ErrorOf(std::string(kBase) + "[[routes]]\ndomain = \"*\"\ntsl = \"none\"\n");
  EXPECT_NE(e.find("postino.toml:16:1: routes[0].tsl: unknown key (did you mean tls?)"),
            std::string::npos)
      << e;
  e = ErrorOf(std::string(kBase) + "[limitz]\nmax_connections = 1\n");
  EXPECT_NE(e.find("postino.toml:14:2: limitz: unknown key (did you mean limits?)"),
            std::string::npos)
      << e;
  e = ErrorOf(std::string(kBase) + "[timeouts]\nconect = 3\n");
  EXPECT_NE(e.find("postino.toml:15:1: timeouts.conect: unknown key (did you mean connect?)"),
            std::string::npos)
      << e;
}

TEST_F(ConfigTest, TopLevelKeyInsideATableGetsAHint) {
  std::string e = ErrorOf(std::string(kBase) + "default_pool = \"x\"\n");
  EXPECT_NE(e.find("postino.toml:14:1: sources[1].default_pool: unknown key here; default_pool "
                   "is a top-level key: move it above the first [table] header"),
            std::string::npos)
      << e;
}

TEST_F(ConfigTest, WrongType) {
  std::string e = ErrorOf(std::string(kBase) + "[node]\nbatch_size = \"lots\"\n");
  EXPECT_EQ(e,
            "postino.toml:15:14: node.batch_size: expected an integer from 1 to 1000000, got a "
            "string (\"lots\")");
  e = ErrorOf(std::string(kBase) + "[dns]\nservers = \"127.0.0.1\"\n");
  EXPECT_EQ(e,
            "postino.toml:15:11: dns.servers: expected an array of strings, got a string "
            "(\"127.0.0.1\")");
}

TEST_F(ConfigTest, OutOfRange) {
  std::string e = ErrorOf(std::string(kBase) + "[dns]\nmx_port = 70000\n");
  EXPECT_EQ(e, "postino.toml:15:11: dns.mx_port: 70000 is out of range; expected 1 to 65535");
  e = ErrorOf(std::string(kBase) + "[limits]\nmax_recipients_per_message = 0\n");
  EXPECT_NE(e.find("postino.toml:15:30: limits.max_recipients_per_message: 0 is out of range; "
                   "expected 1 to 1000"),
            std::string::npos)
      << e;
}

TEST_F(ConfigTest, BadRate) {
  std::string e = ErrorOf(std::string(kBase) + "[limits]\nmax_message_rate = \"600/fortnight\"\n");
  EXPECT_NE(e.find("postino.toml:15:20: limits.max_message_rate: \"600/fortnight\" is not a "
                   "rate: unknown unit \"fortnight\""),
            std::string::npos)
      << e;
  e = ErrorOf(std::string(kBase) +
              "[[limits.rules]]\nmatch = \"a.com\"\nmax_message_rate = "
              "\"fast\"\n");
  EXPECT_NE(e.find("postino.toml:16:20: limits.rules[0].max_message_rate: \"fast\" is not a rate"),
            std::string::npos)
      << e;
}

TEST_F(ConfigTest, BadRegexNamesPosition) {
  std::string e = ErrorOf(std::string(kBase) +
                          "[[backoff]]\nmatch = \"421 (unclosed\"\naction = \"suspend\"\n");
  EXPECT_NE(e.find("postino.toml:15:9: backoff[0].match: \"421 (unclosed\" is not a valid "
                   "regular expression"),
            std::string::npos)
      << e;
}

// [[backoff]] patterns are RE2 (what engine/policy matches with): the
// backtracking-only syntax std::regex accepted is refused at load.
TEST_F(ConfigTest, BackoffMatchIsRe2Syntax) {
  std::string e =
      ErrorOf(std::string(kBase) + "[[backoff]]\nmatch = '(421) \\1'\naction = \"suspend\"\n");
  EXPECT_NE(e.find("postino.toml:15:9: backoff[0].match: \"(421) \\1\" is not a valid "
                   "regular expression (RE2 syntax)"),
            std::string::npos)
      << e;
  e = ErrorOf(std::string(kBase) + "[[backoff]]\nmatch = '^421 (?=4\\.7)'\naction = \"suspend\"\n");
  EXPECT_NE(e.find("is not a valid regular expression (RE2 syntax)"), std::string::npos) << e;
}

TEST_F(ConfigTest, UnknownSourceInPool) {
  std::string e = ErrorOf(std::string(kBase) +
                          "[[pools]]\nname = \"p\"\nentries = [{ source = \"ip1\" }, "
                          "{ source = \"ip9\", weight = 2 }]\n");
  EXPECT_NE(e.find("postino.toml:16:43: pools[0].entries[1].source: unknown source \"ip9\"; "
                   "expected one of the [[sources]] names (ip1, ip2)"),
            std::string::npos)
      << e;
}

TEST_F(ConfigTest, ZeroWeights) {
  std::string e =
      ErrorOf(std::string(kBase) +
              "[[pools]]\nname = \"p\"\nentries = [{ source = \"ip1\", weight = 0 }]\n");
  EXPECT_EQ(e,
            "postino.toml:16:11: pools[0].entries: every weight is zero; expected at least "
            "one weight > 0");
}

TEST_F(ConfigTest, UnknownPoolReference) {
  std::string e = ErrorOf("default_pool = \"nope\"\n" + std::string(kBase));
  EXPECT_NE(e.find("postino.toml:1:16: default_pool: unknown pool \"nope\""), std::string::npos)
      << e;
}

TEST_F(ConfigTest, BadDuration) {
  std::string e = ErrorOf(std::string(kBase) + "[retry]\nmax_age = \"3 days\"\n");
  EXPECT_NE(e.find("postino.toml:15:11: retry.max_age: \"3 days\" is not a duration"),
            std::string::npos)
      << e;
  e = ErrorOf(std::string(kBase) + "[retry]\nschedule = [\"5m\", \"10x\"]\n");
  EXPECT_NE(e.find("postino.toml:15:19: retry.schedule[1]: \"10x\" is not a duration: unknown "
                   "unit \"x\""),
            std::string::npos)
      << e;
}

TEST_F(ConfigTest, MissingRequiredKey) {
  std::string e = ErrorOf(std::string(kBase) + "[[sources]]\nname = \"ip3\"\n");
  EXPECT_EQ(e, "postino.toml:14:1: sources[2].address: missing; expected a string");
  e = ErrorOf("[[sources]]\nname = \"a\"\naddress = \"127.0.0.1\"\n");
  EXPECT_NE(e.find("database.url: missing"), std::string::npos) << e;
  e = ErrorOf(std::string(kBase) + "[[backoff]]\nmatch = \"x\"\naction = \"slow\"\n");
  EXPECT_NE(e.find("postino.toml:14:1: backoff[0].rate: missing"), std::string::npos) << e;
}

TEST_F(ConfigTest, BadAddressesAndRoutes) {
  std::string e = ErrorOf(std::string(kBase) + "[[sources]]\nname = \"x\"\naddress = \"1.2.3\"\n");
  EXPECT_NE(e.find("sources[2].address: \"1.2.3\" is not an IPv4 or IPv6 address"),
            std::string::npos);
  e = ErrorOf(std::string(kBase) + "[[routes]]\ndomain = \"*\"\nto = \"host:99999\"\n");
  EXPECT_NE(e.find("postino.toml:16:6: routes[0].to: \"host:99999\" is neither"), std::string::npos)
      << e;
  e = ErrorOf(std::string(kBase) + "[[routes]]\ndomain = \"a..b\"\n");
  EXPECT_NE(e.find("routes[0].domain: \"a..b\" is not a domain pattern"), std::string::npos);
  e = ErrorOf(std::string(kBase) + "[[sources]]\nname = \"ip1\"\naddress = \"::1\"\n");
  EXPECT_NE(e.find("sources[2].name: source \"ip1\" is defined twice"), std::string::npos);
}

TEST_F(ConfigTest, BadWarmup) {
  std::string e = ErrorOf(std::string(kBase) +
                          "[[warmup]]\nsource = \"ip1\"\nstart = \"2026-02-30\"\ncaps = [1, -2]\n");
  EXPECT_NE(e.find("postino.toml:16:9: warmup[0].start: is not a valid calendar date"),
            std::string::npos)
      << e;
  EXPECT_NE(e.find("postino.toml:17:12: warmup[0].caps[1]: expected a non-negative integer"),
            std::string::npos)
      << e;
}

TEST_F(ConfigTest, TomlSyntaxError) {
  std::string e = ErrorOf(std::string(kBase) + "[node\n");
  EXPECT_EQ(e.rfind("postino.toml:14:", 0), 0u) << e;
  EXPECT_NE(e.find("TOML syntax error"), std::string::npos);
}

TEST_F(ConfigTest, AllErrorsAreReported) {
  std::string e = ErrorOf(std::string(kBase) + "[node]\nbatch_size = 0\nfoo = 1\n");
  EXPECT_NE(e.find("node.batch_size"), std::string::npos);
  EXPECT_NE(e.find("node.foo: unknown key"), std::string::npos);
  EXPECT_NE(e.find('\n'), std::string::npos);
}

TEST_F(ConfigTest, ReloadIsSideEffectFree) {
  // Parsing twice gives equal results; a failed parse leaves the caller's
  // previous Config untouched (it only returns a Status).
  Result<Config> a = ParseConfig(kBase, "p.toml");
  Result<Config> b = ParseConfig(std::string(kBase) + "bogus = 1\n", "p.toml");
  ASSERT_TRUE(a.ok());
  EXPECT_FALSE(b.ok());
  Result<Config> c = ParseConfig(kBase, "p.toml");
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(a->sources.size(), c->sources.size());
  EXPECT_EQ(a->node.id, c->node.id);
}

// Issue 11 item 13: an EHLO name with CR LF (or any non-domain) deferred
// every message until expiry; now the load fails at its position.
TEST_F(ConfigTest, EhloMustBeADomainOrAddressLiteral) {
  std::string e =
      ErrorOf(std::string(kBase) +
              "[[sources]]\nname = \"x\"\naddress = \"::1\"\nehlo = \"bad name\\r\\nRSET\"\n");
  EXPECT_NE(e.find("postino.toml:17:8: sources[2].ehlo: \"bad name\\r\\nRSET\" is not a domain or "
                   "an address literal"),
            std::string::npos)
      << e;
  for (const char* bad : {"-a.example", "a_b.example", "a..b", "[1.2.3]", "[IPv6:zz]", "a b"}) {
    e = ErrorOf(std::string(kBase) + "[[sources]]\nname = \"x\"\naddress = \"::1\"\nehlo = \"" +
                bad + "\"\n");
    EXPECT_NE(e.find("sources[2].ehlo"), std::string::npos) << bad << ": " << e;
  }
  for (const char* good : {"mta1.example.net", "mta1.example.net.", "localhost", "[192.0.2.1]",
                           "[IPv6:2001:db8::1]", "xn--bcher-kva.example"}) {
    Result<Config> r = ParseConfig(std::string(kBase) +
                                       "[[sources]]\nname = \"x\"\naddress = "
                                       "\"::1\"\nehlo = \"" +
                                       good + "\"\n",
                                   "postino.toml");
    EXPECT_TRUE(r.ok()) << good << ": " << r.status().ToString();
  }
}

TEST_F(ConfigTest, NodeIdMustBePrintableAndDomainLikeWhenItIsTheEhloName) {
  std::string e = ErrorOf("[node]\nid = \"a\\u001bb\"\n" + std::string(kBase));
  EXPECT_NE(e.find("node.id: \"a\\x1bb\" holds a space, a control"), std::string::npos) << e;
  // A printable id that is not a domain is fine: a source without ehlo then
  // announces the host name (this machine's must be a domain for that).
  char host[256] = {0};
  gethostname(host, sizeof host - 1);
  Result<Config> r = ParseConfig("[node]\nid = \"node_1\"\n" + std::string(kBase), "postino.toml");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->sources[0].ehlo, host);
}

// Issue 11 item 16: the unsubscribe key is a documented config secret.
TEST_F(ConfigTest, UnsubscribeNeedsASecretFromAFileOnlyPostinoCanRead) {
  std::string e =
      ErrorOf(std::string(kBase) + "[unsubscribe]\nurl_base = \"https://example.net/u\"\n");
  EXPECT_NE(e.find("unsubscribe.url_base: needs a secret"), std::string::npos) << e;
  e = ErrorOf(std::string(kBase) + "[unsubscribe]\nmailto = \"u@example.net\"\n");
  EXPECT_NE(e.find("unsubscribe.mailto: needs a secret"), std::string::npos) << e;

  std::string dir = ::testing::TempDir();
  std::string key = dir + "/postino-unsub-" + std::to_string(getpid()) + ".key";
  std::ofstream(key) << "0123456789abcdef0123456789abcdef\n";
  std::string toml = std::string(kBase) +
                     "[unsubscribe]\nurl_base = \"https://example.net/u\"\nsecret_file = \"" + key +
                     "\"\n";
  chmod(key.c_str(), 0644);
  e = ErrorOf(toml);
  EXPECT_NE(e.find("unsubscribe.secret_file: \"" + key + "\" has mode 0644"), std::string::npos)
      << e;
  chmod(key.c_str(), 0600);
  Result<Config> r = ParseConfig(toml, "postino.toml");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->unsubscribe.secret, "0123456789abcdef0123456789abcdef");
  std::ofstream(key, std::ios::trunc) << "short\n";
  e = ErrorOf(toml);
  EXPECT_NE(e.find("holds 5 octets"), std::string::npos) << e;
  unlink(key.c_str());

  unsetenv("POSTINO_TEST_UNSUB");
  e = ErrorOf(std::string(kBase) +
              "[unsubscribe]\nurl_base = \"https://example.net/u\"\nsecret_env = "
              "\"POSTINO_TEST_UNSUB\"\n");
  EXPECT_NE(e.find("unsubscribe.secret_env: environment variable $POSTINO_TEST_UNSUB is not set"),
            std::string::npos)
      << e;
}

// Issue 12: [submission] configures the listener; its errors name
// FILE:LINE:COL and the key like every other table.
TEST_F(ConfigTest, SubmissionListenerKeys) {
  Result<Config> c = ParseConfig(std::string(kBase) +
                                     "[submission]\nlisten = [\"127.0.0.1:587\"]\n"
                                     "tls_listen = [\"[::1]:465\"]\ncert_file = \"c.pem\"\n"
                                     "key_file = \"k.pem\"\nhostname = \"mx.example\"\n"
                                     "max_recipients = 50\nidle_timeout = \"2m\"\n"
                                     "session_timeout = 600\nmax_connections_per_ip = 5\n"
                                     "max_message_size = 2048\nmax_errors = 3\n",
                                 "postino.toml");
  ASSERT_TRUE(c.ok()) << c.status().message();
  const SubmissionConfig& s = c->submission;
  EXPECT_TRUE(s.enabled);
  EXPECT_EQ(s.listen, std::vector<std::string>{"127.0.0.1:587"});
  EXPECT_EQ(s.tls_listen, std::vector<std::string>{"[::1]:465"});
  EXPECT_EQ(s.hostname, "mx.example");
  EXPECT_EQ(s.max_recipients, 50);
  EXPECT_EQ(s.idle_timeout, std::chrono::minutes(2));
  EXPECT_EQ(s.session_timeout, std::chrono::seconds(600));
  EXPECT_EQ(s.max_connections_per_ip, 5);
  EXPECT_EQ(s.max_message_size, 2048u);
  EXPECT_EQ(s.max_errors, 3);
}

TEST_F(ConfigTest, SubmissionErrorsNamePlaceAndKey) {
  std::string e = ErrorOf(std::string(kBase) +
                          "[submission]\nlisten = [\"nope\"]\ncert_file = \"c\"\n"
                          "key_file = \"k\"\nmax_recipients = 0\nlistn = 1\n");
  EXPECT_NE(e.find("postino.toml:15:11: submission.listen[0]: \"nope\" is not \"IP:port\""),
            std::string::npos)
      << e;
  EXPECT_NE(e.find("postino.toml:18:18: submission.max_recipients:"), std::string::npos) << e;
  EXPECT_NE(e.find("submission.listn: unknown key"), std::string::npos) << e;
  e = ErrorOf(std::string(kBase) + "[submission]\nlisten = [\"127.0.0.1:587\"]\n");
  EXPECT_NE(e.find("postino.toml:14:1: submission.cert_file:"), std::string::npos) << e;
}

}  // namespace
}  // namespace postino::config
