// general_rules_test.cc: the reason and layout rules added after a held-out
// check on bounces outside the corpus (bench/RESULTS.md, "held-out check"):
// each test is a small message or reply written for this project that shows
// one general rule — an RFC 5321/3463 code, the command a reply answered, an
// MTA's fixed wording, a report layout — and the case next to it that the
// rule must leave alone.
#include <gtest/gtest.h>

#include <string>

#include "inbound/returns/reason.h"
#include "inbound/returns/report.h"

namespace postino::inbound::returns {
namespace {

std::string R(std::string_view status, int code, std::string_view diag, std::string_view command = "",
              std::string_view action = "failed") {
  ReasonInput in;
  in.status = status;
  in.reply_code = code;
  in.diagnostic = diag;
  in.action = action;
  in.command = command;
  in.structured = true;
  return ClassifyReason(in);
}

TEST(ReturnsGeneralRules, PostfixHeldDestinationIsNotASuspendedAccount) {
  // Postfix holds a destination after earlier failures: the cause follows.
  EXPECT_EQ(R("4.0.0", 421,
              "delivery temporarily suspended: connect to mx.example.org[192.0.2.9]: server refused "
              "to talk to me: 421 Service not available"),
            "blocked");
  EXPECT_EQ(R("5.2.1", 550, "550 5.2.1 This account has been suspended"), "suspend");
}

TEST(ReturnsGeneralRules, ReplyCodes500To504RefuseTheCommand) {
  EXPECT_EQ(R("5.0.0", 504, "504 Command parameter not implemented", "DATA"), "syntaxerror");
  EXPECT_EQ(R("", 502, "502 Nope"), "syntaxerror");
  EXPECT_EQ(R("5.0.0", 550, "550 Nope"), "onhold");
  // The code's own meaning (X.1.7 a bad sender) still decides first.
  EXPECT_EQ(R("5.1.7", 501, "501 5.1.7 Bad sender address syntax", "MAIL"), "rejected");
}

TEST(ReturnsGeneralRules, BareAccessDeniedAtMailFromRefusesTheSender) {
  EXPECT_EQ(R("5.7.1", 550, "550 5.7.1 Access denied", "MAIL"), "rejected");
  // Words about the client keep the block.
  EXPECT_EQ(R("5.7.1", 550, "550 5.7.1 Access denied, banned sending IP [192.0.2.1]", "MAIL"), "blocked");
  EXPECT_EQ(R("5.7.1", 550, "550 5.7.1 Access denied", "RCPT"), "blocked");
  // A client address without a name is the missing PTR record.
  EXPECT_EQ(R("4.7.1", 450, "450 4.7.1 Access denied. IP name lookup failed [192.0.2.1]", "MAIL"),
            "requireptr");
}

TEST(ReturnsGeneralRules, SpecificWordsBeforeGenericOnes) {
  EXPECT_EQ(R("5.0.0", 554, "554 Mail from a@example.net rejected for policy reasons.", "MAIL"),
            "policyviolation");
  EXPECT_EQ(R("5.7.1", 550, "550 5.7.1 can't determine Purported Responsible Address", "DATA"), "rejected");
  EXPECT_EQ(R("5.0.0", 0,
              "Your email to group g@example.com was rejected due to spam classification. Set up SPF "
              "records for your sending domain."),
            "spamdetected");
  EXPECT_EQ(R("5.7.1", 550, "550 5.7.1 <u@example.com>: Recipient address rejected: User u@example.com "
                            "temporary locked. Please try again later!"),
            "suspend");
  EXPECT_EQ(R("5.0.0", 501,
              "501 Rcpt-To validation failed: 5.7.1 This system is not configured to relay mail", "RCPT"),
            "norelaying");
  EXPECT_EQ(R("", 0, "recipient addresses that were incorrectly constructed: a@example.com <b@example.net>: "
                     "malformed address"),
            "syntaxerror");
  EXPECT_EQ(R("", 500, "500 Line limit exceeded", "DATA"), "mesgtoobig");
  // A client told to relay through its provider is refused for where it
  // connects from, even at MAIL FROM.
  EXPECT_EQ(R("5.7.0", 550, "550 5.7.0 <a@example.jp>... Please use the smtp server of your ISP.", "MAIL"),
            "blocked");
}

TEST(ReturnsGeneralRules, Temporary432LetsTheWordsDecide) {
  EXPECT_EQ(R("4.3.2", 452, "452 4.3.2 Connection rate limit exceeded.", "MAIL"), "toomanyconn");
  EXPECT_EQ(R("5.3.2", 550, "550 5.3.2 Connection rate limit exceeded."), "notaccept");
  EXPECT_EQ(R("4.3.2", 421, "421 4.3.2 Service shutting down"), "notaccept");
}

TEST(ReturnsGeneralRules, Microsoft5110RecipientNotFoundIsAnUnknownUser) {
  EXPECT_EQ(R("5.1.10", 550, "550 5.1.10 RESOLVER.ADR.RecipientNotFound; Recipient not found by SMTP address lookup"),
            "userunknown");
  // RFC 7505's null MX keeps its meaning.
  EXPECT_EQ(R("5.1.10", 556, "556 5.1.10 example.org does not accept mail (null MX)"), "notaccept");
  EXPECT_EQ(R("5.1.10", 0, "host/domain does not accept mail"), "notaccept");
}

TEST(ReturnsGeneralRules, HostNameLookupFailureIsTemporaryNetworkTrouble) {
  EXPECT_EQ(R("4.0.0", 0, "example.net: host name lookup failure", "", "delayed"), "networkerror");
  EXPECT_EQ(R("5.0.0", 0, "example.net: host name lookup failure"), "hostunknown");
}

// A DSN whose recipients carry no Diagnostic-Code: the Status comment is
// the reporting MTA's explanation, and the report's text (which quotes the
// other recipient's reply) does not stand in for it.
const char kDsnStatusComments[] = R"(From: MAILER-DAEMON@mx.example.net
To: sender@example.com
Subject: Returned mail
MIME-Version: 1.0
Content-Type: multipart/report; report-type=delivery-status; boundary="S1"

--S1
Content-Type: text/plain

Your message had delivery problems. One reply was: 550 user unknown

--S1
Content-Type: message/delivery-status

Reporting-MTA: dns; mx.example.net

Final-Recipient: rfc822; late@example.org
Action: delayed
Status: 4.0.0 (example.org: host name lookup failure)

Final-Recipient: rfc822; other@example.net
Action: failed
Status: 5.0.0

--S1--
)";

TEST(ReturnsGeneralRules, DsnStatusCommentIsTheRecipientsDiagnostic) {
  ReturnReport r = ParseReturn(kDsnStatusComments);
  ASSERT_EQ(r.recipients.size(), 2u);
  EXPECT_EQ(r.recipients[0].address, "late@example.org");
  EXPECT_EQ(r.recipients[0].diagnostic, "example.org: host name lookup failure");
  EXPECT_EQ(r.recipients[0].reason, "networkerror");
  // "550 user unknown" in the text is not this recipient's reply.
  EXPECT_NE(r.recipients[1].reason, "filtered");
  EXPECT_NE(r.recipients[1].reason, "userunknown");
}

// A comment that names no cause ("permanent failure") leaves the report's
// own line for the recipient to decide.
const char kDsnVagueStatusComment[] = R"(From: MAILER-DAEMON@mx.example.net
To: sender@example.com
Subject: Returned mail
MIME-Version: 1.0
Content-Type: multipart/report; report-type=delivery-status; boundary="S2"

--S2
Content-Type: text/plain

bob@example.org: 550 5.1.1 mailbox not found

--S2
Content-Type: message/delivery-status

Reporting-MTA: dns; mx.example.net

Final-Recipient: rfc822; bob@example.org
Action: failed
Status: 5.0.0 (permanent failure)

--S2--
)";

TEST(ReturnsGeneralRules, VagueStatusCommentGivesWayToTheReportText) {
  ReturnReport r = ParseReturn(kDsnVagueStatusComment);
  ASSERT_EQ(r.recipients.size(), 1u);
  EXPECT_EQ(r.recipients[0].reason, "userunknown");
  EXPECT_EQ(r.recipients[0].status, "5.1.1");
}

// The original's header attached as a text/plain file: its Return-Path and
// From lines are not the reporting server's words about the failure.
const char kHeadersAsTextAttachment[] = R"(From: mailer-daemon@gw.example.net
To: sender@example.com
Subject: There was an error sending your mail
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary="H1"

--H1
Content-Type: text/plain; charset=us-ascii

The following recipients returned permanent errors: rcpt@example.org.
Reason: the server refused the message (DATA): [554 5.4.6 Hop count exceeded - possible mail loop]

--H1
Content-Type: text/plain; name="headers.txt"
Content-Disposition: attachment; filename="headers.txt"

Received: from client.example.com ([192.0.2.5]) by gw.example.net
Date: Thu, 29 Apr 2021 10:00:00 +0000
To: rcpt@example.org
From: Sender <sender@example.com>
Subject: Hello
Message-ID: <m1@example.com>
Return-Path: sender@example.com

--H1--
)";

TEST(ReturnsGeneralRules, HeaderBlockAttachedAsTextIsTheOriginal) {
  ReturnReport r = ParseReturn(kHeadersAsTextAttachment);
  ASSERT_EQ(r.recipients.size(), 1u);
  EXPECT_EQ(r.recipients[0].address, "rcpt@example.org");
  EXPECT_EQ(r.recipients[0].reason, "networkerror");
  EXPECT_EQ(r.original_message_id, "<m1@example.com>");
}

// A text bounce that names the receiving server only in its words: the
// provider's own code convention (Orange's OFR_nnn) applies to it too.
const char kTextBounceNamingTheHost[] = R"(From: Mail Delivery System <mailer-daemon@relay.example.net>
To: sender@example.com
Subject: Mail delivery failed: returning message to sender
Content-Type: text/plain; charset=us-ascii

A message that you sent could not be delivered. The following address failed:

someone@example.fr:
SMTP error from remote server for TEXT command, host: smtp-in.orange.fr (192.0.2.7) reason: 550 5.2.0 Refused. OFR_506 [506]
)";

TEST(ReturnsGeneralRules, TextBounceNamesTheRemoteHost) {
  ReturnReport r = ParseReturn(kTextBounceNamingTheHost);
  ASSERT_EQ(r.recipients.size(), 1u);
  EXPECT_EQ(r.recipients[0].address, "someone@example.fr");
  EXPECT_EQ(r.recipients[0].remote_mta, "smtp-in.orange.fr");
  EXPECT_EQ(r.recipients[0].reason, "spamdetected");
}


// A multi-line reply quoted in Diagnostic-Code without folding: the lines
// after the field that start with a reply code are the rest of the reply.
const char kDsnUnfoldedReply[] = R"(From: MAILER-DAEMON@mx.example.net
To: sender@example.com
Subject: Undeliverable
MIME-Version: 1.0
Content-Type: multipart/report; report-type=delivery-status; boundary="S3"

--S3
Content-Type: text/plain

Your message could not be delivered.

--S3
Content-Type: message/delivery-status

Reporting-MTA: dns; mx.example.net

Diagnostic-Code: smtp; 550-Your mail client must log in first.
550-client.example.com [192.0.2.8]:2525 is not permitted to
550 relay through this server without authentication.
Status: 5.0.0
Action: failed
Final-Recipient: rfc822; carol@example.org

--S3--
)";

TEST(ReturnsGeneralRules, UnfoldedReplyLinesContinueTheDiagnostic) {
  ReturnReport r = ParseReturn(kDsnUnfoldedReply);
  ASSERT_EQ(r.recipients.size(), 1u);
  EXPECT_EQ(r.recipients[0].address, "carol@example.org");
  EXPECT_NE(r.recipients[0].diagnostic.find("without authentication"), std::string::npos);
  EXPECT_EQ(r.recipients[0].reply_code, 550);
  EXPECT_EQ(r.recipients[0].reason, "securityerror");
}

TEST(ReturnsGeneralRules, AskingTheClientToAuthenticateIsASecurityError) {
  EXPECT_EQ(R("5.7.1", 550, "550 Please turn on SMTP Authentication in your mail client"), "securityerror");
  EXPECT_EQ(R("5.0.0", 550, "550 not permitted to relay through this server without authentication"),
            "securityerror");
  // Relaying refused with no word about logging in stays a relay refusal.
  EXPECT_EQ(R("5.7.1", 554, "554 5.7.1 <x@example.org>: Relay access denied"), "norelaying");
}


TEST(ReturnsGeneralRules, FailedAfterNAttemptsHasExpired) {
  EXPECT_EQ(R("", 0, "Delivery failed 12 attempts: someone@example.org", "", "failed"), "expired");
  EXPECT_EQ(R("5.0.0", 0, "delivery failed after 3 attempts"), "expired");
  // A cause named beside the count still decides.
  EXPECT_EQ(R("5.0.0", 552, "552 mailbox full; delivery failed after 3 attempts"), "mailboxfull");
  // No count: not a retry limit.
  EXPECT_NE(R("5.0.0", 550, "550 This has been a permanent failure. No further delivery attempts will be made."),
            "expired");
}

}  // namespace
}  // namespace postino::inbound::returns
