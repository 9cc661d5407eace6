// client_session_test.cc: the SMTP client state machine driven with strings,
// up to the first transaction: phase names and timeouts, greeting, EHLO/HELO,
// STARTTLS (opportunistic, required, implicit) and AUTH. Transactions are in
// client_session_transaction_test.cc, failures in client_session_failure_test.cc.
#include "engine/smtp/client_session.h"

#include <gtest/gtest.h>

#include "tests/unit/smtp/session_harness.h"

namespace postino::smtp {
namespace {

using testing::DefaultParams;
using testing::FindTimer;
using testing::Harness;
using testing::kEhloPipelining;
using testing::Txn;
using Kind = Action::Kind;

TEST(PhaseTest, NamesAndTimeouts) {
  EXPECT_EQ(PhaseName(Phase::kEndOfData), "end_of_data");
  EXPECT_EQ(PhaseName(Phase::kRcpt), "rcpt");
  Timeouts t;
  EXPECT_EQ(t.For(Phase::kConnect), std::chrono::seconds(30));
  EXPECT_EQ(t.For(Phase::kMail), std::chrono::minutes(5));
  EXPECT_EQ(t.For(Phase::kData), std::chrono::minutes(2));
  EXPECT_EQ(t.For(Phase::kEndOfData), std::chrono::minutes(10));
  EXPECT_EQ(t.For(Phase::kHelo), t.ehlo);
}

TEST(ClientSessionTest, GreetingEhloReady) {
  Harness h;
  h.session.Start();
  auto a = h.Take();
  ASSERT_NE(FindTimer(a), nullptr);
  EXPECT_EQ(FindTimer(a)->phase, Phase::kConnect);
  h.session.OnConnected();
  a = h.Take();
  ASSERT_NE(FindTimer(a), nullptr);
  EXPECT_EQ(FindTimer(a)->phase, Phase::kBanner);
  EXPECT_EQ(FindTimer(a)->timeout, std::chrono::minutes(5));
  h.session.OnBytes("220 mx.example ESMTP\r\n");
  a = h.Take();
  ASSERT_EQ(a[0].kind, Kind::kWrite);
  EXPECT_EQ(a[0].bytes, "EHLO client.example\r\n");
  EXPECT_EQ(FindTimer(a)->phase, Phase::kEhlo);
  h.session.OnBytes(kEhloPipelining);
  a = h.Take();
  ASSERT_EQ(a.size(), 1u);
  EXPECT_EQ(a[0].kind, Kind::kReady);
  EXPECT_TRUE(h.session.capabilities().pipelining);
  EXPECT_EQ(h.session.capabilities().size, 10000000u);
}

TEST(ClientSessionTest, BannerRefusedFailsQueuedAndLaterRecipients) {
  Harness h;
  h.session.Start();
  h.session.OnConnected();
  h.session.Submit(Txn(1, {"a@x.example", "b@x.example"}));  // queued before ready
  EXPECT_EQ(h.Feed("554 5.7.1 no service for you\r\n"), "QUIT\r\n");
  ASSERT_EQ(h.results.size(), 2u);
  for (const Action& r : h.results) {
    EXPECT_EQ(r.reply.code, 554);
    EXPECT_EQ(r.phase, Phase::kBanner);
    EXPECT_FALSE(r.reply.local);
  }
  ASSERT_TRUE(h.session.failure());
  EXPECT_EQ(h.session.failure_phase(), Phase::kBanner);
  h.session.Submit(Txn(2, {"c@x.example"}));
  h.Take();
  ASSERT_NE(h.LastResult(2, 0), nullptr);
  EXPECT_EQ(h.LastResult(2, 0)->reply.code, 554);
  h.session.OnBytes("221 bye\r\n");
  h.Take();
  EXPECT_TRUE(h.session.finished());
  EXPECT_EQ(h.closes, 1);
}

TEST(ClientSessionTest, Banner421ClosesWithoutQuit) {
  Harness h;
  h.session.OnConnected();
  h.Take();
  EXPECT_EQ(h.Feed("421 4.7.0 too many connections\r\n"), "");
  EXPECT_TRUE(h.session.finished());
  EXPECT_TRUE(h.LastIs(Kind::kClose));
}

TEST(ClientSessionTest, EhloRefusedFallsBackToHelo) {
  Harness h;
  h.session.OnConnected();
  h.Take();
  EXPECT_EQ(h.Feed("220 old.example SMTP\r\n"), "EHLO client.example\r\n");
  EXPECT_EQ(h.Feed("502 5.5.2 command not recognized\r\n"), "HELO client.example\r\n");
  h.Feed("250 old.example\r\n");
  EXPECT_TRUE(h.LastIs(Kind::kReady));
  EXPECT_FALSE(h.session.capabilities().esmtp);
  EXPECT_FALSE(h.session.capabilities().pipelining);
  // Without PIPELINING: one command per reply.
  h.session.Submit(Txn(1, {"a@x.example", "b@x.example"}));
  EXPECT_EQ(h.Written(), "MAIL FROM:<bounce@sender.example>\r\n");
  EXPECT_EQ(h.Feed("250 ok\r\n"), "RCPT TO:<a@x.example>\r\n");
  EXPECT_EQ(h.Feed("250 ok\r\n"), "RCPT TO:<b@x.example>\r\n");
  EXPECT_EQ(h.Feed("550 no such user\r\n"), "DATA\r\n");
  EXPECT_EQ(h.Feed("354 go\r\n"), "Subject: hi\r\n\r\nhello\r\n.\r\n");
  h.Feed("250 queued\r\n");
  EXPECT_EQ(h.LastResult(1, 0)->reply.code, 250);
  EXPECT_EQ(h.LastResult(1, 0)->phase, Phase::kEndOfData);
  EXPECT_EQ(h.LastResult(1, 1)->reply.code, 550);
  EXPECT_EQ(h.LastResult(1, 1)->phase, Phase::kRcpt);
  EXPECT_TRUE(h.LastIs(Kind::kReady));
}

TEST(ClientSessionTest, EhloTransientFailureFailsSession) {
  Harness h;
  h.session.OnConnected();
  h.Take();
  h.Feed("220 hi\r\n");
  EXPECT_EQ(h.Feed("451 4.3.0 try later\r\n"), "QUIT\r\n");
  EXPECT_EQ(h.session.failure()->code, 451);
  EXPECT_EQ(h.session.failure_phase(), Phase::kEhlo);
}

SessionParams TlsParams(TlsMode mode) {
  SessionParams p = DefaultParams();
  p.tls = mode;
  return p;
}

TEST(ClientSessionTest, OpportunisticStartTlsWhenOffered) {
  Harness h(TlsParams(TlsMode::kOpportunistic));
  EXPECT_EQ(h.Greet("250-mx\r\n250-STARTTLS\r\n250 PIPELINING\r\n"), "STARTTLS\r\n");
  h.session.OnBytes("220 2.0.0 ready to start TLS\r\n");
  auto a = h.Take();
  ASSERT_GE(a.size(), 1u);
  EXPECT_EQ(a[0].kind, Kind::kStartTls);
  EXPECT_EQ(FindTimer(a)->phase, Phase::kTlsHandshake);
  EXPECT_EQ(FindTimer(a)->timeout, std::chrono::minutes(1));
  EXPECT_FALSE(h.session.capabilities().esmtp == false);
  h.session.OnTlsReady(TlsInfo{"TLSv1.3", "TLS_AES_256_GCM_SHA384", true});
  EXPECT_EQ(h.Written(), "EHLO client.example\r\n");  // EHLO again after TLS
  EXPECT_FALSE(h.session.capabilities().pipelining);  // forgotten until the new EHLO
  h.Feed("250-mx\r\n250 PIPELINING\r\n");
  EXPECT_TRUE(h.LastIs(Kind::kReady));
  ASSERT_TRUE(h.session.tls());
  EXPECT_EQ(h.session.tls()->version, "TLSv1.3");
}

TEST(ClientSessionTest, OpportunisticWithoutStartTlsStaysPlain) {
  Harness h(TlsParams(TlsMode::kOpportunistic));
  EXPECT_EQ(h.Greet(kEhloPipelining), "");
  EXPECT_TRUE(h.LastIs(Kind::kReady));
  EXPECT_FALSE(h.session.tls());
}

TEST(ClientSessionTest, OpportunisticStartTlsRefusedContinuesPlain) {
  Harness h(TlsParams(TlsMode::kOpportunistic));
  h.Greet("250-mx\r\n250 STARTTLS\r\n");
  EXPECT_EQ(h.Feed("454 4.7.0 TLS not available\r\n"), "");
  EXPECT_TRUE(h.LastIs(Kind::kReady));
}

TEST(ClientSessionTest, RequiredTlsNotOfferedFailsLocally) {
  Harness h(TlsParams(TlsMode::kRequired));
  h.session.Start();
  h.session.OnConnected();
  h.Take();
  h.session.Submit(Txn(7, {"a@x.example"}));
  h.Feed("220 hi\r\n");
  EXPECT_EQ(h.Feed(kEhloPipelining), "QUIT\r\n");  // no downgrade: never a MAIL
  ASSERT_EQ(h.results.size(), 1u);
  const Reply& r = h.results[0].reply;
  EXPECT_EQ(r.code, 454);
  EXPECT_EQ(r.enhanced, "4.7.0");
  EXPECT_TRUE(r.local);
  EXPECT_NE(r.Text().find("TLS required"), std::string::npos);
  EXPECT_EQ(h.results[0].phase, Phase::kStartTls);
}

TEST(ClientSessionTest, RequiredTlsRefusedFailsLocally) {
  Harness h(TlsParams(TlsMode::kRequired));
  h.Greet("250-mx\r\n250 STARTTLS\r\n");
  EXPECT_EQ(h.Feed("554 5.7.0 no\r\n"), "QUIT\r\n");
  EXPECT_EQ(h.session.failure()->code, 454);  // local 4xx: never bounce for our own policy
  EXPECT_TRUE(h.session.failure()->local);
}

TEST(ClientSessionTest, TlsHandshakeFailureFailsWithoutDowngrade) {
  for (TlsMode mode : {TlsMode::kRequired, TlsMode::kOpportunistic}) {
    Harness h(TlsParams(mode));
    h.Greet("250-mx\r\n250 STARTTLS\r\n");
    h.Feed("220 go\r\n");
    h.session.OnTlsFailed("certificate verify failed");
    EXPECT_EQ(h.Written(), "");
    EXPECT_TRUE(h.session.finished());
    EXPECT_EQ(h.session.failure()->code, 454);
    EXPECT_EQ(h.session.failure_phase(), Phase::kTlsHandshake);
  }
}

TEST(ClientSessionTest, PlaintextAfterStartTlsReplyIsRejected) {
  Harness h(TlsParams(TlsMode::kOpportunistic));
  h.Greet("250-mx\r\n250 STARTTLS\r\n");
  EXPECT_EQ(h.Feed("220 go\r\n250 injected\r\n"), "");
  EXPECT_TRUE(h.session.finished());
  EXPECT_EQ(h.session.failure()->code, 451);
  EXPECT_EQ(h.session.failure_phase(), Phase::kStartTls);
}

TEST(ClientSessionTest, ImplicitTlsSkipsStartTlsAndAllowsAuth) {
  SessionParams p = TlsParams(TlsMode::kImplicit);
  p.auth = AuthCredentials{"user", "secret"};
  Harness h(p);
  EXPECT_EQ(h.Greet("250-mx\r\n250-STARTTLS\r\n250 AUTH PLAIN\r\n"),
            "AUTH PLAIN AHVzZXIAc2VjcmV0\r\n");
}

SessionParams AuthParams(bool requires_tls) {
  SessionParams p = TlsParams(TlsMode::kRequired);
  p.auth = AuthCredentials{"user", "secret"};
  p.auth_requires_tls = requires_tls;
  return p;
}

void GetToTls(Harness& h, std::string_view auth_line) {
  h.Greet("250-mx\r\n250 STARTTLS\r\n");
  h.Feed("220 go\r\n");
  h.session.OnTlsReady(TlsInfo{"TLSv1.3", "x", true});
  EXPECT_EQ(h.Written(), "EHLO client.example\r\n");
  h.session.OnBytes("250-mx\r\n250-PIPELINING\r\n250 " + std::string(auth_line) + "\r\n");
}

TEST(ClientSessionTest, AuthPlainAfterTls) {
  Harness h(AuthParams(true));
  GetToTls(h, "AUTH LOGIN PLAIN");
  // base64("\0user\0secret")
  EXPECT_EQ(h.Written(), "AUTH PLAIN AHVzZXIAc2VjcmV0\r\n");
  h.Feed("235 2.7.0 Authentication successful\r\n");
  EXPECT_TRUE(h.LastIs(Kind::kReady));
}

TEST(ClientSessionTest, AuthLoginAfterTls) {
  Harness h(AuthParams(true));
  GetToTls(h, "AUTH=LOGIN");
  EXPECT_EQ(h.Written(), "AUTH LOGIN\r\n");
  EXPECT_EQ(h.Feed("334 VXNlcm5hbWU6\r\n"), "dXNlcg==\r\n");
  EXPECT_EQ(h.Feed("334 UGFzc3dvcmQ6\r\n"), "c2VjcmV0\r\n");
  h.Feed("235 ok\r\n");
  EXPECT_TRUE(h.LastIs(Kind::kReady));
}

TEST(ClientSessionTest, AuthRejectedFailsWithThatReply) {
  Harness h(AuthParams(true));
  GetToTls(h, "AUTH PLAIN");
  h.Take();
  EXPECT_EQ(h.Feed("535 5.7.8 Authentication credentials invalid\r\n"), "QUIT\r\n");
  EXPECT_EQ(h.session.failure()->code, 535);
  EXPECT_FALSE(h.session.failure()->local);
  EXPECT_EQ(h.session.failure_phase(), Phase::kAuth);
}

TEST(ClientSessionTest, AuthWithoutSupportedMechanismFails) {
  Harness h(AuthParams(true));
  GetToTls(h, "AUTH CRAM-MD5 XOAUTH2");
  EXPECT_EQ(h.Written(), "QUIT\r\n");
  EXPECT_EQ(h.session.failure()->code, 454);
  EXPECT_EQ(h.session.failure_phase(), Phase::kAuth);
}

TEST(ClientSessionTest, AuthRefusedInPlaintext) {
  SessionParams p = DefaultParams();  // TlsMode::kNone
  p.auth = AuthCredentials{"user", "secret"};
  Harness h(p);
  std::string written = h.Greet("250-mx\r\n250 AUTH PLAIN LOGIN\r\n");
  EXPECT_EQ(written, "QUIT\r\n");
  EXPECT_EQ(written.find("AUTH"), std::string::npos);
  EXPECT_EQ(h.session.failure()->code, 454);
  EXPECT_TRUE(h.session.failure()->local);
}

// Issue 11 item 3: credentials only over TLS whose certificate verified.
TEST(ClientSessionTest, AuthNeedsAVerifiedCertificateWhenAsked) {
  SessionParams p = AuthParams(true);
  p.auth_requires_verified_tls = true;
  Harness h(p);
  h.Greet("250-mx\r\n250 STARTTLS\r\n");
  h.Feed("220 go\r\n");
  h.session.OnTlsReady(TlsInfo{"TLSv1.3", "x", /*verified=*/false});
  EXPECT_EQ(h.Written(), "EHLO client.example\r\n");
  std::string written = h.Feed("250-mx\r\n250 AUTH PLAIN LOGIN\r\n");
  EXPECT_EQ(written, "QUIT\r\n");
  ASSERT_TRUE(h.session.failure().has_value());
  EXPECT_EQ(h.session.failure()->code, 454);
  EXPECT_TRUE(h.session.failure()->local);
  EXPECT_EQ(h.session.failure_phase(), Phase::kAuth);
  EXPECT_NE(h.session.failure()->Text().find("not verified"), std::string::npos);

  // Verified: AUTH goes.
  Harness ok(p);
  GetToTls(ok, "AUTH PLAIN");
  EXPECT_EQ(ok.Written(), "AUTH PLAIN AHVzZXIAc2VjcmV0\r\n");
}

TEST(ClientSessionTest, FailedHandshakeWithCredentialsSaysWhyAuthWasNotSent) {
  SessionParams p = AuthParams(true);
  p.tls = TlsMode::kOpportunistic;
  p.auth_requires_verified_tls = true;
  Harness h(p);
  h.Greet("250-mx\r\n250 STARTTLS\r\n");
  h.Feed("220 go\r\n");
  h.session.OnTlsFailed("certificate verify failed");
  ASSERT_TRUE(h.session.failure().has_value());
  EXPECT_EQ(h.session.failure_phase(), Phase::kTlsHandshake);
  EXPECT_NE(h.session.failure()->Text().find("not sending AUTH"), std::string::npos)
      << h.session.failure()->ToString();
}

TEST(ClientSessionTest, AuthInPlaintextWhenAllowed) {
  SessionParams p = DefaultParams();
  p.auth = AuthCredentials{"user", "secret"};
  p.auth_requires_tls = false;
  Harness h(p);
  EXPECT_EQ(h.Greet("250-mx\r\n250 AUTH PLAIN LOGIN\r\n"), "AUTH PLAIN AHVzZXIAc2VjcmV0\r\n");
}

}  // namespace
}  // namespace postino::smtp
