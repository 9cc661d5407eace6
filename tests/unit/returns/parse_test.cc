// parse_test.cc: inbound/returns parsing of synthetic returned messages —
// RFC 3464 DSNs, RFC 5965 ARF, RFC 3834 auto-replies, success DSNs, text
// bounces, Amazon SES JSON, mbox splitting — and hostile input.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "inbound/returns/mailbox.h"
#include "inbound/returns/report.h"

namespace postino::inbound::returns {
namespace {

std::string Crlf(std::string s) {
  std::string out;
  for (char c : s) {
    if (c == '\n') out += '\r';
    out += c;
  }
  return out;
}

const char kDsn[] = R"(Return-Path: <>
From: MAILER-DAEMON@mx.example.net (Mail Delivery System)
To: bounces+12.345.0123456789abcdef01234567@bounce.example.com
Subject: Undelivered Mail Returned to Sender
Auto-Submitted: auto-replied
MIME-Version: 1.0
Content-Type: multipart/report; report-type=delivery-status; boundary="B1"

--B1
Content-Type: text/plain

The mail system could not deliver your message.

--B1
Content-Type: message/delivery-status

Reporting-MTA: dns; mx.example.net
Original-Envelope-Id: env-1

Final-Recipient: rfc822; nobody@example.org
Original-Recipient: rfc822;nobody@example.org
Action: failed
Status: 5.1.1
Remote-MTA: dns; mx.example.org
Diagnostic-Code: smtp; 550 5.1.1 <nobody@example.org>: Recipient address
    rejected: User unknown in local recipient table

Final-Recipient: rfc822; full@example.org
Action: delayed
Status: 4.2.2
Diagnostic-Code: smtp; 452 4.2.2 Mailbox full

Final-Recipient: rfc822; ok@example.org
Action: delivered
Status: 2.0.0

--B1
Content-Type: text/rfc822-headers

From: news@example.com
To: nobody@example.org
Message-ID: <c12.d345@example.com>
Subject: News

--B1--
)";

TEST(ReturnsParse, Rfc3464PerRecipientFields) {
  ReturnReport r = ParseReturn(Crlf(kDsn));
  EXPECT_EQ(r.format, "rfc3464");
  EXPECT_EQ(r.kind, ReportKind::kBounce);
  ASSERT_EQ(r.recipients.size(), 3u);
  EXPECT_EQ(r.recipients[0].address, "nobody@example.org");
  EXPECT_EQ(r.recipients[0].action, "failed");
  EXPECT_EQ(r.recipients[0].status, "5.1.1");
  EXPECT_EQ(r.recipients[0].reply_code, 550);
  EXPECT_EQ(r.recipients[0].reason, "userunknown");
  EXPECT_TRUE(r.recipients[0].hard_bounce);
  EXPECT_EQ(r.recipients[0].remote_mta, "mx.example.org");
  EXPECT_NE(r.recipients[0].diagnostic.find("User unknown in local recipient table"), std::string::npos);
  EXPECT_EQ(r.recipients[1].reason, "mailboxfull");
  EXPECT_FALSE(r.recipients[1].hard_bounce);
  EXPECT_EQ(r.recipients[2].reason, "delivered");
  EXPECT_EQ(r.original_message_id, "<c12.d345@example.com>");
  EXPECT_EQ(r.original_to, "nobody@example.org");
  EXPECT_EQ(r.original_envelope_id, "env-1");
  EXPECT_EQ(r.reporting_mta, "mx.example.net");
}

TEST(ReturnsParse, ForwardedDeliveryReport) {
  std::string fwd = std::string(R"(From: gateway@example.net
To: bounces@example.com
Subject: Fwd: Undelivered Mail Returned to Sender
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary="F1"

--F1
Content-Type: text/plain

The report below was passed on to you.
--F1
Content-Type: message/rfc822

)") + kDsn + "\n--F1--\n";
  ReturnReport r = ParseReturn(fwd);
  ASSERT_EQ(r.recipients.size(), 3u);
  EXPECT_EQ(r.recipients[0].address, "nobody@example.org");
  EXPECT_EQ(r.recipients[0].status, "5.1.1");
  EXPECT_EQ(r.recipients[0].reason, "userunknown");
  EXPECT_EQ(r.original_message_id, "<c12.d345@example.com>");
}

TEST(ReturnsParse, DsnTextListsOneReplyPerRecipient) {
  const char dsn[] = R"(From: MAILER-DAEMON@mx.example.net
To: bounces@example.com
Subject: Delivery status notification: error
MIME-Version: 1.0
Content-Type: multipart/report; report-type=delivery-status; boundary="B2"

--B2
Content-Type: text/plain

An error has occurred while attempting to deliver a message for the following list of recipients:

gone@example.org: 550 5.1.1 <gone@example.org>: Recipient address rejected: User unknown
full@example.org: 552 5.2.2 <full@example.org>: Recipient address rejected: Mailbox full

--B2
Content-Type: message/delivery-status

Reporting-MTA: dns; mx.example.net

Final-Recipient: rfc822; gone@example.org
Action: failed
Status: 5.1.1

Final-Recipient: rfc822; full@example.org
Action: failed
Status: 5.2.2

--B2--
)";
  ReturnReport r = ParseReturn(dsn);
  ASSERT_EQ(r.recipients.size(), 2u);
  EXPECT_EQ(r.recipients[0].reason, "userunknown");
  EXPECT_EQ(r.recipients[0].reply_code, 550);
  EXPECT_EQ(r.recipients[1].reason, "mailboxfull");
  EXPECT_EQ(r.recipients[1].reply_code, 552);
}

TEST(ReturnsParse, LfAndCrlfGiveTheSameReport) {
  ReturnReport a = ParseReturn(kDsn), b = ParseReturn(Crlf(kDsn));
  ASSERT_EQ(a.recipients.size(), b.recipients.size());
  for (size_t i = 0; i < a.recipients.size(); ++i) {
    EXPECT_EQ(a.recipients[i].reason, b.recipients[i].reason);
    EXPECT_EQ(a.recipients[i].status, b.recipients[i].status);
  }
}

TEST(ReturnsParse, SuccessDsnIsNotABounce) {
  std::string dsn = R"(From: MAILER-DAEMON@mx.example.net
To: a@example.com
Subject: Successful Mail Delivery Report
MIME-Version: 1.0
Content-Type: multipart/report; report-type=delivery-status; boundary="x"

--x
Content-Type: message/delivery-status

Reporting-MTA: dns; mx.example.net

Final-Recipient: rfc822; user@example.org
Action: relayed
Status: 2.0.0

--x--
)";
  ReturnReport r = ParseReturn(dsn);
  EXPECT_EQ(r.kind, ReportKind::kSuccess);
  ASSERT_EQ(r.recipients.size(), 1u);
  EXPECT_EQ(r.recipients[0].reason, "delivered");
  EXPECT_FALSE(r.recipients[0].hard_bounce);
}

TEST(ReturnsParse, ArfComplaint) {
  std::string arf = R"(From: feedback@fbl.example.net
To: fbl@example.com
Subject: FW: Newsletter
MIME-Version: 1.0
Content-Type: multipart/report; report-type=feedback-report; boundary="part"

--part
Content-Type: text/plain

This is an email abuse report.

--part
Content-Type: message/feedback-report

Feedback-Type: abuse
User-Agent: ExampleFBL/1.0
Version: 1
Original-Mail-From: <bounces+1.2.aaaaaaaaaaaaaaaaaaaaaaaa@bounce.example.com>
Original-Rcpt-To: <reader@example.net>
Source-IP: 192.0.2.10
Reporting-MTA: dns; fbl.example.net

--part
Content-Type: message/rfc822

From: news@example.com
To: reader@example.net
Message-ID: <m1@example.com>
Subject: Newsletter

Hello
--part--
)";
  ReturnReport r = ParseReturn(arf);
  EXPECT_EQ(r.kind, ReportKind::kComplaint);
  EXPECT_EQ(r.format, "arf");
  ASSERT_EQ(r.recipients.size(), 1u);
  EXPECT_EQ(r.recipients[0].address, "reader@example.net");
  EXPECT_EQ(r.recipients[0].reason, "feedback");
  EXPECT_EQ(r.recipients[0].feedback_type, "abuse");
  EXPECT_FALSE(r.recipients[0].hard_bounce);
  EXPECT_EQ(r.original_message_id, "<m1@example.com>");
  EXPECT_EQ(r.source_ip, "192.0.2.10");
  EXPECT_EQ(r.feedback_source, "fbl.example.net");
}

TEST(ReturnsParse, AutoReplyIsVacation) {
  std::string msg = R"(From: Reader <reader@example.net>
To: news@example.com
Subject: Out of Office: Newsletter
Auto-Submitted: auto-replied
Content-Type: text/plain

I am away until Monday.
)";
  ReturnReport r = ParseReturn(msg);
  EXPECT_EQ(r.kind, ReportKind::kAutoReply);
  ASSERT_EQ(r.recipients.size(), 1u);
  EXPECT_EQ(r.recipients[0].reason, "vacation");
  EXPECT_EQ(r.recipients[0].address, "reader@example.net");
}

TEST(ReturnsParse, BounceWithAutoSubmittedIsNotVacation) {
  // Postfix marks its bounces auto-replied; the mailer daemon is no person.
  std::string msg = R"(From: MAILER-DAEMON@mx.example.net
To: news@example.com
Subject: Undelivered Mail Returned to Sender
Auto-Submitted: auto-replied
Content-Type: text/plain

<gone@example.org>: host mx.example.org[192.0.2.1] said: 550 5.1.1
    <gone@example.org>: Recipient address rejected: User unknown (in reply to
    RCPT TO command)
)";
  ReturnReport r = ParseReturn(msg);
  EXPECT_EQ(r.kind, ReportKind::kBounce);
  ASSERT_EQ(r.recipients.size(), 1u);
  EXPECT_EQ(r.recipients[0].address, "gone@example.org");
  EXPECT_EQ(r.recipients[0].reason, "userunknown");
  EXPECT_EQ(r.recipients[0].status, "5.1.1");
  EXPECT_EQ(r.recipients[0].reply_code, 550);
}

TEST(ReturnsParse, QmailTextBounce) {
  std::string msg = R"(From: MAILER-DAEMON@mx.example.jp
To: news@example.com
Subject: failure notice

Hi. This is the qmail-send program at mx.example.jp.
I'm afraid I wasn't able to deliver your message to the following addresses.
This is a permanent error; I've given up. Sorry it didn't work out.

<someone@example.ne.jp>:
192.0.2.32 does not like recipient.
Remote host said: 550 5.2.2 <someone@example.ne.jp>... Mailbox full
Giving up on 192.0.2.32.

--- Below this line is a copy of the message.

Return-Path: <news@example.com>
Message-ID: <x1@example.com>
To: other@example.ne.jp
)";
  ReturnReport r = ParseReturn(msg);
  ASSERT_EQ(r.recipients.size(), 1u);
  EXPECT_EQ(r.recipients[0].address, "someone@example.ne.jp");
  EXPECT_EQ(r.recipients[0].reason, "mailboxfull");
  EXPECT_EQ(r.recipients[0].status, "5.2.2");
  EXPECT_EQ(r.original_message_id, "<x1@example.com>");
}

TEST(ReturnsParse, UserUnknownAfterDataIsAFilter) {
  std::string msg = R"(From: MAILER-DAEMON@mx.example.net
To: news@example.com
Subject: Undelivered Mail Returned to Sender
Content-Type: text/plain

<who@example.org>: host mx.example.org[192.0.2.1] said: 550 Unknown user
    who@example.org (in reply to end of DATA command)
)";
  ReturnReport r = ParseReturn(msg);
  ASSERT_EQ(r.recipients.size(), 1u);
  EXPECT_EQ(r.recipients[0].command, "DATA");
  EXPECT_EQ(r.recipients[0].reason, "filtered");
  EXPECT_FALSE(r.recipients[0].hard_bounce);
}

TEST(ReturnsParse, CommandNamedInCapitalsOrWrappedAcrossLines) {
  std::string exim = R"(From: MAILER-DAEMON@mx.example.net
To: news@example.com
Subject: Mail delivery failed: returning message to sender
Content-Type: text/plain

A message that you sent could not be delivered to one or more of its
recipients. This is a permanent error. The following address(es) failed:

  who@example.org
    SMTP error from remote server after RCPT command:
    host: mx.example.org 5.2.1 <who@example.org>... User Unknown
)";
  ReturnReport r = ParseReturn(exim);
  ASSERT_EQ(r.recipients.size(), 1u);
  EXPECT_EQ(r.recipients[0].command, "RCPT");
  EXPECT_EQ(r.recipients[0].reason, "userunknown");
  EXPECT_TRUE(r.recipients[0].hard_bounce);

  std::string postfix = R"(From: MAILER-DAEMON@mx.example.net
To: news@example.com
Subject: Undelivered Mail Returned to Sender
Content-Type: text/plain

<who@example.org>: host mx.example.org[192.0.2.1] said: 550
    <who@example.org>: Recipient address rejected. (in reply to RCPT
    TO command)
)";
  r = ParseReturn(postfix);
  ASSERT_EQ(r.recipients.size(), 1u);
  EXPECT_EQ(r.recipients[0].command, "RCPT");
  EXPECT_EQ(r.recipients[0].reason, "userunknown");

  // Nothing says which command: the same words are a recipient-side filter.
  std::string unsaid = R"(From: MAILER-DAEMON@mx.example.net
To: news@example.com
Subject: Undelivered Mail Returned to Sender
Content-Type: text/plain

<who@example.org>: host mx.example.org[192.0.2.1] said: 550
    <who@example.org>: User unknown
)";
  r = ParseReturn(unsaid);
  ASSERT_EQ(r.recipients.size(), 1u);
  EXPECT_EQ(r.recipients[0].command, "");
  EXPECT_EQ(r.recipients[0].reason, "filtered");
  EXPECT_FALSE(r.recipients[0].hard_bounce);
}

TEST(ReturnsParse, QmailSaysWhichPhaseFailed) {
  auto qmail = [](std::string_view phase_line) {
    return std::string(R"(From: MAILER-DAEMON@mx.example.jp
To: news@example.com
Subject: failure notice

Hi. This is the qmail-send program at mx.example.jp.
I'm afraid I wasn't able to deliver your message to the following addresses.
This is a permanent error; I've given up. Sorry it didn't work out.

<who@example.ne.jp>:
)") + std::string(phase_line) + R"(
Remote host said: 550 User unknown
Giving up on 192.0.2.32.
)";
  };
  ReturnReport r = ParseReturn(qmail("192.0.2.32 does not like recipient."));
  ASSERT_EQ(r.recipients.size(), 1u);
  EXPECT_EQ(r.recipients[0].command, "RCPT");
  EXPECT_EQ(r.recipients[0].reason, "userunknown");
  r = ParseReturn(qmail("192.0.2.32 failed after I sent the message."));
  ASSERT_EQ(r.recipients.size(), 1u);
  EXPECT_EQ(r.recipients[0].command, "DATA");
  EXPECT_EQ(r.recipients[0].reason, "filtered");
  r = ParseReturn(qmail("Connected to 192.0.2.32 but sender was rejected."));
  ASSERT_EQ(r.recipients.size(), 1u);
  EXPECT_EQ(r.recipients[0].command, "MAIL");
  EXPECT_EQ(r.recipients[0].reason, "rejected");
}

TEST(ReturnsParse, TheServersCodeWinsOverTheReportersSummary) {
  std::string msg = R"(From: MAILER-DAEMON@mx.example.net
To: news@example.com
Subject: Delivery Status Notification (Failure)
MIME-Version: 1.0
Content-Type: multipart/report; report-type=delivery-status; boundary="B1"

--B1
Content-Type: text/plain

Delivery failed.

--B1
Content-Type: message/delivery-status

Reporting-MTA: dns; mx.example.net

Final-Recipient: rfc822; a@example.org
Action: failed
Status: 5.1.1
Diagnostic-Code: smtp; 552 5.2.2 Over quota

Final-Recipient: rfc822; b@example.org
Action: delayed
Status: 4.4.7
Diagnostic-Code: smtp; 554 4.4.7 Message expired: unable to deliver in 840 minutes.<421 4.4.2 Connection timed out>

--B1--
)";
  ReturnReport r = ParseReturn(msg);
  ASSERT_EQ(r.recipients.size(), 2u);
  EXPECT_EQ(r.recipients[0].status, "5.2.2");
  EXPECT_EQ(r.recipients[0].reason, "mailboxfull");
  EXPECT_EQ(r.recipients[1].status, "4.4.2");
  EXPECT_EQ(r.recipients[1].reply_code, 421);
}

TEST(ReturnsParse, SenderWhoWroteToItself) {
  std::string msg = R"(From: MAILER-DAEMON@example.ad.jp
To: self@example.ad.jp
Subject: failure notice

Hi. This is the qmail-send program at example.ad.jp.
I'm afraid I wasn't able to deliver your message to the following addresses.

<self@example.ad.jp>:
192.0.2.1 does not like recipient.
Remote host said: 552 Error: disk quota exceeded
Giving up on 192.0.2.20.
)";
  ReturnReport r = ParseReturn(msg);
  ASSERT_EQ(r.recipients.size(), 1u);
  EXPECT_EQ(r.recipients[0].address, "self@example.ad.jp");
  EXPECT_EQ(r.recipients[0].reason, "mailboxfull");
  EXPECT_EQ(r.recipients[0].reply_code, 552);
}

TEST(ReturnsParse, Iso2022JpDiagnosticIsDecoded) {
  std::string msg =
      "From: Postmaster@example.co.jp\n"
      "To: news@example.com\n"
      "Subject: DELIVERY FAILURE\n"
      "MIME-Version: 1.0\n"
      "Content-Type: multipart/report; report-type=delivery-status; boundary=\"B1\"\n"
      "\n"
      "--B1\n"
      "Content-Type: message/delivery-status\n"
      "\n"
      "Reporting-MTA: dns;mx.example.co.jp\n"
      "\n"
      "Final-Recipient: rfc822;a@example.co.jp\n"
      "Action: failed\n"
      "Status: 5.0.0\n"
      "Diagnostic-Code: X-Notes; \x1b$B%f!<%6!<\x1b(BNeko (a@example.co.jp) \x1b$B$O\x1b(B Domino "
      "\x1b$B%G%#%l%/%H%j$K$O8+$D$+$j$^$;$s!#\x1b(B\n"
      "\n"
      "--B1--\n";
  ReturnReport r = ParseReturn(msg);
  ASSERT_EQ(r.recipients.size(), 1u);
  EXPECT_NE(r.recipients[0].diagnostic.find("Domino \u30c7\u30a3\u30ec\u30af\u30c8\u30ea"), std::string::npos)
      << r.recipients[0].diagnostic;
  EXPECT_EQ(r.recipients[0].reason, "userunknown");
}

TEST(ReturnsParse, SesJsonNotifications) {
  std::string bounce = R"(From: no-reply@sns.amazonaws.com
To: ops@example.com
Subject: AWS Notification Message
Content-Type: text/plain

{"notificationType":"Bounce","bounce":{"bounceType":"Permanent","bouncedRecipients":[{"emailAddress":"gone@example.org","action":"failed","status":"5.1.1","diagnosticCode":"smtp; 550 5.1.1 user unknown"}]},"mail":{"messageId":"abc","headers":[{"name":"Message-ID","value":"<ses1@example.com>"},{"name":"To","value":"gone@example.org"}]}}
)";
  ReturnReport r = ParseReturn(bounce);
  EXPECT_EQ(r.format, "ses-json");
  ASSERT_EQ(r.recipients.size(), 1u);
  EXPECT_EQ(r.recipients[0].reason, "userunknown");
  EXPECT_EQ(r.recipients[0].reply_code, 550);
  EXPECT_EQ(r.original_message_id, "<ses1@example.com>");
  std::string complaint = R"(From: no-reply@sns.amazonaws.com
Subject: AWS Notification Message
Content-Type: text/plain

{"notificationType":"Complaint","complaint":{"complainedRecipients":[{"emailAddress":"angry@example.org"}],"complaintFeedbackType":"abuse","userAgent":"Yahoo!-Mail-Feedback/2.0"},"mail":{}}
)";
  r = ParseReturn(complaint);
  EXPECT_EQ(r.kind, ReportKind::kComplaint);
  ASSERT_EQ(r.recipients.size(), 1u);
  EXPECT_EQ(r.recipients[0].address, "angry@example.org");
  EXPECT_EQ(r.recipients[0].feedback_type, "abuse");
}

TEST(ReturnsParse, NonReportGivesNoRecipients) {
  ReturnReport r = ParseReturn("From: a@example.com\nTo: b@example.com\nSubject: hi\n\nhello\n");
  EXPECT_EQ(r.kind, ReportKind::kUnknown);
  EXPECT_TRUE(r.recipients.empty());
}

TEST(ReturnsParse, HostileInputIsBounded) {
  // Deep multipart nesting, a huge header, binary noise, empty input.
  std::string deep = "From: x@example.com\nContent-Type: multipart/mixed; boundary=b0\n\n";
  for (int i = 0; i < 5000; ++i)
    deep += "--b" + std::to_string(i) + "\nContent-Type: multipart/mixed; boundary=b" +
            std::to_string(i + 1) + "\n\n";
  ReturnReport r = ParseReturn(deep);
  EXPECT_TRUE(r.truncated);
  std::string big(8 << 20, 'A');
  r = ParseReturn("Subject: " + big);
  EXPECT_TRUE(r.truncated);
  std::string noise;
  for (int i = 0; i < 100000; ++i) noise += static_cast<char>((i * 7919) & 0xff);
  (void)ParseReturn(noise);
  (void)ParseReturn("");
  (void)ParseReturn("From ");
}

TEST(ReturnsMailbox, SplitsMboxAtSeparators) {
  std::string mbox =
      "From MAILER-DAEMON Thu Apr 29 23:34:45 2021\nSubject: one\n\nbody\nFrom here on, text\n\n"
      "From MAILER-DAEMON Thu Apr 29 23:35:45 2021\nSubject: two\n\nbody\n";
  std::vector<std::string> parts;
  SplitMbox(mbox, [&](size_t, std::string_view m) { parts.emplace_back(m); });
  ASSERT_EQ(parts.size(), 2u);
  EXPECT_NE(parts[0].find("Subject: one"), std::string::npos);
  EXPECT_NE(parts[0].find("From here on"), std::string::npos);
  EXPECT_NE(parts[1].find("Subject: two"), std::string::npos);
  parts.clear();
  SplitMbox("From x@example.com Thu Apr 29 2021\nSubject: only\n\nbody\n",
            [&](size_t, std::string_view m) { parts.emplace_back(m); });
  EXPECT_EQ(parts.size(), 1u);
}

}  // namespace
}  // namespace postino::inbound::returns
