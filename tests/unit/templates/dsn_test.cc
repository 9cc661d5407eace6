// dsn_test.cc: RFC 3464 DSNs built by templates/dsn, checked field by field
// and parsed by Python's `email` package (tests/support/check_dsn.py) as a
// child process.
#include "templates/dsn.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <fstream>
#include <nlohmann/json.hpp>

#include "tests/support/process.h"

namespace postino::templates {
namespace {

using postino::testing::RunProcess;

const char kOriginal[] =
    "Received: from client by mta.example; Wed, 2 Dec 2026 09:00:00 +0000\r\n"
    "From: Alice <alice@sender.example>\r\n"
    "To: bob@dest.example\r\n"
    "Subject: Quarterly numbers\r\n"
    "Message-ID: <orig-1@sender.example>\r\n"
    "\r\n"
    "Body line one\r\n"
    "Body line two\r\n";

WallTime At(int64_t epoch) { return WallTime(std::chrono::seconds(epoch)); }

DsnSpec Spec() {
  DsnSpec s;
  s.reporting_mta = "mta.example";
  s.from = "MAILER-DAEMON@mta.example";
  s.to = "alice@sender.example";
  s.envid = "QQ314159";
  s.arrival_date = At(1796202000);  // 2026-12-02 09:00:00 UTC
  s.now = At(1796202600);
  s.original = kOriginal;
  s.subject = "Quarterly numbers";
  s.message_id_domain = "mta.example";
  s.unique = "17.failed.3";
  DsnRecipientReport a;
  a.final_recipient = "bob@dest.example";
  a.original_recipient = "rfc822;Bob@Dest.Example";
  a.action = "failed";
  a.smtp_code = 550;
  a.reply = "5.1.1 <bob@dest.example>: Recipient address rejected: User unknown";
  a.remote_mta = "mx1.dest.example";
  a.last_attempt = At(1796202060);
  DsnRecipientReport b = a;
  b.final_recipient = "carol@dest.example";
  b.original_recipient.clear();
  b.reply = "mailbox disabled";
  s.recipients = {a, b};
  return s;
}

// Parses `bytes` with Python's email package.
nlohmann::json Parse(const std::string& bytes) {
  char path[] = "/tmp/postino-dsn-XXXXXX";
  int fd = mkstemp(path);
  EXPECT_GE(fd, 0);
  close(fd);
  std::ofstream(path, std::ios::binary) << bytes;
  auto r = RunProcess({"/usr/bin/python3", std::string(POSTINO_SOURCE_DIR) +
                                               "/tests/support/check_dsn.py", path});
  unlink(path);
  EXPECT_EQ(r.exit_code, 0) << r.err << r.out;
  nlohmann::json j = nlohmann::json::parse(r.out, nullptr, false);
  EXPECT_FALSE(j.is_discarded()) << r.out;
  return j;
}

void ExpectLinesBounded(const std::string& bytes) {
  size_t start = 0;
  while (start < bytes.size()) {
    size_t eol = bytes.find("\r\n", start);
    ASSERT_NE(eol, std::string::npos) << "bare line end at " << start;
    EXPECT_LE(eol - start, 998u);
    EXPECT_EQ(bytes.substr(start, eol - start).find_first_of("\r\n"), std::string::npos);
    start = eol + 2;
  }
}

TEST(DsnTest, FailureReportParsesAsMultipartReport) {
  Result<BuiltDsn> d = BuildDsn(Spec());
  ASSERT_TRUE(d.ok()) << d.status().message();
  ExpectLinesBounded(d->bytes);
  EXPECT_EQ(d->message_id, "dsn.17.failed.3@mta.example");
  nlohmann::json j = Parse(d->bytes);
  EXPECT_EQ(j["content_type"], "multipart/report");
  EXPECT_EQ(j["report_type"], "delivery-status");
  EXPECT_EQ(j["parts"], nlohmann::json({"text/plain", "message/delivery-status",
                                        "text/rfc822-headers"}));
  EXPECT_TRUE(j["defects"].empty()) << j["defects"];
  EXPECT_EQ(j["to"], "<alice@sender.example>");
  EXPECT_EQ(j["auto_submitted"], "auto-replied");
  EXPECT_EQ(j["subject"], "Undelivered Mail Returned to Sender");
  EXPECT_EQ(j["per_message"]["Reporting-MTA"], "dns; mta.example");
  EXPECT_EQ(j["per_message"]["Original-Envelope-Id"], "QQ314159");
  EXPECT_EQ(j["per_message"]["Arrival-Date"], "Wed, 02 Dec 2026 09:00:00 +0000");
  ASSERT_EQ(j["recipients"].size(), 2u);
  const auto& r0 = j["recipients"][0];
  EXPECT_EQ(r0["Original-Recipient"], "rfc822;Bob@Dest.Example");
  EXPECT_EQ(r0["Final-Recipient"], "rfc822;bob@dest.example");
  EXPECT_EQ(r0["Action"], "failed");
  EXPECT_EQ(r0["Status"], "5.1.1");
  EXPECT_EQ(r0["Remote-MTA"], "dns; mx1.dest.example");
  EXPECT_NE(r0["Diagnostic-Code"].get<std::string>().find("smtp; 550 5.1.1 <bob@dest.example>:"),
            std::string::npos);
  EXPECT_EQ(r0["Last-Attempt-Date"], "Wed, 02 Dec 2026 09:01:00 +0000");
  EXPECT_FALSE(r0.contains("Will-Retry-Until"));
  const auto& r1 = j["recipients"][1];
  EXPECT_FALSE(r1.contains("Original-Recipient"));
  EXPECT_EQ(r1["Status"], "5.0.0");  // no enhanced code in the reply: from the 550
  EXPECT_EQ(j["returned"]["kind"], "headers");
  EXPECT_EQ(j["returned"]["subject"], "Quarterly numbers");
  EXPECT_EQ(j["returned"]["message_id"], "<orig-1@sender.example>");
  EXPECT_NE(j["text"].get<std::string>().find("bob@dest.example"), std::string::npos);
  // The body of the original is not returned with RET=HDRS.
  EXPECT_EQ(d->bytes.find("Body line one"), std::string::npos);
}

TEST(DsnTest, RetFullReturnsTheMessageUpToTheLimit) {
  DsnSpec s = Spec();
  s.return_full = true;
  Result<BuiltDsn> d = BuildDsn(s);
  ASSERT_TRUE(d.ok());
  nlohmann::json j = Parse(d->bytes);
  EXPECT_EQ(j["parts"][2], "message/rfc822");
  EXPECT_EQ(j["returned"]["kind"], "full");
  EXPECT_NE(j["returned"]["body"].get<std::string>().find("Body line two"), std::string::npos);
  // Too large: the header only, and the text says so.
  s.full_limit = 20;
  d = BuildDsn(s);
  ASSERT_TRUE(d.ok());
  j = Parse(d->bytes);
  EXPECT_EQ(j["parts"][2], "text/rfc822-headers");
  EXPECT_NE(j["text"].get<std::string>().find("too large"), std::string::npos);
}

TEST(DsnTest, DelayedReportCarriesWillRetryUntil) {
  DsnSpec s = Spec();
  s.recipients.resize(1);
  s.recipients[0].action = "delayed";
  s.recipients[0].smtp_code = 451;
  s.recipients[0].reply = "4.7.1 greylisted, try again later";
  s.recipients[0].will_retry_until = At(1796202000 + 5 * 86400);
  Result<BuiltDsn> d = BuildDsn(s);
  ASSERT_TRUE(d.ok());
  nlohmann::json j = Parse(d->bytes);
  EXPECT_EQ(j["subject"], "Delayed Mail (still being retried)");
  EXPECT_EQ(j["recipients"][0]["Action"], "delayed");
  EXPECT_EQ(j["recipients"][0]["Status"], "4.7.1");
  EXPECT_EQ(j["recipients"][0]["Will-Retry-Until"], "Mon, 07 Dec 2026 09:00:00 +0000");
}

TEST(DsnTest, ExpiryIsAFailureWithStatus447) {
  DsnSpec s = Spec();
  s.recipients.resize(1);
  s.recipients[0].expired = true;
  s.recipients[0].smtp_code = 421;
  s.recipients[0].reply = "4.4.2 connection timed out";
  Result<BuiltDsn> d = BuildDsn(s);
  ASSERT_TRUE(d.ok());
  nlohmann::json j = Parse(d->bytes);
  EXPECT_EQ(j["recipients"][0]["Action"], "failed");
  EXPECT_EQ(j["recipients"][0]["Status"], "4.4.7");
  EXPECT_NE(j["recipients"][0]["Diagnostic-Code"].get<std::string>().find("smtp; 421"),
            std::string::npos);
}

TEST(DsnTest, SuccessReportIsRelayed) {
  DsnSpec s = Spec();
  s.recipients.resize(1);
  s.recipients[0].action = "relayed";
  s.recipients[0].smtp_code = 250;
  s.recipients[0].reply = "2.0.0 Ok: queued as 4F2";
  Result<BuiltDsn> d = BuildDsn(s);
  ASSERT_TRUE(d.ok());
  nlohmann::json j = Parse(d->bytes);
  EXPECT_EQ(j["recipients"][0]["Action"], "relayed");
  EXPECT_EQ(j["recipients"][0]["Status"], "2.0.0");
}

TEST(DsnTest, HostileRepliesStayInTheirField) {
  DsnSpec s = Spec();
  s.recipients.resize(1);
  s.recipients[0].reply = "5.1.1 bad\r\nX-Injected: yes\r\n\r\n" + std::string(5000, 'A') + " " +
                          std::string(300, 'b') + " \xff\xfe";
  s.envid = "id\r\nBcc: evil@example";
  Result<BuiltDsn> d = BuildDsn(s);
  ASSERT_TRUE(d.ok());
  ExpectLinesBounded(d->bytes);
  EXPECT_EQ(d->bytes.find("\r\nX-Injected"), std::string::npos);
  EXPECT_EQ(d->bytes.find("\r\nBcc:"), std::string::npos);
  nlohmann::json j = Parse(d->bytes);
  EXPECT_EQ(j["recipients"].size(), 1u);
  EXPECT_FALSE(j["recipients"][0].contains("X-Injected"));
}

TEST(DsnTest, InternationalizedAddressesUseGlobalDeliveryStatus) {
  DsnSpec s = Spec();
  s.recipients.resize(1);
  s.recipients[0].final_recipient = "jos\xc3\xa9@d\xc3\xa9st.example";
  s.recipients[0].original_recipient.clear();
  Result<BuiltDsn> d = BuildDsn(s);
  ASSERT_TRUE(d.ok());
  EXPECT_NE(d->bytes.find("Content-Type: message/global-delivery-status"), std::string::npos);
  EXPECT_NE(d->bytes.find("Final-Recipient: utf-8;jos\xc3\xa9@d\xc3\xa9st.example"),
            std::string::npos);
}

TEST(DsnTest, RefusesNullSenderAndMixedActions) {
  DsnSpec s = Spec();
  s.to.clear();
  EXPECT_FALSE(BuildDsn(s).ok());
  s = Spec();
  s.recipients[1].action = "delayed";
  EXPECT_FALSE(BuildDsn(s).ok());
  s.recipients.clear();
  EXPECT_FALSE(BuildDsn(s).ok());
}

TEST(DsnTest, StatusDerivation) {
  DsnRecipientReport r;
  r.action = "failed";
  EXPECT_EQ(DsnStatus(r), "5.0.0");
  r.smtp_code = 552;
  r.reply = "5.2.2 mailbox full";
  EXPECT_EQ(DsnStatus(r), "5.2.2");
  r.reply = "4.2.2 mismatched class";  // class differs from the code: not trusted
  EXPECT_EQ(DsnStatus(r), "5.0.0");
  r.status = "5.7.1";
  EXPECT_EQ(DsnStatus(r), "5.7.1");
  r.expired = true;  // wins over the last reply's status
  EXPECT_EQ(DsnStatus(r), "4.4.7");
}

TEST(DsnTest, HeaderHelpers) {
  EXPECT_EQ(HeaderValue(kOriginal, "subject"), "Quarterly numbers");
  EXPECT_EQ(HeaderValue("A: 1\r\nSubject: x\r\n y\r\n\r\nSubject: body\r\n", "Subject"), "x y");
  EXPECT_EQ(HeaderValue(kOriginal, "Cc"), "");
  EXPECT_EQ(MessageHeader("A: 1\r\n\r\nbody"), "A: 1\r\n");
}

}  // namespace
}  // namespace postino::templates
