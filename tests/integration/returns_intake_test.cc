// returns_intake_test.cc: bounces and complaints that arrive by mail,
// end to end. A campaign is delivered to smtp-sink; then a DSN (hard, by
// VERP envelope), a delayed DSN (soft, by VERP), an ARF complaint (by the
// returned Message-ID, through `postino bounces import`), an auto-reply and
// an unmatched DSN are taken in through ProcessReturnedMessage and the CLI.
// Checks deliveries, subscribers, suppressions, delivery_events and
// complaints change as CONTRACTS.md says, that the same report twice is
// recorded once, and that an unmatched report is counted, not fatal.
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "common/metrics.h"
#include "db/database.h"
#include "inbound/returns/intake.h"
#include "templates/recipient_token.h"
#include "tests/integration/postino_fixture.h"

namespace postino::testing {
namespace {

constexpr char kSecret[] = "test-unsubscribe-secret-0123456789";
constexpr char kVerpDomain[] = "bounce.news.example.com";

class ReturnsIntakeTest : public PostinoTest {
 protected:
  struct Row {
    int64_t id = 0, campaign = 0;
    std::string email, message_id;
  };
  Row Delivery(const std::string& email) {
    std::string r = Sql(fmt::format(
        "SELECT id || '|' || campaign_id || '|' || message_id FROM deliveries WHERE email = '{}'",
        email));
    Row row;
    row.email = email;
    size_t a = r.find('|'), b = r.find('|', a + 1);
    row.id = std::stoll(r.substr(0, a));
    row.campaign = std::stoll(r.substr(a + 1, b - a - 1));
    row.message_id = r.substr(b + 1);
    return row;
  }
  std::string Verp(const Row& d) {
    return fmt::format("bounces+{}@{}",
                       templates::MakeRecipientToken(kSecret, d.campaign, d.id, d.email), kVerpDomain);
  }
  inbound::returns::ReturnsConfig Config() {
    inbound::returns::ReturnsConfig c;
    c.verp_domains = {kVerpDomain};
    c.feedback_addresses = {"fbl@news.example.com"};
    c.secret = kSecret;
    c.node = "test";
    return c;
  }
};

std::string Dsn(const std::string& to, const std::string& rcpt, const std::string& action,
                const std::string& status, const std::string& diag, const std::string& mid) {
  return fmt::format(
      "From: MAILER-DAEMON@mx.example.org\r\nTo: {}\r\nSubject: Undelivered Mail\r\n"
      "MIME-Version: 1.0\r\nContent-Type: multipart/report; report-type=delivery-status; "
      "boundary=\"b\"\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\nDelivery failed.\r\n\r\n"
      "--b\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; mx.example.org\r\n"
      "\r\nFinal-Recipient: rfc822; {}\r\nAction: {}\r\nStatus: {}\r\nDiagnostic-Code: smtp; "
      "{}\r\n\r\n--b\r\nContent-Type: text/rfc822-headers\r\n\r\nFrom: news@news.example.com\r\n"
      "To: {}\r\nMessage-ID: {}\r\nSubject: News\r\n\r\n--b--\r\n",
      to, rcpt, action, status, diag, rcpt, mid);
}

TEST_F(ReturnsIntakeTest, DsnAndArfChangeDeliveriesSubscribersAndSuppressions) {
  SmtpSink sink;
  WriteConfig(sink.port(), fmt::format("[returns]\nverp_domains = [\"{}\"]\n"
                                       "feedback_addresses = [\"fbl@news.example.com\"]\n",
                                       kVerpDomain));
  Prepare(6);
  ProcessResult run = Postino({"run", "--until-idle"});
  ASSERT_EQ(run.exit_code, 0) << run.err;
  ASSERT_EQ(Count("status = 'delivered'"), 6);

  std::string emails = Sql("SELECT string_agg(email, ',' ORDER BY id) FROM deliveries");
  std::vector<std::string> addr;
  for (size_t p = 0; p != std::string::npos;) {
    size_t c = emails.find(',', p);
    addr.push_back(emails.substr(p, c == std::string::npos ? c : c - p));
    p = c == std::string::npos ? c : c + 1;
  }
  ASSERT_GE(addr.size(), 4u);
  Row hard = Delivery(addr[0]), soft = Delivery(addr[1]), complained = Delivery(addr[2]);

  Result<std::unique_ptr<db::Database>> db = db::Database::Connect(db_url_);
  ASSERT_TRUE(db.ok()) << db.status().ToString();
  inbound::returns::ReturnsConfig cfg = Config();

  // 1. A hard bounce, matched by the VERP envelope recipient.
  std::string dsn = Dsn(Verp(hard), hard.email, "failed", "5.1.1",
                        "550 5.1.1 <" + hard.email + ">: Recipient address rejected: User unknown",
                        "<not-the-one@example.com>");
  auto s1 = inbound::returns::ProcessReturnedMessage(**db, cfg, "", {Verp(hard)}, dsn);
  ASSERT_TRUE(s1.ok()) << s1.status().ToString();
  EXPECT_EQ(s1->matched, 1);
  EXPECT_EQ(s1->hard_bounces, 1);
  EXPECT_EQ((s1->bounces_by_campaign[{hard.campaign, "hard"}]), 1);
  // ... and /metrics counts it for its campaign.
  inbound::returns::ExportIntakeMetrics(*s1, "smtp");
  EXPECT_NE(metrics::Registry::Global().Expose().find(fmt::format(
                "postino_bounces_by_campaign_total{{campaign=\"{}\",kind=\"hard\"}} 1",
                hard.campaign)),
            std::string::npos);
  EXPECT_EQ(Sql(fmt::format("SELECT status FROM deliveries WHERE id = {}", hard.id)), "bounced");
  EXPECT_EQ(Sql(fmt::format("SELECT status FROM subscribers WHERE email = '{}'", hard.email)),
            "bounced");
  EXPECT_EQ(Sql(fmt::format("SELECT reason FROM suppressions WHERE email_key = lower('{}')",
                            hard.email)),
            "hard_bounce");
  EXPECT_EQ(Sql(fmt::format("SELECT status || '|' || phase || '|' || smtp_code || '|' || "
                            "enhanced_code FROM delivery_events WHERE delivery_id = {} AND "
                            "phase = 'async'",
                            hard.id)),
            "bounced|async|550|5.1.1");

  // 2. The same report again: recorded once.
  auto again = inbound::returns::ProcessReturnedMessage(**db, cfg, "", {Verp(hard)}, dsn);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->duplicates, 1);
  // Picked up again with another hop's trace fields and LF line ends (an
  // mbox export of the same report): still the same report.
  std::string relayed = "From MAILER-DAEMON Thu Apr 29 23:34:45 2026\nReturn-Path: <>\n"
                        "Received: from mx.example.org by mx.news.example.com;\n\tThu, 29 Apr 2026\n" +
                        dsn;
  for (size_t p = 0; (p = relayed.find("\r\n", p)) != std::string::npos;) relayed.erase(p, 1);
  auto third = inbound::returns::ProcessReturnedMessage(**db, cfg, "", {}, relayed);
  ASSERT_TRUE(third.ok());
  EXPECT_EQ(third->duplicates, 1);
  EXPECT_EQ(Sql(fmt::format("SELECT count(*) FROM delivery_events WHERE delivery_id = {} AND "
                            "phase = 'async'",
                            hard.id)),
            "1");

  // 3. A delay notice: soft, the row stays delivered, no suppression.
  std::string delay = Dsn(Verp(soft), soft.email, "delayed", "4.2.2", "452 4.2.2 Mailbox full",
                          soft.message_id);
  auto s3 = inbound::returns::ProcessReturnedMessage(**db, cfg, "", {Verp(soft)}, delay);
  ASSERT_TRUE(s3.ok());
  EXPECT_EQ(s3->soft_bounces, 1);
  EXPECT_EQ((s3->bounces_by_campaign[{soft.campaign, "soft"}]), 1);
  EXPECT_EQ(Sql(fmt::format("SELECT status FROM deliveries WHERE id = {}", soft.id)), "delivered");
  EXPECT_EQ(Sql(fmt::format("SELECT status || '|' || phase FROM delivery_events WHERE "
                            "delivery_id = {} AND phase = 'async'",
                            soft.id)),
            "soft_bounced|async");
  EXPECT_EQ(Sql(fmt::format("SELECT count(*) FROM suppressions WHERE email_key = lower('{}')",
                            soft.email)),
            "0");

  // 4. An ARF complaint matched by the returned Message-ID, through the CLI,
  //    in an mbox with an auto-reply and an unmatched bounce.
  std::string arf = fmt::format(
      "From: fbl@isp.example.net\nTo: fbl@news.example.com\nSubject: complaint\n"
      "MIME-Version: 1.0\nContent-Type: multipart/report; report-type=feedback-report; "
      "boundary=\"p\"\n\n--p\nContent-Type: text/plain\n\nAbuse report.\n\n--p\n"
      "Content-Type: message/feedback-report\n\nFeedback-Type: abuse\nVersion: 1\n"
      "Original-Rcpt-To: <{}>\nReporting-MTA: dns; isp.example.net\nSource-IP: 127.0.0.1\n\n"
      "--p\nContent-Type: message/rfc822\n\nFrom: news@news.example.com\nTo: {}\n"
      "Message-ID: {}\nSubject: News\n\nhi\n--p--\n",
      complained.email, complained.email, complained.message_id);
  std::string autoreply =
      "From: Reader <" + addr[3] + ">\nTo: news@news.example.com\nSubject: Out of office\n"
      "Auto-Submitted: auto-replied\n\nAway until Monday.\n";
  std::string unmatched = Dsn("news@news.example.com", "stranger@example.net", "failed", "5.1.1",
                              "550 5.1.1 no such user", "<unknown@example.com>");
  for (std::string* m : {&arf, &autoreply, &unmatched}) {
    for (size_t p = 0; (p = m->find("\r\n", p)) != std::string::npos;) m->erase(p, 1);
  }
  std::string mbox = "From fbl@isp.example.net Thu Apr 29 23:34:45 2026\n" + arf + "\n" +
                     "From reader Thu Apr 29 23:35:45 2026\n" + autoreply + "\n" +
                     "From MAILER-DAEMON Thu Apr 29 23:36:45 2026\n" + unmatched;
  std::string mbox_path = Write("returns.mbox", mbox);
  ProcessResult imp = Postino({"bounces", "import", "--json", mbox_path});
  ASSERT_EQ(imp.exit_code, 0) << imp.out << imp.err;
  EXPECT_NE(imp.out.find("\"complaints\":1"), std::string::npos) << imp.out;
  EXPECT_NE(imp.out.find("\"unmatched\":1"), std::string::npos) << imp.out;
  EXPECT_NE(imp.out.find("\"messages\":3"), std::string::npos) << imp.out;
  EXPECT_EQ(Sql(fmt::format("SELECT status || '|' || phase FROM delivery_events WHERE "
                            "delivery_id = {} AND phase = 'arf'",
                            complained.id)),
            "complained|arf");
  EXPECT_EQ(Sql(fmt::format("SELECT reason FROM suppressions WHERE email_key = lower('{}')",
                            complained.email)),
            "complaint");
  EXPECT_EQ(Sql(fmt::format("SELECT status FROM deliveries WHERE id = {}", complained.id)),
            "delivered");
  EXPECT_EQ(Sql("SELECT campaign || '|' || domain || '|' || source || '|' || feedback_type || "
                "'|' || complaints FROM complaint_summary"),
            fmt::format("c|{}|isp.example.net|abuse|1",
                        complained.email.substr(complained.email.find('@') + 1)));
  // The auto-reply suppressed nobody.
  EXPECT_EQ(Sql(fmt::format("SELECT count(*) FROM suppressions WHERE email_key = lower('{}')",
                            addr[3])),
            "0");
  // Importing the same mbox again records nothing new.
  ProcessResult imp2 = Postino({"bounces", "import", mbox_path});
  ASSERT_EQ(imp2.exit_code, 0) << imp2.err;
  EXPECT_NE(imp2.out.find("3 already imported"), std::string::npos) << imp2.out;
  EXPECT_EQ(Sql("SELECT count(*) FROM complaints"), "1");
  EXPECT_EQ(Sql("SELECT count(*) FROM returned_reports"), "5");

  // A file that does not exist: exit 1, named.
  ProcessResult missing = Postino({"bounces", "import", dir_ + "/nope.eml"});
  EXPECT_EQ(missing.exit_code, 1);
  EXPECT_NE(missing.err.find("nope.eml"), std::string::npos) << missing.err;
}

TEST_F(ReturnsIntakeTest, ParsePrintsOneJsonLinePerRecipient) {
  WriteConfig(2525);
  std::string f = Write("b.eml", Dsn("news@news.example.com", "gone@example.org", "failed", "5.1.1",
                                     "550 5.1.1 User unknown", "<m@example.com>"));
  ProcessResult r = Postino({"bounces", "parse", f});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("\"address\":\"gone@example.org\""), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("\"reason\":\"userunknown\""), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("\"hard_bounce\":true"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("\"status\":\"5.1.1\""), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("\"reply_code\":\"550\""), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("\"feedback_type\":null"), std::string::npos) << r.out;
}

}  // namespace
}  // namespace postino::testing
