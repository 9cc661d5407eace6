// server_session_test.cc: the SMTP server state machine driven by strings:
// greeting, EHLO keywords before and after TLS, STARTTLS injection, AUTH
// PLAIN/LOGIN, MAIL/RCPT parameters, DATA with dot-unstuffing, every bound,
// PIPELINING reply order, and every SMTP smuggling shape refused.
#include "engine/smtp/server_session.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace postino::smtp {
namespace {

// Drives a session and records what it asked for.
class Harness : public ServerPolicy {
 public:
  explicit Harness(ServerParams p = Defaults()) : session(std::move(p), this) {
    session.OnConnected();
    Drain();
  }
  static ServerParams Defaults() {
    ServerParams p;
    p.hostname = "mx.test";
    p.tls = ServerTls::kStartTls;
    p.limits.max_message_size = 1000;
    p.limits.max_recipients = 3;
    p.limits.max_errors = 20;
    return p;
  }
  // Sends bytes, returns what the server wrote in response.
  std::string Send(std::string_view bytes) {
    session.OnBytes(bytes);
    return Drain();
  }
  std::string Drain() {
    std::string out;
    for (ServerAction& a : session.TakeActions()) {
      switch (a.kind) {
        case ServerAction::Kind::kWrite:
          out += a.bytes;
          break;
        case ServerAction::Kind::kStartTls:
          starttls++;
          break;
        case ServerAction::Kind::kClose:
          closes++;
          break;
        case ServerAction::Kind::kVerifyAuth:
          auth_requests.push_back(a);
          break;
        case ServerAction::Kind::kMessage:
          messages.push_back(a);
          break;
      }
    }
    written += out;
    return out;
  }
  // EHLO, STARTTLS, EHLO, AUTH PLAIN (accepted).
  void Login() {
    Send("EHLO c.test\r\nSTARTTLS\r\n");
    session.OnTlsReady();
    Send("EHLO c.test\r\nAUTH PLAIN AHVzZXIAcHc=\r\n");  // \0user\0pw
    session.OnAuthResult(true);
    Drain();
  }
  std::optional<ServerReply> CheckSender(const ServerEnvelope& env) override {
    if (env.mail_from == "bad@x.test") return ServerReply{553, "5.7.1", "Sender not owned"};
    return std::nullopt;
  }
  std::optional<ServerReply> CheckRecipient(const ServerEnvelope&,
                                            const ServerRecipient& r) override {
    if (r.address == "no@x.test") return ServerReply{550, "5.1.1", "No"};
    return std::nullopt;
  }

  ServerSession session;
  std::string written;
  int starttls = 0;
  int closes = 0;
  std::vector<ServerAction> auth_requests;
  std::vector<ServerAction> messages;
};

TEST(ServerSessionTest, BannerAndEhloBeforeTlsHasStartTlsNotAuth) {
  Harness h;
  EXPECT_EQ(h.written, "220 mx.test ESMTP postino\r\n");
  std::string r = h.Send("EHLO client.test\r\n");
  EXPECT_EQ(r,
            "250-mx.test Hello client.test\r\n250-PIPELINING\r\n250-SIZE 1000\r\n250-8BITMIME\r\n"
            "250-SMTPUTF8\r\n250-ENHANCEDSTATUSCODES\r\n250-DSN\r\n250 STARTTLS\r\n");
  EXPECT_EQ(r.find("AUTH"), std::string::npos);
}

TEST(ServerSessionTest, EhloAfterTlsOffersAuthNotStartTls) {
  Harness h;
  EXPECT_EQ(h.Send("EHLO c.test\r\nSTARTTLS\r\n").substr(0, 3), "250");
  EXPECT_EQ(h.starttls, 1);
  h.session.OnTlsReady();
  std::string r = h.Send("EHLO c.test\r\n");
  EXPECT_NE(r.find("250 AUTH PLAIN LOGIN\r\n"), std::string::npos) << r;
  EXPECT_EQ(r.find("STARTTLS"), std::string::npos);
  EXPECT_TRUE(h.session.tls_active());
}

TEST(ServerSessionTest, ImplicitTlsOffersAuthAtOnce) {
  ServerParams p = Harness::Defaults();
  p.tls = ServerTls::kImplicit;
  Harness h(p);
  std::string r = h.Send("EHLO c.test\r\n");
  EXPECT_NE(r.find("AUTH PLAIN LOGIN"), std::string::npos);
  EXPECT_EQ(r.find("STARTTLS"), std::string::npos);
  EXPECT_EQ(h.Send("STARTTLS\r\n"), "502 5.5.1 STARTTLS not available\r\n");
}

TEST(ServerSessionTest, StartTlsInjectionIsDiscarded) {
  Harness h;
  h.Send("EHLO c.test\r\n");
  // Plain-text commands pipelined after STARTTLS must never run over TLS.
  std::string r = h.Send("STARTTLS\r\nAUTH PLAIN AHVzZXIAcHc=\r\nMAIL FROM:<a@x.test>\r\n");
  EXPECT_EQ(r, "220 2.0.0 Ready to start TLS\r\n");
  h.session.OnTlsReady();
  EXPECT_EQ(h.Drain(), "");
  EXPECT_TRUE(h.auth_requests.empty());
  EXPECT_EQ(h.Send("MAIL FROM:<a@x.test>\r\n"), "503 5.5.1 Send EHLO or HELO first\r\n");
}

TEST(ServerSessionTest, NoMailBeforeAuth) {
  Harness h;
  h.Send("EHLO c.test\r\n");
  EXPECT_EQ(h.Send("MAIL FROM:<a@x.test>\r\n"), "530 5.7.0 Authentication required\r\n");
  EXPECT_EQ(h.Send("RCPT TO:<b@y.test>\r\n"), "503 5.5.1 Send MAIL first\r\n");
}

TEST(ServerSessionTest, AuthBeforeTlsIsRefused) {
  Harness h;
  h.Send("EHLO c.test\r\n");
  EXPECT_EQ(h.Send("AUTH PLAIN AHVzZXIAcHc=\r\n"),
            "538 5.7.11 Encryption required for requested authentication mechanism\r\n");
  EXPECT_TRUE(h.auth_requests.empty());
}

TEST(ServerSessionTest, AuthPlainInitialResponse) {
  Harness h;
  h.Login();
  ASSERT_EQ(h.auth_requests.size(), 1u);
  EXPECT_EQ(h.auth_requests[0].username, "user");
  EXPECT_EQ(h.auth_requests[0].password, "pw");
  EXPECT_EQ(h.auth_requests[0].mechanism, "PLAIN");
  EXPECT_NE(h.written.find("235 2.7.0 Authentication successful\r\n"), std::string::npos);
  EXPECT_EQ(h.session.auth_user(), "user");
  EXPECT_EQ(h.Send("AUTH PLAIN AHVzZXIAcHc=\r\n"), "503 5.5.1 Already authenticated\r\n");
}

TEST(ServerSessionTest, AuthPlainContinuationAndLogin) {
  ServerParams p = Harness::Defaults();
  p.tls = ServerTls::kImplicit;
  Harness h(p);
  h.Send("EHLO c.test\r\n");
  EXPECT_EQ(h.Send("AUTH PLAIN\r\n"), "334 \r\n");
  EXPECT_EQ(h.Send("AHVzZXIAd3Jvbmc=\r\n"), "");  // \0user\0wrong
  ASSERT_EQ(h.auth_requests.size(), 1u);
  EXPECT_TRUE(h.session.waiting());
  h.session.OnAuthResult(false);
  EXPECT_EQ(h.Drain(), "535 5.7.8 Authentication credentials invalid\r\n");
  EXPECT_EQ(h.Send("AUTH LOGIN\r\n"), "334 VXNlcm5hbWU6\r\n");
  EXPECT_EQ(h.Send("dXNlcg==\r\n"), "334 UGFzc3dvcmQ6\r\n");
  EXPECT_EQ(h.Send("cHc=\r\n"), "");
  ASSERT_EQ(h.auth_requests.size(), 2u);
  EXPECT_EQ(h.auth_requests[1].username, "user");
  EXPECT_EQ(h.auth_requests[1].password, "pw");
  EXPECT_EQ(h.auth_requests[1].mechanism, "LOGIN");
  h.session.OnAuthResult(true);
  EXPECT_EQ(h.Drain(), "235 2.7.0 Authentication successful\r\n");
}

TEST(ServerSessionTest, AuthCancelBadBase64AndUnknownMechanism) {
  ServerParams p = Harness::Defaults();
  p.tls = ServerTls::kImplicit;
  Harness h(p);
  h.Send("EHLO c.test\r\n");
  EXPECT_EQ(h.Send("AUTH LOGIN\r\n*\r\n"),
            "334 VXNlcm5hbWU6\r\n501 5.0.0 Authentication cancelled\r\n");
  EXPECT_EQ(h.Send("AUTH PLAIN !!!!\r\n"), "501 5.5.2 Invalid base64 data\r\n");
  EXPECT_EQ(h.Send("AUTH CRAM-MD5\r\n"), "504 5.5.4 Unrecognized authentication mechanism\r\n");
  // authzid different from authcid: refused without asking the verifier.
  EXPECT_EQ(h.Send("AUTH PLAIN YWRtaW4AdXNlcgBwdw==\r\n"),
            "535 5.7.8 Authentication credentials invalid\r\n");
  EXPECT_TRUE(h.auth_requests.empty());
}

TEST(ServerSessionTest, ThrottledAuthCanClose) {
  ServerParams p = Harness::Defaults();
  p.tls = ServerTls::kImplicit;
  Harness h(p);
  h.Send("EHLO c.test\r\nAUTH PLAIN AHVzZXIAcHc=\r\n");
  h.session.OnAuthResult(false, ServerReply{421, "4.7.0", "Too many failures, try later"});
  EXPECT_EQ(h.Drain(), "421 4.7.0 Too many failures, try later\r\n");
  EXPECT_EQ(h.closes, 1);
}

TEST(ServerSessionTest, FullTransactionWithDotUnstuffingAndParams) {
  Harness h;
  h.Login();
  std::string r = h.Send(
      "MAIL FROM:<a@x.test> SIZE=100 BODY=8BITMIME RET=HDRS ENVID=abc+2Bdef\r\n"
      "RCPT TO:<b@y.test> NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;b+40y.test\r\n"
      "RCPT TO:<c@y.test>\r\nDATA\r\n");
  EXPECT_EQ(r, "250 2.1.0 Sender OK\r\n250 2.1.5 Recipient OK\r\n250 2.1.5 Recipient OK\r\n"
               "354 End data with <CR><LF>.<CR><LF>\r\n");
  EXPECT_EQ(h.Send("Subject: x\r\n\r\n..leading dot\r\n.\r\n"), "");
  ASSERT_EQ(h.messages.size(), 1u);
  const ServerAction& m = h.messages[0];
  EXPECT_EQ(m.data, "Subject: x\r\n\r\n.leading dot\r\n");
  EXPECT_EQ(m.envelope.mail_from, "a@x.test");
  EXPECT_EQ(m.envelope.body, "8BITMIME");
  EXPECT_EQ(m.envelope.ret, "HDRS");
  EXPECT_EQ(m.envelope.envid, "abc+def");
  EXPECT_EQ(*m.envelope.size, 100u);
  ASSERT_EQ(m.envelope.rcpts.size(), 2u);
  EXPECT_EQ(m.envelope.rcpts[0].notify, "SUCCESS,FAILURE");
  EXPECT_EQ(m.envelope.rcpts[0].orcpt, "rfc822;b@y.test");
  // No 250 until the store says so.
  EXPECT_TRUE(h.session.waiting());
  h.session.OnMessageResult(ServerReply{250, "2.0.0", "Ok: queued as 7"});
  EXPECT_EQ(h.Drain(), "250 2.0.0 Ok: queued as 7\r\n");
  EXPECT_EQ(h.session.messages_accepted(), 1u);
  EXPECT_EQ(h.Send("QUIT\r\n"), "221 2.0.0 mx.test Bye\r\n");
  EXPECT_EQ(h.closes, 1);
}

TEST(ServerSessionTest, PipelinedCommandsWaitForTheStore) {
  Harness h;
  h.Login();
  // Two transactions pipelined in one write: the second's replies come only
  // after the first message's result, in order.
  std::string r = h.Send(
      "MAIL FROM:<a@x.test>\r\nRCPT TO:<b@y.test>\r\nDATA\r\nhello\r\n.\r\n"
      "MAIL FROM:<a@x.test>\r\nRCPT TO:<no@x.test>\r\nRCPT TO:<c@y.test>\r\nDATA\r\nbye\r\n.\r\n"
      "QUIT\r\n");
  EXPECT_EQ(r, "250 2.1.0 Sender OK\r\n250 2.1.5 Recipient OK\r\n354 End data with <CR><LF>.<CR><LF>\r\n");
  h.session.OnMessageResult(ServerReply{250, "2.0.0", "Ok 1"});
  EXPECT_EQ(h.Drain(),
            "250 2.0.0 Ok 1\r\n250 2.1.0 Sender OK\r\n550 5.1.1 No\r\n250 2.1.5 Recipient OK\r\n"
            "354 End data with <CR><LF>.<CR><LF>\r\n");
  ASSERT_EQ(h.messages.size(), 2u);
  EXPECT_EQ(h.messages[1].envelope.rcpts.size(), 1u);
  h.session.OnMessageResult(ServerReply{451, "4.3.0", "Try later"});
  EXPECT_EQ(h.Drain(), "451 4.3.0 Try later\r\n221 2.0.0 mx.test Bye\r\n");
}

TEST(ServerSessionTest, SenderPolicyAndAddressSyntax) {
  Harness h;
  h.Login();
  EXPECT_EQ(h.Send("MAIL FROM:<bad@x.test>\r\n"), "553 5.7.1 Sender not owned\r\n");
  EXPECT_EQ(h.Send("MAIL FROM:a@x.test\r\n"), "501 5.1.7 Bad sender address syntax\r\n");
  EXPECT_EQ(h.Send("MAIL FROM:<a b@x.test>\r\n"), "553 5.1.7 Bad sender address syntax\r\n");
  EXPECT_EQ(h.Send("MAIL FROM:<\xc3\xa9@x.test>\r\n"),
            "553 5.6.7 Non-ASCII address needs the SMTPUTF8 parameter\r\n");
  EXPECT_EQ(h.Send("MAIL FROM:<\xc3\xa9@x.test> SMTPUTF8\r\n"), "250 2.1.0 Sender OK\r\n");
  EXPECT_EQ(h.Send("MAIL FROM:<a@x.test>\r\n"), "503 5.5.1 Nested MAIL command\r\n");
  EXPECT_EQ(h.Send("RSET\r\n"), "250 2.0.0 Reset OK\r\n");
  EXPECT_EQ(h.Send("MAIL FROM:<> FOO=1\r\n"), "555 5.5.4 Unsupported parameter FOO\r\n");
  EXPECT_EQ(h.Send("MAIL FROM:<> SIZE=2000\r\n"),
            "552 5.3.4 Message size exceeds fixed maximum message size\r\n");
  EXPECT_EQ(h.Send("MAIL FROM:<@relay.test:a@x.test>\r\n"), "250 2.1.0 Sender OK\r\n");
  EXPECT_EQ(h.Send("RCPT TO:<>\r\n"), "501 5.1.3 Bad recipient address syntax\r\n");
  EXPECT_EQ(h.Send("RCPT TO:<b@y.test> NOTIFY=NEVER,SUCCESS\r\n"),
            "501 5.5.4 Bad NOTIFY parameter (NEVER, or SUCCESS,FAILURE,DELAY)\r\n");
  EXPECT_EQ(h.Send("DATA\r\n"), "554 5.5.1 No valid recipients\r\n");
}

TEST(ServerSessionTest, TooManyRecipients) {
  Harness h;
  h.Login();
  std::string r = h.Send(
      "MAIL FROM:<a@x.test>\r\nRCPT TO:<1@y.test>\r\nRCPT TO:<2@y.test>\r\nRCPT TO:<3@y.test>\r\n"
      "RCPT TO:<4@y.test>\r\n");
  EXPECT_NE(r.find("452 4.5.3 Too many recipients\r\n"), std::string::npos) << r;
}

TEST(ServerSessionTest, OversizeMessageIsRefusedAndNotStored) {
  Harness h;
  h.Login();
  h.Send("MAIL FROM:<a@x.test>\r\nRCPT TO:<b@y.test>\r\nDATA\r\n");
  std::string body;
  for (int i = 0; i < 30; ++i) body += std::string(60, 'x') + "\r\n";
  EXPECT_EQ(h.Send(body + ".\r\n"), "552 5.3.4 Message size exceeds fixed maximum message size\r\n");
  EXPECT_TRUE(h.messages.empty());
  EXPECT_EQ(h.Send("NOOP\r\n"), "250 2.0.0 OK\r\n");
}

TEST(ServerSessionTest, LongTextLineIsRefused) {
  ServerParams p = Harness::Defaults();
  p.limits.max_message_size = 100000;
  Harness h(p);
  h.Login();
  h.Send("MAIL FROM:<a@x.test>\r\nRCPT TO:<b@y.test>\r\nDATA\r\n");
  // Sent in pieces so the partial-line path is taken.
  h.Send(std::string(700, 'y'));
  h.Send(std::string(700, 'y'));
  EXPECT_EQ(h.Send("\r\n.\r\n"), "550 5.6.0 Message refused: a line is longer than 998 characters\r\n");
  EXPECT_TRUE(h.messages.empty());
  // Exactly 998 is fine.
  h.Send("MAIL FROM:<a@x.test>\r\nRCPT TO:<b@y.test>\r\nDATA\r\n");
  h.Send(std::string(998, 'z') + "\r\n.\r\n");
  EXPECT_EQ(h.messages.size(), 1u);
}

// Every shape of SMTP smuggling: a bare CR or LF somewhere in the message.
// The message is refused once the real <CRLF>.<CRLF> comes; the smuggled
// commands are part of the refused text, never run, nothing is stored.
class SmugglingTest : public ::testing::TestWithParam<const char*> {};

TEST_P(SmugglingTest, RefusedAndNothingStored) {
  Harness h;
  h.Login();
  h.Send("MAIL FROM:<a@x.test>\r\nRCPT TO:<b@y.test>\r\nDATA\r\n");
  std::string data = std::string("Subject: one\r\n\r\nbody") + GetParam() +
                     "MAIL FROM:<bad@x.test>\r\nRCPT TO:<victim@y.test>\r\nDATA\r\n"
                     "Subject: smuggled\r\n\r\nevil\r\n.\r\n";
  std::string r = h.Send(data);
  EXPECT_EQ(r.substr(0, 87),
            "550 5.6.0 Message refused: bare CR or LF in the message text (lines must end with CRLF)");
  EXPECT_TRUE(h.messages.empty());
  EXPECT_EQ(h.Send("RCPT TO:<b@y.test>\r\n"), "503 5.5.1 Send MAIL first\r\n");
}

INSTANTIATE_TEST_SUITE_P(Shapes, SmugglingTest,
                         ::testing::Values("\n.\n", "\n.\r\n", "\r.\r", "\r\n.\n", "\r.\r\n",
                                           "\r\n.\r", "\n", "\r", "\r\n.\r\r\n", "\n\r\n.\r\n"));

TEST(ServerSessionTest, SmugglingSplitAcrossReads) {
  Harness h;
  h.Login();
  h.Send("MAIL FROM:<a@x.test>\r\nRCPT TO:<b@y.test>\r\nDATA\r\n");
  std::string data = "x\r\n\n.\r\nMAIL FROM:<a@x.test>\r\n.\r\n";
  std::string r;
  for (char c : data) r += h.Send(std::string(1, c));
  EXPECT_EQ(r.substr(0, 9), "550 5.6.0");
  EXPECT_TRUE(h.messages.empty());
}

TEST(ServerSessionTest, CommandLineBounds) {
  Harness h;
  std::string r = h.Send("NOOP " + std::string(600, 'a') + "\r\nNOOP\r\n");
  EXPECT_EQ(r, "500 5.5.2 Line too long\r\n250 2.0.0 OK\r\n");
  EXPECT_EQ(h.Send("NOOP\n"), "500 5.5.2 Syntax error: lines must end with CRLF (bare LF)\r\n");
  EXPECT_EQ(h.Send("NO\rOP\r\n"), "500 5.5.2 Syntax error: bare CR or NUL in a command line\r\n");
  EXPECT_EQ(h.Send("FOO\r\n"), "500 5.5.1 Command unrecognized\r\n");
  EXPECT_EQ(h.Send("VRFY x\r\n").substr(0, 9), "252 2.5.0");
  EXPECT_EQ(h.Send("HELP\r\n").substr(0, 9), "214 2.0.0");
  // A long line without LF yet: refused once, the rest skipped.
  EXPECT_EQ(h.Send(std::string(700, 'b')), "500 5.5.2 Line too long\r\n");
  EXPECT_EQ(h.Send(std::string(100, 'b') + "\r\nNOOP\r\n"), "250 2.0.0 OK\r\n");
}

TEST(ServerSessionTest, TooManyErrorsCloses) {
  ServerParams p = Harness::Defaults();
  p.limits.max_errors = 3;
  Harness h(p);
  std::string r = h.Send("FOO\r\nBAR\r\nBAZ\r\nNOOP\r\n");
  EXPECT_EQ(r, "500 5.5.1 Command unrecognized\r\n500 5.5.1 Command unrecognized\r\n"
               "500 5.5.1 Command unrecognized\r\n421 4.7.0 mx.test Too many errors, closing "
               "connection\r\n");
  EXPECT_EQ(h.closes, 1);
  EXPECT_EQ(h.Send("NOOP\r\n"), "");
}

TEST(ServerSessionTest, TooManyCommandsCloses) {
  ServerParams p = Harness::Defaults();
  p.limits.max_commands = 2;
  Harness h(p);
  std::string r = h.Send("NOOP\r\nNOOP\r\nNOOP\r\n");
  EXPECT_EQ(r, "250 2.0.0 OK\r\n250 2.0.0 OK\r\n421 4.7.0 mx.test Too many commands, closing "
               "connection\r\n");
  EXPECT_EQ(h.closes, 1);
}

TEST(ServerSessionTest, TimeoutAndPendingInputBound) {
  Harness h;
  h.session.OnTimeout();
  EXPECT_EQ(h.Drain(), "421 4.4.2 mx.test Error: timeout exceeded\r\n");
  EXPECT_EQ(h.closes, 1);

  ServerParams p = Harness::Defaults();
  p.limits.max_pending_input = 100;
  Harness g(p);
  g.Login();
  g.Send("MAIL FROM:<a@x.test>\r\nRCPT TO:<b@y.test>\r\nDATA\r\nx\r\n.\r\n");
  EXPECT_TRUE(g.session.waiting());
  EXPECT_EQ(g.Send(std::string(200, 'n')), "421 4.7.0 mx.test Too much pipelined input\r\n");
}

TEST(ServerSessionTest, HeloAndSequence) {
  ServerParams p = Harness::Defaults();
  p.auth_required = false;
  Harness h(p);
  EXPECT_EQ(h.Send("MAIL FROM:<a@x.test>\r\n"), "503 5.5.1 Send EHLO or HELO first\r\n");
  EXPECT_EQ(h.Send("HELO\r\n"), "501 5.5.4 Syntax: HELO hostname\r\n");
  EXPECT_EQ(h.Send("HELO c.test\r\n"), "250 mx.test\r\n");
  EXPECT_EQ(h.Send("MAIL FROM:<a@x.test> SIZE=10\r\n"), "555 5.5.4 MAIL parameters need EHLO\r\n");
  EXPECT_EQ(h.Send("MAIL FROM:<a@x.test>\r\nDATA\r\n"),
            "250 2.1.0 Sender OK\r\n554 5.5.1 No valid recipients\r\n");
  EXPECT_EQ(h.Send("BDAT 10 LAST\r\n"), "502 5.5.1 Command not implemented\r\n");
}

TEST(ServerSessionTest, XtextAndBase64) {
  std::string out;
  EXPECT_TRUE(DecodeXtext("a+2Bb+3D", &out));
  EXPECT_EQ(out, "a+b=");
  EXPECT_FALSE(DecodeXtext("a+2", &out));
  EXPECT_FALSE(DecodeXtext("a b", &out));
  std::string path, params;
  EXPECT_TRUE(ParseSmtpPath("<\"a>b\"@x.test> SIZE=1", &path, &params));
  EXPECT_EQ(path, "\"a>b\"@x.test");
  EXPECT_EQ(params, "SIZE=1");
  EXPECT_FALSE(ParseSmtpPath("<a@x.test", &path, &params));
}

}  // namespace
}  // namespace postino::smtp
