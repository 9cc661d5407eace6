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
  EXPECT_EQ(R("", 0, "a@example.org\n    an MX or SRV record indicated no SMTP service"), "notaccept");
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
