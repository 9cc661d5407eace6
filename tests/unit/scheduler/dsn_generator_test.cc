// dsn_generator_test.cc: who may receive a DSN (the submitting user's
// current domains and addresses) and the DSN options from postino.toml.
#include "scheduler/dsn_generator.h"

#include <gtest/gtest.h>

namespace postino::scheduler {
namespace {

TEST(DsnGeneratorTest, OnlyAddressesTheUserOwnsGetReports) {
  db::UserRow u;
  u.name = "alice";
  u.domains = {"Sender.Example", "b\xc3\xbc" "cher.example"};
  u.addresses = {"Boss@other.example"};
  std::optional<db::UserRow> user = u;
  EXPECT_TRUE(UserOwnsSender(user, "alice@sender.example"));
  EXPECT_TRUE(UserOwnsSender(user, "x@SENDER.example"));
  EXPECT_TRUE(UserOwnsSender(user, "boss@other.example"));
  EXPECT_TRUE(UserOwnsSender(user, "k@xn--bcher-kva.example"));  // IDN as A-label
  EXPECT_TRUE(UserOwnsSender(user, "k@b\xc3\xbc" "cher.example"));
  EXPECT_FALSE(UserOwnsSender(user, "intern@other.example"));
  EXPECT_FALSE(UserOwnsSender(user, "a@sub.sender.example"));  // exact domains only
  EXPECT_FALSE(UserOwnsSender(user, "a@sender.example.evil"));
  EXPECT_FALSE(UserOwnsSender(user, ""));
  EXPECT_FALSE(UserOwnsSender(user, "no-at-sign"));
  EXPECT_FALSE(UserOwnsSender(std::nullopt, "alice@sender.example"));
}

TEST(DsnGeneratorTest, OptionsFromTheConfiguration) {
  config::Config c;
  c.node.id = "node1";
  DsnOptions o = MakeDsnOptions(c);
  EXPECT_EQ(o.reporting_mta, "node1");
  EXPECT_EQ(o.from, "MAILER-DAEMON@node1");
  EXPECT_EQ(o.delay_warning, std::chrono::hours(4));
  EXPECT_EQ(o.max_queue_time, std::chrono::hours(120));
  c.sources.push_back({"s", "192.0.2.1", "mta.example.net"});
  c.submission.dsn_from = "bounces@example.net";
  c.submission.delay_warning = Nanos(0);
  o = MakeDsnOptions(c);
  EXPECT_EQ(o.reporting_mta, "mta.example.net");
  EXPECT_EQ(o.from, "bounces@example.net");
  EXPECT_EQ(o.delay_warning.count(), 0);
}

}  // namespace
}  // namespace postino::scheduler
