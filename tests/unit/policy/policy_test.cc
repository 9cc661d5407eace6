// policy_test.cc: Policy::Classify on hand-written cases, configured rules
// (order, sites, RE2 errors), the bounds on long replies (issue 11 item 1),
// and every real provider reply in ../shared/testdata/provider-replies.json
// (parsed with ReplyParser first, so the parser is checked on them too).
#include "engine/policy/policy.h"

#include <gtest/gtest.h>

#include <chrono>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>

#include "engine/policy/rules.h"
#include "engine/smtp/reply_parser.h"
#include "tests/support/testdata.h"

namespace postino::policy {
namespace {

using smtp::Phase;
using smtp::Reply;
using std::chrono::hours;
using std::chrono::minutes;

// Classify(phase, reply) below is policy::Classify, DefaultPolicy()'s.

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

TEST(PolicyTest, PositiveIsDelivered) {
  Decision d = Classify(Phase::kEndOfData, Parse("250 2.0.0 OK queued\r\n"));
  EXPECT_EQ(d.recipient, RecipientAction::kDelivered);
  EXPECT_EQ(d.path, PathAction::kNone);
  EXPECT_FALSE(d.permanent);
}

TEST(PolicyTest, PermanenceFollowsTheBasicCode) {
  Decision d = Classify(Phase::kRcpt, Parse("451 5.7.3 odd but transient\r\n"));
  EXPECT_FALSE(d.permanent);
  EXPECT_EQ(d.recipient, RecipientAction::kRetryLater);
  d = Classify(Phase::kRcpt, Parse("553 4.7.1 odd but permanent\r\n"));
  EXPECT_TRUE(d.permanent);
  EXPECT_EQ(d.recipient, RecipientAction::kBounce);
}

TEST(PolicyTest, TransientBeforeTransactionTriesNextMx) {
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

TEST(PolicyTest, UnknownOutcomeAfterDotIsRetried) {
  Decision d =
      Classify(Phase::kEndOfData,
               Local(451, "4.4.2", "connection lost after the end of data; outcome unknown"));
  EXPECT_EQ(d.recipient, RecipientAction::kRetryLater);
  EXPECT_FALSE(d.suppress);
}

TEST(PolicyTest, LocalTlsRequiredSuspendsAndTriesNextMx) {
  Decision d = Classify(Phase::kStartTls,
                        Local(454, "4.7.0", "TLS required but STARTTLS not offered by the server"));
  EXPECT_EQ(d.category, Category::kTlsRequired);
  EXPECT_EQ(d.recipient, RecipientAction::kTryNextMx);
}

TEST(PolicyTest, LocalRepliesBlameNobody) {
  // Words a peer would use for an IP block, in a reply postino made up.
  Decision d = Classify(Phase::kConnect,
                        Local(451, "4.4.1", "connection refused while connecting to 192.0.2.1"));
  EXPECT_EQ(d.path, PathAction::kNone);
  EXPECT_EQ(d.recipient, RecipientAction::kTryNextMx);
  EXPECT_EQ(d.category, Category::kOther);
  d = Classify(Phase::kRcpt,
               Local(550, "5.1.2", "domain example.invalid does not exist (NXDOMAIN)"));
  EXPECT_EQ(d.category, Category::kDns);
  EXPECT_FALSE(d.suppress);
  d = Classify(
      Phase::kRcpt,
      Local(556, "5.1.10", "example.net publishes a null MX (RFC 7505): it accepts no mail"));
  EXPECT_EQ(d.category, Category::kDns);
  EXPECT_TRUE(d.suppress);
}

TEST(PolicyTest, SmtpAuthFailureSuspendsTheRoute) {
  Decision d = Classify(Phase::kAuth, Parse("535 5.7.8 Authentication credentials invalid\r\n"));
  EXPECT_EQ(d.category, Category::kAuthentication);
  EXPECT_EQ(d.path, PathAction::kSuspend);
  EXPECT_FALSE(d.suppress);
}

TEST(PolicyTest, SuppressOnlyPermanentInvalidOrDisabled) {
  EXPECT_TRUE(Classify(Phase::kRcpt, Parse("550 5.1.1 user unknown\r\n")).suppress);
  EXPECT_FALSE(Classify(Phase::kRcpt, Parse("450 4.1.1 user unknown\r\n")).suppress);
  EXPECT_FALSE(
      Classify(Phase::kRcpt, Parse("550 5.7.1 blocked using zen.spamhaus.org\r\n")).suppress);
}

TEST(PolicyTest, MalformedEnhancedCodeInHandBuiltReplyIsHarmless) {
  Reply r;
  r.code = 550;
  r.enhanced = "5.x.99999999999999999999";
  r.lines = {"whatever"};
  Decision d = Classify(Phase::kRcpt, r);
  EXPECT_EQ(d.recipient, RecipientAction::kBounce);
}

TEST(PolicyTest, BuiltInRulesCompile) {
  EXPECT_TRUE(internal::Principled::Instance().ok());
  Result<std::shared_ptr<const Policy>> p = Policy::Create({}, true);
  ASSERT_TRUE(p.ok()) << p.status().ToString();
  EXPECT_EQ((*p)->rule_count(), internal::ProviderRules().size());
  EXPECT_EQ(DefaultPolicy().rule_count(), internal::ProviderRules().size());
}

TEST(PolicyTest, TooManyRecipientsIsACategoryAndRetries) {
  for (const char* wire : {"452 4.5.3 Too many recipients\r\n", "452 Too many recipients\r\n",
                           "451 4.5.3 Error: too many recipients\r\n",
                           "552 5.5.3 Recipient limit reached for this message\r\n"}) {
    Decision d = Classify(Phase::kRcpt, Parse(wire));
    EXPECT_EQ(d.category, Category::kTooManyRecipients) << wire;
    EXPECT_EQ(d.recipient, RecipientAction::kRetryLater) << wire;
    EXPECT_EQ(d.path, PathAction::kNone) << wire;
    EXPECT_FALSE(d.suppress) << wire;
  }
  // A full mailbox is not a full transaction.
  Decision full = Classify(Phase::kRcpt, Parse("452 4.2.2 Mailbox full\r\n"));
  EXPECT_EQ(full.category, Category::kMailboxFull);
  // Recipients per hour is a rate, not the size of this transaction.
  Decision hourly = Classify(Phase::kRcpt, Parse("452 4.5.3 Too many recipients this hour\r\n"));
  EXPECT_EQ(hourly.category, Category::kThrottled);
  EXPECT_EQ(hourly.path, PathAction::kSlowDown);
}

TEST(PolicyTest, EveryPathActionHasADurationAndSlowDownARate) {
  for (const char* wire :
       {"421 4.7.28 unusual rate of unsolicited mail - gsmtp\r\n",
        "554 5.7.1 Client host [192.0.2.1] blocked using zen.spamhaus.org\r\n",
        "421 Too many concurrent SMTP connections from this IP address\r\n",
        "530 5.7.0 Must issue a STARTTLS command first\r\n",
        "553 5.7.2 [TSS09] All messages from 192.0.2.1 will be permanently deferred\r\n",
        "451 4.7.650 The mail server has been temporarily rate limited due to IP reputation\r\n"}) {
    Decision d = Classify(Phase::kRcpt, Parse(wire));
    ASSERT_NE(d.path, PathAction::kNone) << wire;
    EXPECT_GT(d.path_for.count(), 0) << wire;
    EXPECT_FALSE(d.rule.empty()) << wire;
    if (d.path == PathAction::kSlowDown) {
      ASSERT_TRUE(d.rate.has_value()) << wire;
      EXPECT_TRUE(d.rate->valid()) << wire;
      EXPECT_GT(d.recovery_interval.count(), 0) << wire;
    }
  }
  Decision d = Classify(Phase::kRcpt, Parse("553 5.7.2 [TSS09] permanently deferred\r\n"));
  EXPECT_EQ(d.rule, "yahoo-ts03-permanent");
  EXPECT_EQ(d.path_for, hours(12));
}

RuleSpec Rule(const char* name, const char* pattern, const char* site, RuleSpec::Action action,
              Nanos duration) {
  RuleSpec s;
  s.name = name;
  s.pattern = pattern;
  s.site = site;
  s.action = action;
  s.duration = duration;
  return s;
}

TEST(PolicyTest, ConfiguredRulesComeFirstAndSitesLimitThem) {
  RuleSpec only_google =
      Rule("g", "^451 ", "*.google.com", RuleSpec::Action::kSuspend, minutes(10));
  RuleSpec slow = Rule("any", "^451 4\\.3\\.0", "", RuleSpec::Action::kSlowDown, minutes(20));
  slow.rate = *ParseRate("10/min");
  RuleSpec bounce = Rule("bounce-tss09", "\\[tss09\\]", "", RuleSpec::Action::kBounce, Nanos(0));
  Result<std::shared_ptr<const Policy>> p = Policy::Create({only_google, slow, bounce}, true);
  ASSERT_TRUE(p.ok()) << p.status().ToString();
  const Policy& policy = **p;
  Reply r = Parse("451 4.3.0 try later\r\n");
  Decision d = policy.Classify(Phase::kRcpt, r, "mx1.l.google.com,mx2.l.google.com");
  EXPECT_EQ(d.rule, "g");
  EXPECT_EQ(d.path, PathAction::kSuspend);
  EXPECT_EQ(d.path_for, minutes(10));
  EXPECT_EQ(d.recipient, RecipientAction::kRetryLater);
  d = policy.Classify(Phase::kRcpt, r, "mx.yahoodns.net");
  EXPECT_EQ(d.rule, "any");
  EXPECT_EQ(d.path, PathAction::kSlowDown);
  EXPECT_EQ(d.rate->ToString(), "10/min");
  EXPECT_EQ(d.path_for, minutes(20));
  // The operator's bounce wins over the built-in Yahoo suspension.
  d = policy.Classify(Phase::kRcpt, Parse("553 5.7.2 [TSS09] permanently deferred\r\n"));
  EXPECT_EQ(d.rule, "bounce-tss09");
  EXPECT_EQ(d.recipient, RecipientAction::kBounce);
  EXPECT_EQ(d.path, PathAction::kNone);
  EXPECT_FALSE(d.suppress);
  // Nothing configured matches: built-in rules, then the principled rules.
  d = policy.Classify(Phase::kRcpt, Parse("550 5.1.1 user unknown\r\n"));
  EXPECT_TRUE(d.suppress);
  EXPECT_EQ(d.blame, Blame::kRecipient);
  EXPECT_EQ(policy.Classify(Phase::kRcpt, Parse("250 ok\r\n")).recipient,
            RecipientAction::kDelivered);
}

TEST(PolicyTest, InvalidRulesAreRefusedByName) {
  auto p = Policy::Create({Rule("bad", "(", "", RuleSpec::Action::kBounce, Nanos(0))}, false);
  ASSERT_FALSE(p.ok());
  EXPECT_NE(p.status().message().find("\"bad\""), std::string::npos);
  EXPECT_NE(p.status().message().find("not a valid regular expression (RE2)"), std::string::npos);
  // Back-references are not RE2 (no backtracking): refused at load.
  p = Policy::Create({Rule("backref", "(a)\\1", "", RuleSpec::Action::kBounce, Nanos(0))}, false);
  EXPECT_FALSE(p.ok());
  p = Policy::Create({Rule("slow", "x", "", RuleSpec::Action::kSlowDown, minutes(1))}, false);
  ASSERT_FALSE(p.ok());
  EXPECT_NE(p.status().message().find("needs a rate"), std::string::npos);
  p = Policy::Create({Rule("zero", "x", "", RuleSpec::Action::kSuspend, Nanos(0))}, false);
  ASSERT_FALSE(p.ok());
  EXPECT_NE(p.status().message().find("duration must be positive"), std::string::npos);
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
  EXPECT_EQ(NormalizeReply(Parse("550-5.1.1 no such\r\n550 5.1.1 user\r\n")),
            "550 5.1.1 no such user");
  // Control characters from the peer read as spaces.
  EXPECT_EQ(NormalizeReply("550 5.7.1 a\x1b[31mb"), "550 5.7.1 a [31mb");
}

// Issue 11 item 1: a 550 reply of 20 lines x 3,900 characters (78 KB) ended
// `postino run` with SIGSEGV in std::regex. The policy bounds what rules
// see and matches with RE2: a decision, quickly, whatever the reply.
std::string LongReply(char filler) {
  std::string wire;
  for (int i = 0; i < 20; ++i) {
    wire += i < 19 ? "550-5.7.1 " : "550 5.7.1 ";
    wire += std::string(3900, filler);
    wire += "\r\n";
  }
  return wire;
}

TEST(PolicyTest, LongReplyIsClassifiedQuicklyWithoutCrashing) {
  RuleSpec greedy = Rule("greedy", "^550 (?:a|b)*c", "", RuleSpec::Action::kSuspend, hours(1));
  Result<std::shared_ptr<const Policy>> p = Policy::Create({greedy}, true);
  ASSERT_TRUE(p.ok()) << p.status().ToString();
  // Compile the built-in patterns once (done at start-up in a real run).
  (void)DefaultPolicy().Classify(Phase::kRcpt, Parse("550 5.1.1 user unknown\r\n"));
  (void)(*p)->Classify(Phase::kRcpt, Parse("550 5.1.1 user unknown\r\n"));
  for (char filler : {'a', ' ', 'x'}) {
    std::string wire = LongReply(filler);
    ASSERT_GT(wire.size(), 78000u);
    EXPECT_LE(NormalizeReply(wire).size(), kMaxNormalizedReply);
    smtp::ReplyParser parser;
    ASSERT_TRUE(parser.Feed(wire).ok());
    std::optional<Reply> reply = parser.Next();
    ASSERT_TRUE(reply.has_value());
    auto start = std::chrono::steady_clock::now();
    Decision d = (*p)->Classify(Phase::kRcpt, *reply, "mx.example.net");
    Decision d2 = DefaultPolicy().Classify(Phase::kEndOfData, *reply);
    auto took = std::chrono::steady_clock::now() - start;
    EXPECT_EQ(d.recipient, RecipientAction::kBounce);
    EXPECT_EQ(d2.recipient, RecipientAction::kBounce);
    EXPECT_FALSE(d.suppress);
    EXPECT_LT(took, std::chrono::milliseconds(50)) << "filler '" << filler << "'";
    std::printf("78 KB reply ('%c' x 3900 x 20): two decisions in %.2f ms\n", filler,
                std::chrono::duration<double, std::milli>(took).count());
  }
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

TEST(PolicyTest, ProviderReplies) {
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
    if (d.path != PathAction::kNone) {
      EXPECT_GT(d.path_for.count(), 0);
      EXPECT_EQ(d.path == PathAction::kSlowDown, d.rate.has_value());
    }
    const std::string label = e.at("category").get<std::string>();
    if (label != "invalid_recipient" && label != "mailbox_disabled" && label != "mailbox_full") {
      EXPECT_FALSE(d.suppress) << "suppressed a " << label << " reply";
    }
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
  // 100% category, 100% action). The text classes were checked against this
  // file, so these numbers overstate accuracy on unseen replies (see
  // blame_table_test.cc for replies written here); a drop is a regression.
  EXPECT_GE(category_accuracy, 98.0) << "mismatches:\n" << mismatches.str();
  EXPECT_GE(action_accuracy, 98.0) << "mismatches:\n" << mismatches.str();
  if (!mismatches.str().empty()) std::printf("remaining mismatches:\n%s", mismatches.str().c_str());
}

}  // namespace
}  // namespace postino::policy
