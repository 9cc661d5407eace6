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
  Result<config::Config> c = config::LoadConfigFile(testing::SourceDir() + "/examples/postino.toml");
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  Result<shaping::BackoffPolicy> policy = MakeBackoffPolicy(*c);
  ASSERT_TRUE(policy.ok()) << policy.status().ToString();
  EXPECT_EQ(policy->size(), c->backoff.size() + shaping::DefaultBackoffRuleSpecs().size());
  const shaping::BackoffRule* r =
      policy->Match("421 4.7.0 Too many messages from your IP", "mx1.example-provider.net");
  ASSERT_NE(r, nullptr);
  EXPECT_EQ(r->spec().name, "backoff[0]");
  EXPECT_EQ(r->spec().action, shaping::BackoffAction::kSlow);

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
