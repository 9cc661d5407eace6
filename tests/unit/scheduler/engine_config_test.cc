// engine_config_test.cc: postino.toml -> EngineConfig (scheduler/engine_config.h),
// on the shipped example and small configs.
#include "scheduler/engine_config.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include "tests/support/testdata.h"

namespace postino::scheduler {
namespace {

TEST(EngineConfigTest, ExampleConfigBuildsEverything) {
  unsetenv("POSTINO_DATABASE_URL");
  // examples/postino.toml reads the unsubscribe key from this variable.
  setenv("POSTINO_UNSUBSCRIBE_SECRET", "a test secret of more than 16 octets", 1);
  Result<config::Config> c = config::LoadConfigFile(testing::SourceDir() + "/examples/postino.toml");
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  Result<std::shared_ptr<const policy::Policy>> policy = MakePolicy(*c);
  ASSERT_TRUE(policy.ok()) << policy.status().ToString();
  EXPECT_GT((*policy)->rule_count(), c->backoff.size());  // the built-in rules follow
  smtp::Reply reply;
  reply.code = 421;
  reply.enhanced = "4.7.0";
  reply.lines = {"4.7.0 Too many messages from your IP"};
  policy::Decision d = (*policy)->Classify(smtp::Phase::kMail, reply, "mx1.example-provider.net");
  EXPECT_EQ(d.rule, "backoff[0]");
  EXPECT_EQ(d.path, policy::PathAction::kSlowDown);

  std::vector<shaping::WarmupPlan> plans = MakeWarmupPlans(*c);
  ASSERT_EQ(plans.size(), 1u);
  EXPECT_EQ(plans[0].source, "ip2");
  EXPECT_EQ(plans[0].sites.size(), 1u);

  Result<delivery::EngineConfig> ec = MakeEngineConfig(*c, "node1");
  ASSERT_TRUE(ec.ok()) << ec.status().ToString();
  EXPECT_FALSE(ec->sources.empty());
  ASSERT_TRUE(ec->limits_for);
  delivery::PathLimits yahoo = ec->limits_for("yahoo.com", {"mta5.am0.yahoodns.net"});
  config::EffectiveLimits expected = c->LimitsFor("yahoo.com", {"mta5.am0.yahoodns.net"});
  EXPECT_EQ(yahoo.max_connections, expected.max_connections);
  EXPECT_EQ(yahoo.max_recipients_per_message, expected.max_recipients_per_message);
}

TEST(EngineConfigTest, OneTlsMapping) {
  EXPECT_EQ(ToSmtpTlsMode(config::TlsMode::kNone), smtp::TlsMode::kNone);
  EXPECT_EQ(ToSmtpTlsMode(config::TlsMode::kOpportunistic), smtp::TlsMode::kOpportunistic);
  EXPECT_EQ(ToSmtpTlsMode(config::TlsMode::kRequired), smtp::TlsMode::kRequired);
  EXPECT_EQ(ToSmtpTlsMode(config::TlsMode::kImplicit), smtp::TlsMode::kImplicit);
  Result<config::Config> c = config::ParseConfig(
      "[database]\nurl = \"x\"\n[[sources]]\nname = \"a\"\naddress = \"127.0.0.1\"\n"
      "[[routes]]\ndomain = \"*\"\nto = \"127.0.0.1:2525\"\ntls = \"required\"\n",
      "t.toml");
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  Result<delivery::EngineConfig> ec = MakeEngineConfig(*c, "n");
  ASSERT_TRUE(ec.ok()) << ec.status().ToString();
  ASSERT_EQ(ec->routes.size(), 1u);
  EXPECT_EQ(ec->routes[0].tls, smtp::TlsMode::kRequired);
}

TEST(EngineConfigTest, NoSourcesIsRefused) {
  Result<config::Config> c = config::ParseConfig("[database]\nurl = \"x\"\n", "t.toml");
  if (!c.ok()) GTEST_SKIP() << "the config itself refuses no sources";
  EXPECT_FALSE(MakeEngineConfig(*c, "n").ok());
}

}  // namespace
}  // namespace postino::scheduler
