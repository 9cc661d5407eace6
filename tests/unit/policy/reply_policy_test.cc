// reply_policy_test.cc: Classify() on hand-written cases and on every real
// provider reply in ../shared/testdata/provider-replies.json (parsed with
// ReplyParser first, so the parser is checked on real replies too).
#include "engine/policy/reply_policy.h"

#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>

#include "engine/smtp/reply_parser.h"
#include "tests/support/testdata.h"

namespace postino::policy {
namespace {

using smtp::Phase;
using smtp::Reply;

Reply Parse(std::string_view wire) {
  smtp::ReplyParser p;
  EXPECT_TRUE(p.Feed(wire).ok()) << wire;
  auto r = p.Next();
  EXPECT_TRUE(r.has_value()) << wire;
  return r.value_or(Reply());
}

Reply Local(int code, std::string enhanced, std::string text) {
  Reply r;
  r.code = code;
  r.enhanced = enhanced;
  r.lines = {enhanced + " " + text};
  r.local = true;
  return r;
}

TEST(ReplyPolicyTest, PositiveIsDelivered) {
  Decision d = Classify(Phase::kEndOfData, Parse("250 2.0.0 OK queued\r\n"));
  EXPECT_EQ(d.recipient, RecipientAction::kDelivered);
  EXPECT_EQ(d.path, PathAction::kNone);
  EXPECT_FALSE(d.permanent);
}

TEST(ReplyPolicyTest, PermanenceFollowsTheBasicCode) {
  Decision d = Classify(Phase::kRcpt, Parse("451 5.7.3 odd but transient\r\n"));
  EXPECT_FALSE(d.permanent);
  EXPECT_EQ(d.recipient, RecipientAction::kRetryLater);
  d = Classify(Phase::kRcpt, Parse("553 4.7.1 odd but permanent\r\n"));
  EXPECT_TRUE(d.permanent);
  EXPECT_EQ(d.recipient, RecipientAction::kBounce);
}

TEST(ReplyPolicyTest, TransientBeforeTransactionTriesNextMx) {
  for (Phase p : {Phase::kConnect, Phase::kBanner, Phase::kEhlo, Phase::kStartTls}) {
    Decision d = Classify(p, Parse("421 4.3.2 Service not available\r\n"));
    EXPECT_EQ(d.recipient, RecipientAction::kTryNextMx) << smtp::PhaseName(p);
  }
  Decision lost = Classify(Phase::kConnect, Local(451, "4.4.1", "timeout connecting"));
  EXPECT_EQ(lost.recipient, RecipientAction::kTryNextMx);
  Decision mid = Classify(Phase::kRcpt, Local(451, "4.4.2", "connection lost during rcpt"));
  EXPECT_EQ(mid.recipient, RecipientAction::kRetryLater);
  EXPECT_EQ(mid.category, Category::kOther);
}

TEST(ReplyPolicyTest, UnknownOutcomeAfterDotIsRetried) {
  Decision d =
      Classify(Phase::kEndOfData,
               Local(451, "4.4.2", "connection lost after the end of data; outcome unknown"));
  EXPECT_EQ(d.recipient, RecipientAction::kRetryLater);
  EXPECT_FALSE(d.suppress);
}

TEST(ReplyPolicyTest, LocalTlsRequiredSuspendsAndTriesNextMx) {
  Decision d = Classify(Phase::kStartTls,
                        Local(454, "4.7.0", "TLS required but STARTTLS not offered by the server"));
  EXPECT_EQ(d.category, Category::kTlsRequired);
  EXPECT_EQ(d.recipient, RecipientAction::kTryNextMx);
}

TEST(ReplyPolicyTest, SmtpAuthFailureSuspendsTheRoute) {
  Decision d = Classify(Phase::kAuth, Parse("535 5.7.8 Authentication credentials invalid\r\n"));
  EXPECT_EQ(d.category, Category::kAuthentication);
  EXPECT_EQ(d.path, PathAction::kSuspend);
  EXPECT_FALSE(d.suppress);
}

TEST(ReplyPolicyTest, SuppressOnlyPermanentInvalidOrDisabled) {
  EXPECT_TRUE(Classify(Phase::kRcpt, Parse("550 5.1.1 user unknown\r\n")).suppress);
  EXPECT_FALSE(Classify(Phase::kRcpt, Parse("450 4.1.1 user unknown\r\n")).suppress);
  EXPECT_FALSE(
      Classify(Phase::kRcpt, Parse("550 5.7.1 blocked using zen.spamhaus.org\r\n")).suppress);
}

TEST(ReplyPolicyTest, MalformedEnhancedCodeInHandBuiltReplyIsHarmless) {
  Reply r;
  r.code = 550;
  r.enhanced = "5.x.99999999999999999999";
  r.lines = {"whatever"};
  Decision d = Classify(Phase::kRcpt, r);
  EXPECT_EQ(d.recipient, RecipientAction::kBounce);
}

// ---- The real replies --------------------------------------------------------

// Feeds the JSON's reply ("\n" between lines) as CRLF wire bytes.
std::string ToWire(const std::string& reply) {
  std::string wire;
  for (char c : reply) {
    if (c == '\n') {
      wire += "\r\n";
    } else {
      wire.push_back(c);
    }
  }
  return wire + "\r\n";
}

bool StartsWithCode(const std::string& s) {
  return s.size() >= 3 && isdigit(static_cast<unsigned char>(s[0])) &&
         isdigit(static_cast<unsigned char>(s[1])) && isdigit(static_cast<unsigned char>(s[2]));
}

TEST(ReplyPolicyTest, ProviderReplies) {
  std::string path = testing::TestDataPath("provider-replies.json");
  if (path.empty()) {
    GTEST_SKIP() << "provider-replies.json not found under ../shared/testdata or "
                    "$POSTINO_TESTDATA; the real-reply accuracy test cannot run";
  }
  std::ifstream in(path);
  nlohmann::json entries = nlohmann::json::parse(in);
  ASSERT_TRUE(entries.is_array());
  ASSERT_GT(entries.size(), 100u);

  int parsed = 0, parsed_lenient = 0, not_parsable = 0;
  int scored = 0, category_ok = 0, action_ok = 0;
  std::ostringstream mismatches;
  for (size_t i = 0; i < entries.size(); ++i) {
    const auto& e = entries[i];
    const std::string text = e.at("reply").get<std::string>();
    const int code = e.at("code").get<int>();
    const std::string enhanced =
        e.at("enhanced").is_null() ? "" : e.at("enhanced").get<std::string>();
    const bool partial = e.value("partial", false);
    SCOPED_TRACE("entry " + std::to_string(i) + ": " + text.substr(0, 80));

    Reply reply;
    if (!StartsWithCode(text)) {
      // A partial quote without its code: the code comes from the
      // provider's documentation (see the entry's note). Only Classify runs.
      ASSERT_TRUE(partial) << "only partial entries may lack a code";
      ++not_parsable;
      reply.code = code;
      reply.enhanced = enhanced;
      reply.lines = {text};
    } else {
      std::string wire = ToWire(text);
      // A partial quote may stop inside a multi-line reply ("421-..."):
      // make its last line final.
      size_t last = wire.rfind("\r\n", wire.size() - 3);
      last = last == std::string::npos ? 0 : last + 2;
      if (partial && wire.size() > last + 3 && wire[last + 3] == '-') wire[last + 3] = ' ';
      smtp::ReplyParser strict;
      Status st = strict.Feed(wire);
      std::optional<Reply> r = strict.Next();
      if (!st.ok()) {
        // Only a code change within the reply (La Poste's "220-" banner
        // line before its "421") is refused by the strict parser; the
        // lenient mode reads it the way Postfix does.
        EXPECT_NE(st.message().find("code changed"), std::string::npos) << st.message();
        smtp::ReplyParser lenient(smtp::ReplyParserLimits{.allow_code_change = true});
        ASSERT_TRUE(lenient.Feed(wire).ok());
        r = lenient.Next();
        ++parsed_lenient;
      } else {
        ++parsed;
      }
      ASSERT_TRUE(r.has_value());
      EXPECT_FALSE(strict.HasReply()) << "one entry, one reply";
      EXPECT_EQ(r->code, code);
      EXPECT_EQ(r->enhanced, enhanced);
      reply = *r;
    }

    Decision d = Classify(Phase::kRcpt, reply);
    const std::string permanence = e.at("permanence").get<std::string>();
    EXPECT_EQ(d.permanent ? "permanent" : "transient", permanence);
    EXPECT_EQ(d.recipient == RecipientAction::kBounce, permanence == "permanent");
    if (partial) continue;
    ++scored;
    const std::string want_category = e.at("category").get<std::string>();
    const std::string want_action = e.at("suggested_action").get<std::string>();
    bool cat = CategoryName(d.category) == want_category;
    bool act = SuggestedAction(d) == want_action;
    category_ok += cat;
    action_ok += act;
    if (!cat || !act) {
      mismatches << "  [" << i << "] " << reply.ToString().substr(0, 100) << "\n      want "
                 << want_category << "/" << want_action << ", got " << CategoryName(d.category)
                 << "/" << SuggestedAction(d) << "\n";
    }
  }
  double category_accuracy = 100.0 * category_ok / scored;
  double action_accuracy = 100.0 * action_ok / scored;
  std::printf(
      "provider-replies.json: %zu entries; parsed %d strictly, %d only leniently, %d without a "
      "code (partial)\n"
      "non-partial entries scored: %d; category accuracy %.1f%% (%d), action accuracy %.1f%% "
      "(%d)\n",
      entries.size(), parsed, parsed_lenient, not_parsable, scored, category_accuracy, category_ok,
      action_accuracy, action_ok);
  // Floors just under what the rules reach on this data set (measured:
  // 100% category, 99.2% action; the one action miss is a mailbox-full reply
  // labelled bounce_and_suppress, which our suppress rule refuses by design).
  // The rules were written against this file, so these numbers overstate
  // accuracy on unseen replies; a drop here is a regression in the rules.
  EXPECT_GE(category_accuracy, 98.0) << "mismatches:\n" << mismatches.str();
  EXPECT_GE(action_accuracy, 98.0) << "mismatches:\n" << mismatches.str();
  if (!mismatches.str().empty()) std::printf("remaining mismatches:\n%s", mismatches.str().c_str());
}

}  // namespace
}  // namespace postino::policy
