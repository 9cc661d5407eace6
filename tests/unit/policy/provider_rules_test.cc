// provider_rules_test.cc: the built-in provider rules (provider_rules.cc):
// each fires on a reply of its provider's documented form, and the whole
// built-in policy slows or suspends the path exactly for the real replies
// of ../shared/testdata/provider-replies.json labelled so (moved here from
// the old shaping DefaultBackoffRulesTest).
#include <gtest/gtest.h>

#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <set>

#include "engine/policy/policy.h"
#include "engine/policy/rules.h"
#include "tests/support/testdata.h"
#include "tests/unit/policy/replies.h"

namespace postino::policy {
namespace {

using smtp::Phase;
using testing::FromEntry;
using testing::Parse;

struct Sample {
  const char* rule;
  const char* wire;
  PathAction path;
};

// One reply per built-in rule, in the provider's documented form (written
// here from the providers' error pages; addresses from RFC 5737).
const Sample kSamples[] = {
    {"yahoo-ts03-permanent",
     "421 4.7.1 [TS03] All messages from 192.0.2.7 will be permanently deferred\r\n",
     PathAction::kSuspend},
    {"yahoo-ts-complaints",
     "421 4.7.0 [TS02] Messages from 192.0.2.7 temporarily deferred due to user complaints\r\n",
     PathAction::kSuspend},
    {"yahoo-tss04-volume",
     "421 4.7.0 [TSS04] Messages from 192.0.2.7 temporarily deferred due to unexpected volume\r\n",
     PathAction::kSuspend},
    {"yahoo-deferred", "421 4.7.0 [GL01] Message from 192.0.2.7 temporarily deferred - 4.16.50\r\n",
     PathAction::kSlowDown},
    {"yahoo-bl", "553 5.7.1 [BL23] Connections not accepted from IP addresses on our list\r\n",
     PathAction::kSuspend},
    {"aol-block", "554 RLY:B1 http://postmaster.aol.example/error-codes\r\n", PathAction::kSuspend},
    {"aol-rate", "421 DYN:T1 http://postmaster.aol.example/error-codes\r\n", PathAction::kSlowDown},
    {"gmail-4.7.28", "421 4.7.28 Please slow down and retry later - gsmtp\r\n",
     PathAction::kSlowDown},
    {"microsoft-sc", "550 SC-002 (BAY0-MC1) Mail rejected by Outlook.com for policy reasons\r\n",
     PathAction::kSuspend},
    {"microsoft-banned-ip",
     "550 5.7.606 Access denied, banned sending IP [192.0.2.7]. To request removal follow the "
     "link\r\n",
     PathAction::kSuspend},
    {"microsoft-4.7.65x",
     "451 4.7.651 The mail server [192.0.2.7] has been temporarily limited\r\n",
     PathAction::kSlowDown},
    {"microsoft-server-busy",
     "451 4.7.500 Server busy. Please try again later from [192.0.2.7]. (S77714)\r\n",
     PathAction::kSlowDown},
    {"microsoft-rp", "421 RP-002 (COL0-MC2) Unfortunately, some messages were not sent\r\n",
     PathAction::kSlowDown},
    {"comcast-bl", "554 resimta-ch2 comcast 192.0.2.7 found on one or more DNSBLs BL000010\r\n",
     PathAction::kSuspend},
    {"comcast-rl", "421 resimta-po comcast 192.0.2.7 RL000001 please retry later\r\n",
     PathAction::kSlowDown},
    {"cox-block", "554 cdptpa-ibmta cox 192.0.2.7 rejected - IPBL0001\r\n", PathAction::kSuspend},
    {"t-online-bl",
     "554 IP=192.0.2.7 - A problem occurred. (Ask your postmaster for help or to contact "
     "tosa@rx.t-online.example to clarify.) (BL)\r\n",
     PathAction::kSuspend},
    {"orange-laposte-service-refused",
     "421 mwinf5c10 ME Service refuse. Veuillez essayer plus tard. OFR_999 [999]\r\n",
     PathAction::kSuspend},
    {"mimecast-internal-resource", "451 Internal resource temporarily unavailable\r\n",
     PathAction::kSuspend},
    {"mimecast-host-network", "554 Host network not allowed - https://mimecast.example\r\n",
     PathAction::kSuspend},
    {"qq-ip-frequency", "550 Ip frequency limited. http://service.mail.qq.example\r\n",
     PathAction::kSuspend},
    {"netease-rate", "451 RP:TRC 192.0.2.7 too many messages, try again later\r\n",
     PathAction::kSlowDown},
    {"messages-per-connection", "421 4.7.0 Maximum number of messages per session reached\r\n",
     PathAction::kSlowDown},
};

TEST(ProviderRulesTest, EachRuleFiresOnItsProvidersReply) {
  std::set<std::string> sampled;
  for (const Sample& s : kSamples) {
    Decision d = DefaultPolicy().Classify(Phase::kRcpt, Parse(s.wire));
    EXPECT_EQ(d.rule, s.rule) << s.wire;
    EXPECT_EQ(d.path, s.path) << s.wire;
    EXPECT_GT(d.path_for.count(), 0) << s.wire;
    EXPECT_FALSE(d.suppress) << s.wire;
    sampled.insert(s.rule);
  }
  for (const internal::ProviderRule& r : internal::ProviderRules()) {
    EXPECT_TRUE(sampled.count(r.spec.name)) << "no sample for built-in rule " << r.spec.name;
  }
}

TEST(ProviderRulesTest, NeverOverrideAReplyThatBlamesTheRecipient) {
  // "blocked" text, provider-looking code, but the recipient is the cause.
  Decision d = DefaultPolicy().Classify(
      Phase::kRcpt, Parse("550 5.1.1 <ana@example.net>: Recipient address rejected: User unknown "
                          "(SC-001 lookup)\r\n"));
  EXPECT_EQ(d.category, Category::kInvalidRecipient);
  EXPECT_TRUE(d.suppress);
  EXPECT_EQ(d.path, PathAction::kNone);
  // A generic code alone does not stop a provider rule: a spam block coded
  // 550 5.1.1 is a block, not an unknown user.
  d = DefaultPolicy().Classify(Phase::kRcpt,
                               Parse("550 5.1.1 comcast 192.0.2.7 BL000001 see postmaster\r\n"));
  EXPECT_EQ(d.rule, "comcast-bl");
  EXPECT_FALSE(d.suppress);
  EXPECT_EQ(d.path, PathAction::kSuspend);
}

// The built-in policy against real replies. For replies labelled
// slow_down_path / suspend_path it must slow or suspend the path; for
// bounce, bounce_and_suppress and retry_later it must not.
TEST(ProviderRulesTest, ProviderReplies) {
  std::string path = postino::testing::TestDataPath("provider-replies.json");
  if (path.empty()) {
    GTEST_SKIP() << "provider-replies.json not found under ../shared/testdata or "
                    "$POSTINO_TESTDATA; cannot measure the built-in rules";
  }
  std::ifstream in(path);
  nlohmann::json all = nlohmann::json::parse(in);
  int path_total = 0, path_hit = 0, path_exact = 0, other_total = 0, other_clean = 0;
  for (const auto& e : all) {
    std::string action = e.at("suggested_action");
    Decision d = DefaultPolicy().Classify(Phase::kRcpt, FromEntry(e));
    const bool path_action = d.path != PathAction::kNone;
    if (action == "slow_down_path" || action == "suspend_path") {
      ++path_total;
      if (path_action) {
        ++path_hit;
        bool want_slow = action == "slow_down_path";
        if (want_slow == (d.path == PathAction::kSlowDown)) ++path_exact;
      } else {
        std::cout << "MISS (" << action << "): " << NormalizeReply(FromEntry(e)) << "\n";
      }
    } else {
      ++other_total;
      if (!path_action) {
        ++other_clean;
      } else {
        std::cout << "FALSE " << d.rule << " (" << action << "): " << NormalizeReply(FromEntry(e))
                  << "\n";
      }
    }
  }
  double hit = static_cast<double>(path_hit) / path_total;
  double exact = static_cast<double>(path_exact) / path_total;
  double clean = static_cast<double>(other_clean) / other_total;
  std::cout << "path-level replies slowed or suspended: " << path_hit << "/" << path_total << " ("
            << hit * 100 << "%), same action as labelled: " << path_exact << "/" << path_total
            << " (" << exact * 100 << "%)\n"
            << "other replies left alone: " << other_clean << "/" << other_total << " ("
            << clean * 100 << "%)\n";
  ASSERT_GT(path_total, 20);
  ASSERT_GT(other_total, 40);
  EXPECT_GE(hit, 0.97);
  EXPECT_GE(exact, 0.95);
  EXPECT_GE(clean, 0.97);
}

}  // namespace
}  // namespace postino::policy
