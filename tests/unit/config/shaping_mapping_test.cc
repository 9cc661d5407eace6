// shaping_mapping_test.cc: Config -> shaping objects, on the shipped
// example and small configs.
#include "config/shaping_mapping.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include "tests/support/testdata.h"

namespace postino::config {
namespace {

TEST(SchedulerMappingTest, ExampleConfigBuildsEverything) {
  unsetenv("POSTINO_DATABASE_URL");
  setenv("POSTINO_UNSUBSCRIBE_SECRET", "an example secret of 32 octets!!", 1);  // [unsubscribe]
  Result<Config> c = LoadConfigFile(testing::SourceDir() + "/examples/postino.toml");
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

  Result<shaping::SourcePool> pool = MakeSourcePool(*c, "");
  ASSERT_TRUE(pool.ok());
  EXPECT_EQ(pool->name(), "newsletters");
  std::string seq;
  for (int i = 0; i < 4; ++i) seq += pool->entry(*pool->Choose()).source + " ";
  EXPECT_EQ(seq, "ip1 ip1 ip2 ip1 ");
  EXPECT_FALSE(MakeSourcePool(*c, "missing").ok());

  shaping::RetrySchedule retry = MakeRetrySchedule(*c, 1);
  EXPECT_EQ(retry.Interval(1), std::chrono::minutes(5));
  EffectiveLimits yahoo = c->LimitsFor("yahoo.com", {"mta5.am0.yahoodns.net"});
  EXPECT_EQ(MakeRetrySchedule(*c, yahoo, 1).Interval(1), std::chrono::minutes(15));
  EXPECT_EQ(MakeRetrySchedule(*c, yahoo, 1).max_age(), std::chrono::hours(48));
}

TEST(SchedulerMappingTest, NoPoolsMeansAllSourcesEqually) {
  Result<Config> c = ParseConfig(
      "[database]\nurl = \"x\"\n[[sources]]\nname = \"a\"\naddress = \"127.0.0.1\"\n"
      "[[sources]]\nname = \"b\"\naddress = \"127.0.0.2\"\n",
      "t.toml");
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  Result<shaping::SourcePool> pool = MakeSourcePool(*c, "");
  ASSERT_TRUE(pool.ok());
  EXPECT_EQ(pool->name(), "all");
  EXPECT_EQ(pool->size(), 2u);
}

}  // namespace
}  // namespace postino::config
