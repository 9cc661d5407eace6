// blame_table_test.cc: the principled classification (issue 11 item 8) on
// a table of realistic replies written here — not taken from
// provider-replies.json — covering each party a reply can blame: the
// recipient, the sender, the sending IP/domain (reputation, blocklists,
// PTR, TLS), the rate, the content, plus greylisting and full transactions.
// The agreement rate is printed; the table must agree 100%, and no reply
// that blames the sender, the rate or the reputation may ever suppress.
#include <gtest/gtest.h>

#include <cstdio>
#include <sstream>
#include <string>

#include "engine/policy/policy.h"
#include "tests/unit/policy/replies.h"

namespace postino::policy {
namespace {

using smtp::Phase;
using testing::Parse;

struct Case {
  const char* wire;
  Category category;
  const char* action;  // SuggestedAction
  Blame blame;
};

constexpr Category kInvalid = Category::kInvalidRecipient;
constexpr Category kDisabled = Category::kMailboxDisabled;
constexpr Category kFull = Category::kMailboxFull;

const Case kTable[] = {
    // ---- The recipient is the cause: suppress when permanent. ----
    {"550 5.1.10 RESOLVER.ADR.RecipientNotFound; Recipient not found by SMTP address lookup\r\n",
     kInvalid, "bounce_and_suppress", Blame::kRecipient},
    {"556 5.1.10 <ana@example.net>: Recipient address rejected: Domain example.net does not "
     "accept mail (nullMX)\r\n",
     Category::kDns, "bounce_and_suppress", Blame::kRecipient},
    {"550 5.1.1 Mailbox is inactive and has exceeded its quota\r\n", kFull, "bounce_and_suppress",
     Blame::kRecipient},
    {"550 5.1.1 <ana@example.net>: Recipient address rejected: User unknown in local recipient "
     "table\r\n",
     kInvalid, "bounce_and_suppress", Blame::kRecipient},
    {"550 5.1.1 The mailbox ana@example.net does not exist\r\n", kInvalid, "bounce_and_suppress",
     Blame::kRecipient},
    {"550 5.1.1 This address is no longer valid\r\n", kInvalid, "bounce_and_suppress",
     Blame::kRecipient},
    {"550 No such user here\r\n", kInvalid, "bounce_and_suppress", Blame::kRecipient},
    {"511 sorry, no mailbox here by that name (#5.1.1)\r\n", kInvalid, "bounce_and_suppress",
     Blame::kRecipient},
    {"550 5.1.1 Sorry, the address ana@example.net is not valid anymore\r\n", kInvalid,
     "bounce_and_suppress", Blame::kRecipient},
    {"553 5.3.0 <ana@example.net>... Addressee unknown\r\n", kInvalid, "bounce_and_suppress",
     Blame::kRecipient},
    {"550 5.1.1 Recipient not found\r\n", kInvalid, "bounce_and_suppress", Blame::kRecipient},
    {"450 4.1.1 <ana@example.net>: Recipient address rejected: unverified address: User "
     "unknown\r\n",
     kInvalid, "retry_later", Blame::kRecipient},
    {"550 5.2.1 Mailbox frozen: the account of ana@example.net is frozen\r\n", kDisabled,
     "bounce_and_suppress", Blame::kRecipient},
    {"550 5.2.1 This account is inactive\r\n", kDisabled, "bounce_and_suppress", Blame::kRecipient},
    {"554 5.7.1 <ana@example.net>: Recipient address rejected: Account closed\r\n", kDisabled,
     "bounce_and_suppress", Blame::kRecipient},
    {"552 5.2.2 The mailbox of ana@example.net is inactive and out of storage\r\n", kFull,
     "bounce_and_suppress", Blame::kRecipient},
    {"452 4.2.2 Mailbox full\r\n", kFull, "retry_later", Blame::kRecipient},
    {"552 5.2.2 Quota exceeded for ana@example.net\r\n", kFull, "bounce", Blame::kRecipient},

    // ---- The sender is the cause: never suppress. ----
    {"550 5.1.0 <news@shop.example>: Sender address rejected: User unknown in local recipient "
     "table\r\n",
     Category::kSender, "bounce", Blame::kSender},
    {"553 sorry, your envelope sender is in my badmailfrom list (#5.7.1)\r\n", Category::kSender,
     "bounce", Blame::kSender},
    {"550 5.7.1 Your domain has no DNS MX or A record\r\n", Category::kDns, "suspend_path",
     Blame::kSender},
    {"550 5.7.27 Sender address has null MX\r\n", Category::kDns, "suspend_path", Blame::kSender},
    {"451 4.1.8 Domain of sender address news@shop.example does not resolve\r\n", Category::kDns,
     "retry_later", Blame::kSender},
    {"550 Sender domain shop.example has no MX or A record\r\n", Category::kDns, "suspend_path",
     Blame::kSender},
    {"550 5.1.1 <news@shop.example>: Sender address rejected: User unknown in relay recipient "
     "table\r\n",
     Category::kSender, "bounce", Blame::kSender},
    {"550 5.7.1 Sender rejected by acceptable use policy\r\n", Category::kSender, "bounce",
     Blame::kSender},
    {"550 5.1.0 <news@shop.example> sender rejected\r\n", Category::kSender, "bounce",
     Blame::kSender},
    {"550 5.7.511 Access denied, banned sender[news@shop.example]. To request removal forward "
     "this message to delist@example.com\r\n",
     Category::kSender, "bounce", Blame::kSender},
    {"550 5.7.26 Unauthenticated mail is refused: the message fails DMARC\r\n",
     Category::kAuthentication, "bounce", Blame::kSender},
    {"421 4.7.26 Temporary DMARC evaluation failure, please retry\r\n", Category::kAuthentication,
     "retry_later", Blame::kSender},
    {"421 4.7.26 Your email has been rate limited because it is unauthenticated\r\n",
     Category::kAuthentication, "slow_down_path", Blame::kSender},
    {"550 5.7.1 Your sending domain is not allowed\r\n", Category::kSender, "bounce",
     Blame::kSender},

    // ---- The sending IP / domain (reputation, blocklists): suspend. ----
    {"550 5.7.1 Access denied for sending IP 203.0.113.9\r\n", Category::kReputation,
     "suspend_path", Blame::kPath},
    {"550 5.7.1 Your IP address 203.0.113.9 is blacklisted. Contact your provider\r\n",
     Category::kReputation, "suspend_path", Blame::kPath},
    {"421 4.7.1 [TSS11] Excessive unknown recipients - possible phishing\r\n",
     Category::kReputation, "slow_down_path", Blame::kPath},
    {"553 sorry, that domain isn't in my list of allowed rcpthosts (#5.7.1)\r\n",
     Category::kRelayDenied, "bounce", Blame::kPath},
    {"550 5.7.1 Access denied, banned sending IP [203.0.113.9]\r\n", Category::kReputation,
     "suspend_path", Blame::kPath},
    {"554 5.7.1 Traffic not accepted from this IP\r\n", Category::kReputation, "suspend_path",
     Blame::kPath},
    {"421 4.7.0 Your IP 203.0.113.9 is temporarily blocked due to poor sending history\r\n",
     Category::kReputation, "suspend_path", Blame::kPath},
    {"554 5.7.1 Rejected: 203.0.113.9 is listed at bl.spamcop.net\r\n", Category::kReputation,
     "suspend_path", Blame::kPath},
    {"554 Your access to this mail system has been rejected due to the sending MTA's poor "
     "reputation\r\n",
     Category::kReputation, "suspend_path", Blame::kPath},
    {"550 5.1.1 Spam block: mail from 203.0.113.9 refused (BL000010)\r\n", Category::kReputation,
     "suspend_path", Blame::kPath},
    {"421 4.7.1 Client host 203.0.113.9 blocked, see https://bl.example.org\r\n",
     Category::kReputation, "suspend_path", Blame::kPath},
    {"550 5.7.1 Connection refused: IP listed in RBL\r\n", Category::kReputation, "suspend_path",
     Blame::kPath},
    {"550 5.7.25 The sending IP 203.0.113.9 has no PTR record\r\n", Category::kDns, "suspend_path",
     Blame::kPath},
    {"450 4.7.25 Client host rejected: cannot find your hostname, [203.0.113.9]\r\n",
     Category::kDns, "retry_later", Blame::kPath},
    {"550 5.7.10 Encryption required: this server only accepts mail over TLS\r\n",
     Category::kTlsRequired, "suspend_path", Blame::kPath},
    {"554 5.7.1 <ana@example.net>: Relay access denied\r\n", Category::kRelayDenied, "bounce",
     Blame::kPath},

    // ---- The rate: slow the path down (never suppress). ----
    {"550 5.7.1 Daily sending quota exceeded\r\n", Category::kThrottled, "slow_down_path",
     Blame::kRate},
    {"421 4.7.0 Server is busy, try again later\r\n", Category::kThrottled, "slow_down_path",
     Blame::kRate},
    {"452 Too many recipients received this hour\r\n", Category::kThrottled, "slow_down_path",
     Blame::kRate},
    {"550 5.1.1 Too many recipients this hour, try again later\r\n", Category::kThrottled,
     "slow_down_path", Blame::kRate},
    {"421 4.7.0 Connection rate limit exceeded\r\n", Category::kThrottled, "slow_down_path",
     Blame::kRate},
    {"451 4.7.500 Server busy. Please try again later from [203.0.113.9]. (S77719)\r\n",
     Category::kThrottled, "slow_down_path", Blame::kRate},
    {"421 4.7.0 [TSS05] Messages from 203.0.113.9 temporarily deferred - 4.16.56.1\r\n",
     Category::kThrottled, "slow_down_path", Blame::kRate},
    {"450 4.7.1 Too many messages sent from your IP in the last hour, slow down\r\n",
     Category::kThrottled, "slow_down_path", Blame::kRate},
    {"550 Too many connections from your host, try again later\r\n", Category::kThrottled,
     "slow_down_path", Blame::kRate},
    {"421 Too many concurrent SMTP connections; please try again later\r\n", Category::kThrottled,
     "slow_down_path", Blame::kRate},
    {"452 4.2.1 Too many messages for this recipient in the last hour\r\n", Category::kThrottled,
     "retry_later", Blame::kRate},

    // ---- The transaction is full (RFC 5321 §4.5.3.1.10): send the rest later. ----
    {"452 4.5.3 Too many recipients\r\n", Category::kTooManyRecipients, "retry_later",
     Blame::kRate},
    {"452 Too many recipients\r\n", Category::kTooManyRecipients, "retry_later", Blame::kRate},

    // ---- The content: bounce, never suppress. ----
    {"550 5.7.1 Message rejected as spam by content filtering\r\n", Category::kPolicy, "bounce",
     Blame::kContent},
    {"554 5.7.1 Virus found in attachment\r\n", Category::kPolicy, "bounce", Blame::kContent},
    {"550 5.1.1 Message content rejected\r\n", Category::kPolicy, "bounce", Blame::kContent},
    {"552 5.3.4 Message size exceeds the limit of this server\r\n", Category::kMessageTooLarge,
     "bounce", Blame::kContent},

    // ---- Nobody in particular. ----
    // An access rule under x.7 (policy), not an unknown user.
    {"554 5.7.1 <ana@example.net>: Recipient address rejected: Access denied\r\n",
     Category::kPolicy, "bounce", Blame::kUnknown},
    {"450 4.7.1 Greylisted, please try again in 300 seconds\r\n", Category::kGreylisted,
     "retry_later", Blame::kUnknown},
    {"451 4.7.1 Please try again later (greylisting in action)\r\n", Category::kGreylisted,
     "retry_later", Blame::kUnknown},
    {"451 4.3.0 Temporary local problem, please try later\r\n", Category::kOther, "retry_later",
     Blame::kUnknown},
    {"421 4.3.2 System not accepting network messages\r\n", Category::kOther, "retry_later",
     Blame::kUnknown},
    {"550 Administrative prohibition\r\n", Category::kOther, "bounce", Blame::kUnknown},
};

TEST(BlameTableTest, AgreesOnEveryReply) {
  int agree = 0, total = 0;
  std::ostringstream misses;
  for (const Case& c : kTable) {
    ++total;
    Decision d = DefaultPolicy().Classify(Phase::kRcpt, Parse(c.wire));
    const bool ok =
        d.category == c.category && SuggestedAction(d) == c.action && d.blame == c.blame;
    agree += ok;
    if (!ok) {
      misses << "  " << c.wire << "    want " << CategoryName(c.category) << "/" << c.action << "/"
             << BlameName(c.blame) << ", got " << CategoryName(d.category) << "/"
             << SuggestedAction(d) << "/" << BlameName(d.blame) << " (rule " << d.rule << ")\n";
    }
    if (d.path != PathAction::kNone) {
      EXPECT_GT(d.path_for.count(), 0) << c.wire;
    }
  }
  std::printf("blame table: %d/%d replies agree (%.1f%%)\n", agree, total, 100.0 * agree / total);
  EXPECT_EQ(agree, total) << "disagreements:\n" << misses.str();
}

TEST(BlameTableTest, NeverSuppressUnlessTheRecipientIsTheCause) {
  for (const Case& c : kTable) {
    Decision d = DefaultPolicy().Classify(Phase::kRcpt, Parse(c.wire));
    if (d.suppress) {
      EXPECT_EQ(d.blame, Blame::kRecipient) << c.wire;
      EXPECT_TRUE(d.permanent) << c.wire;
    }
    if (c.blame == Blame::kSender || c.blame == Blame::kRate || c.blame == Blame::kPath ||
        c.blame == Blame::kContent) {
      EXPECT_FALSE(d.suppress) << c.wire;
    }
  }
}

}  // namespace
}  // namespace postino::policy
