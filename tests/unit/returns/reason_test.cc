// reason_test.cc: the reason rules — phrases that blame one party, the
// RFC 3463 codes that decide alone, the command context, hard/soft.
#include <gtest/gtest.h>

#include "inbound/returns/reason.h"

namespace postino::inbound::returns {
namespace {

std::string R(std::string_view status, int code, std::string_view diag,
              std::string_view action = "failed", std::string_view command = "") {
  ReasonInput in;
  in.status = status;
  in.reply_code = code;
  in.diagnostic = diag;
  in.action = action;
  in.command = command;
  in.structured = true;
  return ClassifyReason(in);
}

TEST(ReturnsReason, TextBlamesAParty) {
  EXPECT_EQ(R("5.1.1", 550, "550 5.1.1 No such user here"), "userunknown");
  EXPECT_EQ(R("5.2.2", 552, "Mailbox full"), "mailboxfull");
  EXPECT_EQ(R("5.7.1", 554, "Client host [192.0.2.1] blocked using zen.spamhaus.org"), "blocked");
  EXPECT_EQ(R("5.7.1", 550, "Message rejected as spam by Content Filtering"), "spamdetected");
  EXPECT_EQ(R("5.7.1", 550, "550 5.7.1 Sender address rejected: domain not found"), "rejected");
  EXPECT_EQ(R("5.7.26", 550, "Unauthenticated email is not accepted (DMARC policy)"), "authfailure");
  EXPECT_EQ(R("5.7.1", 550, "Relay access denied"), "norelaying");
  EXPECT_EQ(R("5.7.1", 550, "Service unavailable; no PTR record for your IP"), "requireptr");
  EXPECT_EQ(R("5.3.4", 552, "Message size exceeds fixed limit"), "mesgtoobig");
  EXPECT_EQ(R("5.2.1", 550, "This mailbox is disabled"), "suspend");
  EXPECT_EQ(R("5.0.0", 550, "Host or domain name not found"), "hostunknown");
  EXPECT_EQ(R("4.7.0", 421, "Too many concurrent SMTP connections"), "toomanyconn");
  EXPECT_EQ(R("5.7.1", 550, "Message contains a virus"), "virusdetected");
}

TEST(ReturnsReason, CodesThatDecideAlone) {
  EXPECT_EQ(R("5.2.2", 550, "Unknown user or mailbox full"), "mailboxfull");
  EXPECT_EQ(R("5.1.10", 556, ""), "notaccept");
  EXPECT_EQ(R("5.1.8", 553, "Domain of sender address does not exist"), "rejected");
  EXPECT_EQ(R("5.1.1", 550, ""), "userunknown");
  EXPECT_EQ(R("5.7.6", 550, "550 5.7.6 Failed to deliver"), "securityerror");
  EXPECT_EQ(R("", 553, "553 mail.example.org does not exist", "failed", "DATA"), "hostunknown");
  EXPECT_EQ(R("5.1.1", 550, "550 5.1.1 The user does not exist"), "userunknown");
  EXPECT_EQ(R("", 521, "example.org does not receive mail"), "notaccept");
}

TEST(ReturnsReason, CommandChangesTheBlame) {
  EXPECT_EQ(R("5.0.0", 550, "550 Unknown user", "failed", "DATA"), "filtered");
  EXPECT_EQ(R("5.0.0", 550, "550 User unknown", "failed", "MAIL"), "rejected");
  EXPECT_EQ(R("", 554, "554 mx.example.org : daily quota reached", "failed", "CONN"), "blocked");
  EXPECT_EQ(R("5.0.0", 501, "501 5.0.0 Invalid domain name", "failed", "HELO"), "blocked");
}

TEST(ReturnsReason, LocalMailerFailureIsMailerError) {
  ReasonInput in;
  in.status = "4.3.0";
  in.action = "failed";
  in.structured = true;
  in.diagnostic = "temporary failure";
  in.diagnostic_type = "x-unix";
  EXPECT_EQ(ClassifyReason(in), "mailererror");
  in.status = "4.5.0";
  in.action = "delayed";
  in.diagnostic = "71";
  EXPECT_EQ(ClassifyReason(in), "mailererror");
  in.diagnostic_type = "x-postfix";
  in.diagnostic = "connect to mx.example.org[192.0.2.1]:25: Connection timed out";
  EXPECT_EQ(ClassifyReason(in), "expired");
  in.diagnostic_type = "smtp";
  in.diagnostic = "temporary failure";
  in.status = "4.3.0";
  in.action = "failed";
  EXPECT_NE(ClassifyReason(in), "mailererror");
}

TEST(ReturnsReason, DelayNoticeKeepsANetworkFailureItsReplyNames) {
  EXPECT_EQ(R("4.4.1", 0, "connect to mx.example.org[192.0.2.2]:25: No route to host", "delayed"), "networkerror");
  EXPECT_EQ(R("4.4.0", 0, "a@example.net; Action: Delayed - The server will continue trying", "delayed"), "expired");
}

TEST(ReturnsReason, GivingUpAfterTemporaryFailuresIsExpired) {
  EXPECT_EQ(R("4.4.7", 0, ""), "expired");
  EXPECT_EQ(R("4.4.1", 0, "connect to mx.example.org[192.0.2.1]:25: Connection timed out"), "expired");
  EXPECT_EQ(R("4.0.0", 451, "", "delayed"), "expired");
  EXPECT_EQ(R("4.4.0", 0, "Name service error for domain example.org: Host not found, try again"),
            "networkerror");
}

TEST(ReturnsReason, PostfixRecipientPrefixDefersToItsCause) {
  EXPECT_EQ(R("5.0.0", 550, "550 5.0.0 <a@example.org>: Recipient address rejected: User unknown", "failed", "RCPT"),
            "userunknown");
  EXPECT_EQ(R("5.7.0", 550, "<a@example.org>: Recipient address rejected: Spam detected", "failed", "RCPT"),
            "spamdetected");
  EXPECT_EQ(R("5.3.0", 554, "<a@example.org>: Recipient address rejected: Internal system error", "failed", "RCPT"),
            "systemerror");
  // Exchange Online's directory-based edge block names a missing recipient.
  EXPECT_EQ(R("5.4.1", 550, "550 5.4.1 <a@example.org>: Recipient address rejected: Access denied"), "userunknown");
}

TEST(ReturnsReason, ProviderWording) {
  EXPECT_EQ(R("5.7.1", 550, "550-5.7.1 Unauthenticated email from example.org is not accepted due to domain's DMARC policy"),
            "authfailure");
  EXPECT_EQ(R("5.7.0", 552, "552-5.7.0 This message was blocked because its content presents a potential security issue"),
            "policyviolation");
  EXPECT_EQ(R("5.7.9", 554, "554 5.7.9 Message not accepted for policy reasons"), "policyviolation");
  EXPECT_EQ(R("", 0, "Vous pouvez consulter https://groups.google.com/support/ pour en savoir plus"), "rejected");
  EXPECT_EQ(R("", 0, "all hosts have been failing for a long time and were last tried after this message arrived"),
            "expired");
  EXPECT_EQ(R("", 0, "Unable to deliver message after multiple retries, giving up."), "expired");
  EXPECT_EQ(R("", 0, "User mailbox exceeds allowed size: a@example.org"), "mailboxfull");
  EXPECT_EQ(R("", 0, "Invalid final delivery userid: a@example.org"), "userunknown");
  EXPECT_EQ(R("", 0, "Failure Reasons: \u30c7\u30a3\u30ec\u30af\u30c8\u30ea\u306e\u30ea\u30b9\u30c8\u306b\u3042\u308a\u307e\u305b\u3093 a@example.org"),
            "userunknown");
  EXPECT_EQ(R("5.5.0", 503, "503 Improper sequence of commands"), "syntaxerror");
  EXPECT_EQ(R("", 0, "You're sending this from a different address or alias using the 'Send mail as' feature."),
            "rejected");
  EXPECT_EQ(R("5.0.0", 554, "554 Message rejected: Email address is not verified. The following identities failed"),
            "norelaying");
  EXPECT_EQ(R("", 0, "a@example.org\n    an MX or SRV record indicated no SMTP service"), "notaccept");
}

// sisimai's rule: "user unknown" words blame the mailbox only when the
// reply answered RCPT TO or the code is a bad-mailbox code (5.1.0, 5.1.1,
// 5.1.3); after DATA, or where the report does not say, a recipient-side
// filter said them.
TEST(ReturnsReason, UserUnknownWordsNeedRcptOrABadMailboxCode) {
  EXPECT_EQ(R("5.0.0", 550, "550 <a@example.org>: User unknown", "failed", "RCPT"), "userunknown");
  EXPECT_EQ(R("5.0.0", 550, "550 <a@example.org>: User unknown"), "filtered");
  EXPECT_EQ(R("5.2.1", 550, "550 5.2.1 <a@example.org>... User Unknown"), "filtered");
  EXPECT_EQ(R("5.2.1", 550, "550 5.2.1 <a@example.org>... User Unknown", "failed", "RCPT"), "userunknown");
  EXPECT_EQ(R("5.1.1", 550, "550 5.1.1 <a@example.org>... User Unknown"), "userunknown");
  EXPECT_EQ(R("5.1.1", 550, "550 5.1.1 <a@example.org>... User Unknown", "failed", "DATA"), "userunknown");
  EXPECT_EQ(R("5.1.0", 550, "550 5.1.0 Address rejected: no such user"), "userunknown");
  EXPECT_EQ(R("4.1.1", 450, "450 4.1.1 <a@example.org>: unknown user"), "filtered");
  EXPECT_FALSE(IsHardBounce(R("5.0.0", 550, "550 : User unknown"), "5.0.0", 550));
}

TEST(ReturnsReason, ReportingSystemsOwnDirectoryVerdictKeepsTheBlame) {
  EXPECT_EQ(R("", 0, "User some.name (a@example.jp) not listed in Domino Directory"), "userunknown");
  EXPECT_EQ(R("", 0, "MSEXCH:IMS:EXAMPLE 0 (000C05A6) Unknown Recipient"), "userunknown");
  EXPECT_EQ(R("", 0, "Unable to deliver message to <a@example.jp> (and other recipients in the same domain)."),
            "userunknown");
  // Words naming another cause keep it.
  EXPECT_EQ(R("5.2.2", 552, "Domino: mailbox full; not listed in Domino Directory"), "mailboxfull");
  // RFC 5321's own 550 text is not a verdict by itself: it needs RCPT TO
  // (or a Hotmail report, see DirectoryCheckingReporter).
  EXPECT_EQ(R("5.5.0", 550, "550 Requested action not taken: mailbox unavailable"), "filtered");
  EXPECT_EQ(R("5.5.0", 550, "550 Requested action not taken: mailbox unavailable", "failed", "RCPT"), "userunknown");
  ReasonInput in;
  in.status = "5.0.0";
  in.reply_code = 550;
  in.diagnostic = "550 Unknown user a@example.co.jp";
  in.action = "failed";
  EXPECT_EQ(ClassifyReason(in), "filtered");
  in.reporter_checks_directory = true;  // IMail, McAfee Email Gateway
  EXPECT_EQ(ClassifyReason(in), "userunknown");
}

TEST(ReturnsReason, ProviderConventions) {
  ReasonInput in;
  in.status = "5.0.0";
  in.reply_code = 550;
  in.action = "failed";
  in.remote_mta = "lsean.ezweb.ne.jp";
  in.diagnostic = "550 <a@ezweb.ne.jp>: User unknown";
  EXPECT_EQ(ClassifyReason(in), "userunknown");
  in.diagnostic = "550 : User unknown";
  EXPECT_EQ(ClassifyReason(in), "filtered");
  in.remote_mta = "";
  in.recipient = "a@au.com";
  EXPECT_EQ(ClassifyReason(in), "filtered");
  in.recipient = "a@example.org";
  in.remote_mta = "smtpz4.laposte.net";
  in.status = "5.5.0";
  in.diagnostic = "550 5.5.0 Adresse destinataire invalide. Invalid recipient. LPN007_416";
  EXPECT_EQ(ClassifyReason(in), "userunknown");
  in.diagnostic = "421 mwinf5c77 ME Service refuse. Veuillez essayer plus tard. OFR_999 [999]";
  EXPECT_EQ(ClassifyReason(in), "blocked");
  in.diagnostic = "550 5.5.0 Service refuse. Veuillez essayer plus tard. LPN001_108";
  EXPECT_EQ(ClassifyReason(in), "undefined");
  // Elsewhere the same words follow the general rules.
  in.remote_mta = "mx.example.org";
  in.diagnostic = "550 5.5.0 Adresse destinataire invalide. Invalid recipient. LPN007_416";
  EXPECT_EQ(ClassifyReason(in), "filtered");
  // NTT docomo: "550 Unknown user" after DATA is the recipient's refusal
  // of this sender; at RCPT TO, a missing mailbox.
  ReasonInput docomo;
  docomo.status = "5.0.0";
  docomo.reply_code = 550;
  docomo.action = "failed";
  docomo.remote_mta = "mfsmax.docomo.ne.jp";
  docomo.diagnostic = "550 Unknown user a@docomo.ne.jp";
  docomo.command = "DATA";
  EXPECT_EQ(ClassifyReason(docomo), "rejected");
  docomo.command = "RCPT";
  EXPECT_EQ(ClassifyReason(docomo), "userunknown");
  // Microsoft's X.4.312: the DNS query failed, whatever else the text says.
  EXPECT_EQ(R("5.4.312", 550, "550 5.4.312 Message expired, DNS query failed"), "networkerror");
  ReasonInput pmta;
  pmta.status = "5.2.1";
  pmta.reply_code = 550;
  pmta.action = "failed";
  pmta.diagnostic = "550 5.2.1 <a@example.jp>... User Unknown";
  pmta.category = "bad-mailbox";
  EXPECT_EQ(ClassifyReason(pmta), "userunknown");
}

TEST(ReturnsReason, PostfixPrefixWithAnUnknownCauseIsNotUserUnknown) {
  EXPECT_EQ(R("5.0.0", 550, "550 5.0.0 <a@example.org>: Recipient address rejected: On hold", "failed", "RCPT"),
            "onhold");
  EXPECT_EQ(R("5.0.0", 550, "550 <a@example.org>: Recipient address rejected.", "failed", "RCPT"), "userunknown");
}

TEST(ReturnsReason, SuccessAndHardFlags) {
  EXPECT_EQ(R("2.0.0", 250, "Ok", "delivered"), "delivered");
  EXPECT_TRUE(IsHardBounce("userunknown", "4.1.1", 450));
  EXPECT_TRUE(IsHardBounce("hostunknown", "5.1.2", 0));
  EXPECT_TRUE(IsHardBounce("notaccept", "5.1.10", 556));
  EXPECT_FALSE(IsHardBounce("notaccept", "4.3.2", 421));
  EXPECT_FALSE(IsHardBounce("mailboxfull", "5.2.2", 552));
  EXPECT_FALSE(IsHardBounce("blocked", "5.7.1", 554));
}

}  // namespace
}  // namespace postino::inbound::returns
