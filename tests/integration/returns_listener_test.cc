// returns_listener_test.cc: the [returns] intake listener over SMTP, driven
// by Python's smtplib (a client nobody here wrote). A campaign is delivered
// to smtp-sink; `postino serve` runs the listener of [returns] listen; a DSN
// sent from the null sender to the recipient's VERP return path gets 250 only
// once recorded (the delivery is then `bounced` and suppressed), while mail
// for any other address (an open-relay probe, an unknown local part, a VERP
// domain address without a token) is refused at RCPT with 550 and nothing is
// recorded.
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <csignal>
#include <memory>
#include <string>

#include "templates/recipient_token.h"
#include "tests/integration/postino_fixture.h"

namespace postino::testing {
namespace {

constexpr char kSecret[] = "test-unsubscribe-secret-0123456789";  // the fixture's key
constexpr char kVerpDomain[] = "bounce.news.example.com";

// Python: sends `msg_file` from <> to `rcpt`; prints "<code> <reply>" of the
// first refusal (RCPT or DATA), or "250 ok" when accepted.
constexpr char kSend[] = R"PY(
import smtplib, sys
port, rcpt, path = int(sys.argv[1]), sys.argv[2], sys.argv[3]
s = smtplib.SMTP("127.0.0.1", port, timeout=30)
s.ehlo("mx.example.org")
code, text = s.mail("")
if code != 250:
    print(code, text.decode()); sys.exit(0)
code, text = s.rcpt(rcpt)
if code != 250:
    print(code, text.decode()); s.quit(); sys.exit(0)
code, text = s.data(open(path, "rb").read())
print(code, text.decode())
s.quit()
)PY";

std::string Dsn(const std::string& to, const std::string& rcpt) {
  return fmt::format(
      "From: MAILER-DAEMON@mx.example.org\r\nTo: {}\r\nSubject: Undelivered Mail\r\n"
      "MIME-Version: 1.0\r\nContent-Type: multipart/report; report-type=delivery-status; "
      "boundary=\"b\"\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\nDelivery failed.\r\n\r\n"
      "--b\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; mx.example.org\r\n"
      "\r\nFinal-Recipient: rfc822; {}\r\nAction: failed\r\nStatus: 5.1.1\r\nDiagnostic-Code: "
      "smtp; 550 5.1.1 <{}>: Recipient address rejected: User unknown\r\n\r\n--b--\r\n",
      to, rcpt, rcpt);
}

class ReturnsListenerTest : public PostinoTest {};

TEST_F(ReturnsListenerTest, TakesReportsForVerpAddressesOnlyAndRecordsBefore250) {
  SmtpSink sink;
  int port = FreePort();
  WriteConfig(sink.port(),
              fmt::format("[returns]\nverp_domains = [\"{}\"]\n"
                          "feedback_addresses = [\"fbl@news.example.com\"]\n"
                          "listen = [\"127.0.0.1:{}\"]\nhostname = \"returns.example.com\"\n",
                          kVerpDomain, port));
  Prepare(3);
  // `run --until-idle` also runs the intake listener while it sends.
  ProcessResult run = Postino({"run", "--until-idle"});
  ASSERT_EQ(run.exit_code, 0) << run.err;
  ASSERT_EQ(Count("status = 'delivered'"), 3);
  std::string row = Sql("SELECT id || '|' || campaign_id || '|' || email FROM deliveries "
                        "ORDER BY id LIMIT 1");
  size_t a = row.find('|'), b = row.find('|', a + 1);
  int64_t id = std::stoll(row.substr(0, a));
  int64_t campaign = std::stoll(row.substr(a + 1, b - a - 1));
  std::string email = row.substr(b + 1);
  std::string verp = fmt::format(
      "bounces+{}@{}", templates::MakeRecipientToken(kSecret, campaign, id, email), kVerpDomain);

  std::unique_ptr<BackgroundProcess> serve = StartPostino({"serve", "--returns"}, "serve.log");
  ASSERT_TRUE(WaitForPort(port, std::chrono::milliseconds(15000))) << ReadFile(dir_ + "/serve.log");
  std::string script = Write("send.py", kSend);
  std::string msg = Write("dsn.eml", Dsn(verp, email));
  auto send = [&](const std::string& rcpt) {
    ProcessResult r = RunProcess({"/usr/bin/python3", script, std::to_string(port), rcpt, msg});
    EXPECT_EQ(r.exit_code, 0) << r.err;
    return r.out;
  };

  // Refused at RCPT: an open-relay probe, an unknown address of the VERP
  // domain, a VERP-domain address without a token.
  for (const std::string& rcpt : {std::string("victim@elsewhere.example.net"),
                                  fmt::format("postmaster@{}", kVerpDomain),
                                  fmt::format("bounces@{}", kVerpDomain)}) {
    std::string out = send(rcpt);
    EXPECT_EQ(out.rfind("550 5.1.1", 0), 0u) << rcpt << ": " << out;
  }
  EXPECT_EQ(Sql("SELECT count(*) FROM returned_reports"), "0");
  EXPECT_EQ(Count("status = 'bounced'"), 0);

  // The DSN to the VERP address: 250 after it is recorded.
  std::string out = send(verp);
  EXPECT_EQ(out.rfind("250 2.0.0", 0), 0u) << out << ReadFile(dir_ + "/serve.log");
  EXPECT_EQ(Sql(fmt::format("SELECT status FROM deliveries WHERE id = {}", id)), "bounced");
  EXPECT_EQ(Sql(fmt::format("SELECT reason FROM suppressions WHERE email_key = lower('{}')", email)),
            "hard_bounce");
  EXPECT_EQ(Sql(fmt::format("SELECT count(*) FROM delivery_events WHERE delivery_id = {} AND "
                            "status = 'bounced' AND phase = 'async'",
                            id)),
            "1");
  // The same report delivered again (a retry by the remote MTA): 250, once.
  EXPECT_EQ(send(verp).rfind("250", 0), 0u);
  EXPECT_EQ(Sql(fmt::format("SELECT count(*) FROM delivery_events WHERE delivery_id = {} AND "
                            "phase = 'async'",
                            id)),
            "1");

  serve->Signal(SIGTERM);
  EXPECT_EQ(serve->Wait(std::chrono::seconds(20)), 0) << ReadFile(dir_ + "/serve.log");
}

TEST_F(ReturnsListenerTest, ListenWithoutTheOtherKeysIsAConfigErrorNamingTheKey) {
  SmtpSink sink;
  WriteConfig(sink.port(), "[returns]\ncert_file = \"/nonexistent.pem\"\n");
  ProcessResult r = Postino({"config", "check"});
  EXPECT_EQ(r.exit_code, 3) << r.out << r.err;
  EXPECT_NE((r.out + r.err).find("key_file"), std::string::npos) << r.out << r.err;
}

}  // namespace
}  // namespace postino::testing
