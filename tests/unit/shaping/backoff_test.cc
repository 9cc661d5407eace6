// backoff_test.cc: reply normalization, rule matching (site limits, order),
// applying actions to a path, and the default rules measured against real
// provider replies (../shared/testdata/provider-replies.json).
#include "engine/shaping/backoff.h"

#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>

#include "tests/support/testdata.h"

namespace postino::shaping {
namespace {

using std::chrono::hours;
using std::chrono::minutes;

BackoffRuleSpec Spec(const char* name, const char* pattern, const char* site, BackoffAction action,
                     Nanos duration) {
  BackoffRuleSpec s;
  s.name = name;
  s.pattern = pattern;
  s.site = site;
  s.action = action;
  s.duration = duration;
  return s;
}

TEST(NormalizeReplyTest, JoinsMultilineAndStripsRepeatedCodes) {
  EXPECT_EQ(NormalizeReply("421-4.7.28 Gmail has detected\n421-4.7.28 an unusual rate\n"
                           "421 4.7.28 of mail. - gsmtp"),
            "421 4.7.28 Gmail has detected an unusual rate of mail. - gsmtp");
  EXPECT_EQ(NormalizeReply("421 Too many concurrent connections\r\n"),
            "421 Too many concurrent connections");
  EXPECT_EQ(NormalizeReply("220-laposte\n421 4.2.1 Service refuse."),
            "421 4.2.1 laposte Service refuse.");
  EXPECT_EQ(NormalizeReply("no code at all"), "no code at all");
  EXPECT_EQ(NormalizeReply(""), "");
  EXPECT_EQ(NormalizeReply("250"), "250");
}

TEST(BackoffPolicyTest, FirstMatchingRuleWinsAndSiteLimits) {
  BackoffRuleSpec only_google =
      Spec("g", "^451 ", "*.google.com", BackoffAction::kSuspend, minutes(10));
  BackoffRuleSpec any = Spec("any", "^451 ", "", BackoffAction::kBounce, Nanos(0));
  Result<BackoffPolicy> p = BackoffPolicy::Create({only_google, any}, false);
  ASSERT_TRUE(p.ok()) << p.status().ToString();
  const BackoffRule* r = p->Match("451 4.3.0 try later", "mx1.l.google.com");
  ASSERT_NE(r, nullptr);
  EXPECT_EQ(r->spec().name, "g");
  r = p->Match("451 4.3.0 try later", "mx.yahoodns.net");
  ASSERT_NE(r, nullptr);
  EXPECT_EQ(r->spec().name, "any");
  EXPECT_EQ(p->Match("250 ok", "mx.yahoodns.net"), nullptr);
}

TEST(BackoffPolicyTest, InvalidRules) {
  Result<BackoffPolicy> p =
      BackoffPolicy::Create({Spec("bad", "(", "", BackoffAction::kBounce, Nanos(0))}, false);
  ASSERT_FALSE(p.ok());
  EXPECT_NE(p.status().message().find("not a valid regular expression"), std::string::npos);
  p = BackoffPolicy::Create({Spec("slow", "x", "", BackoffAction::kSlow, minutes(1))}, false);
  ASSERT_FALSE(p.ok());
  EXPECT_NE(p.status().message().find("needs a rate"), std::string::npos);
}

TEST(BackoffPolicyTest, ApplySuspendAndSlowProduceEvents) {
  FakeClock clock;
  Result<BackoffPolicy> p = BackoffPolicy::Create({}, true);
  ASSERT_TRUE(p.ok()) << p.status().ToString();
  PathKey path{"ip1", "gmail-smtp-in.l.google.com"};
  EgressPath state(*ParseRate("6000/hour"));
  std::string reply =
      "421-4.7.28 Our system has detected an unusual rate of\n421 4.7.28 mail. - gsmtp";
  std::optional<BackoffEvent> ev = p->Apply(path, reply, &state, clock);
  ASSERT_TRUE(ev.has_value());
  EXPECT_EQ(ev->action, BackoffAction::kSlow);
  EXPECT_EQ(ev->path, path);
  EXPECT_EQ(ev->reply, reply);
  EXPECT_EQ(ev->until, clock.WallNow() + hours(1));
  EXPECT_EQ(state.State(clock.Now()), PathState::kSlowed);
  EXPECT_EQ(state.CurrentRate(clock.Now())->ToString(), "100/hour");

  ev = p->Apply(path,
                "554 5.7.1 Service unavailable; Client host [192.0.2.1] blocked using "
                "zen.spamhaus.org",
                &state, clock);
  ASSERT_TRUE(ev.has_value());
  EXPECT_EQ(ev->action, BackoffAction::kSuspend);
  EXPECT_EQ(ev->rule, "blocklist");
  EXPECT_TRUE(state.Suspended(clock.Now()));
  EXPECT_FALSE(p->Apply(path, "550 5.1.1 user unknown", &state, clock).has_value());
}

// The default rules against real replies. For replies labelled
// slow_down_path / suspend_path the rules must slow or suspend the path; for
// bounce, bounce_and_suppress and retry_later they must not.
TEST(DefaultBackoffRulesTest, ProviderReplies) {
  std::string path = testing::TestDataPath("provider-replies.json");
  if (path.empty()) {
    GTEST_SKIP() << "provider-replies.json not found under ../shared/testdata or "
                    "$POSTINO_TESTDATA; cannot measure the default backoff rules";
  }
  std::ifstream in(path);
  nlohmann::json all = nlohmann::json::parse(in);
  Result<BackoffPolicy> p = BackoffPolicy::Create({}, true);
  ASSERT_TRUE(p.ok());
  int path_total = 0, path_hit = 0, path_exact = 0, other_total = 0, other_clean = 0;
  for (const auto& e : all) {
    std::string reply = e.at("reply");
    std::string action = e.at("suggested_action");
    const BackoffRule* r = p->Match(reply, "");
    bool path_action = r != nullptr && r->spec().action != BackoffAction::kBounce;
    if (action == "slow_down_path" || action == "suspend_path") {
      ++path_total;
      if (path_action) {
        ++path_hit;
        bool want_slow = action == "slow_down_path";
        if (want_slow == (r->spec().action == BackoffAction::kSlow)) ++path_exact;
      } else {
        std::cout << "MISS (" << action << "): " << NormalizeReply(reply) << "\n";
      }
    } else {
      ++other_total;
      if (!path_action) {
        ++other_clean;
      } else {
        std::cout << "FALSE " << r->spec().name << " (" << action << "): " << NormalizeReply(reply)
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
  EXPECT_GE(hit, 0.90);
  EXPECT_GE(exact, 0.75);
  EXPECT_GE(clean, 0.97);
}

}  // namespace
}  // namespace postino::shaping
