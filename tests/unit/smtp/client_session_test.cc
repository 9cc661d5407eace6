// client_session_test.cc: the SMTP client state machine driven with strings:
// greeting, EHLO/HELO, STARTTLS, AUTH, pipelined and sequential transactions,
// failures, timeouts, connection loss and the commands it puts on the wire.
#include "engine/smtp/client_session.h"

#include <gtest/gtest.h>

#include "engine/smtp/commands.h"
#include "tests/unit/smtp/session_harness.h"

namespace postino::smtp {
namespace {

using testing::Body;
using testing::DefaultParams;
using testing::Harness;
using testing::kEhloPipelining;
using testing::kEhloPlain;
using testing::Txn;
using Kind = Action::Kind;

// The last timer armed in `actions`: the one that is running.
const Action* FindTimer(const std::vector<Action>& actions) {
  const Action* found = nullptr;
  for (const Action& a : actions) {
    if (a.kind == Kind::kArmTimer) found = &a;
  }
  return found;
}

const Action* FindWrite(const std::vector<Action>& actions) {
  for (const Action& a : actions) {
    if (a.kind == Kind::kWrite) return &a;
  }
  return nullptr;
}

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

TEST(ClientSessionTest, PipelinedTransactionInOneWrite) {
  Harness h;
  h.Greet(kEhloPipelining);
  Transaction t = Txn(42, {"a@x.example", "b@x.example", "c@x.example"});
  t.eightbit = true;
  size_t size = t.data->size();
  h.session.Submit(t);
  auto actions = h.Take();
  ASSERT_EQ(h.CountWrites(actions), 1);
  EXPECT_EQ(actions[0].bytes, "MAIL FROM:<bounce@sender.example> SIZE=" + std::to_string(size) +
                                  " BODY=8BITMIME\r\nRCPT TO:<a@x.example>\r\n"
                                  "RCPT TO:<b@x.example>\r\nRCPT TO:<c@x.example>\r\nDATA\r\n");
  EXPECT_EQ(FindTimer(actions)->phase, Phase::kMail);
  // All replies at once, as a pipelining server may send them.
  actions = (h.session.OnBytes("250 2.1.0 ok\r\n250 2.1.5 ok\r\n250 2.1.5 ok\r\n"
                               "250 2.1.5 ok\r\n354 go ahead\r\n"),
             h.Take());
  ASSERT_EQ(h.CountWrites(actions), 1);
  EXPECT_EQ(FindTimer(actions)->phase, Phase::kEndOfData);
  h.Feed("250 2.0.0 queued as 123\r\n");
  ASSERT_EQ(h.results.size(), 3u);
  for (size_t i = 0; i < 3; ++i) {
    EXPECT_EQ(h.results[i].txn_id, 42u);
    EXPECT_EQ(h.results[i].rcpt_index, i);
    EXPECT_EQ(h.results[i].phase, Phase::kEndOfData);
    EXPECT_EQ(h.results[i].reply.ToString(), "250 2.0.0 queued as 123");
  }
  EXPECT_TRUE(h.LastIs(Kind::kReady));
  EXPECT_EQ(h.session.transactions_done(), 1);
}

TEST(ClientSessionTest, PipelinedSomeRecipientsRejected) {
  Harness h;
  h.Greet(kEhloPipelining);
  h.session.Submit(Txn(1, {"a@x.example", "bad@x.example", "c@x.example", "full@x.example"}));
  h.Take();
  // Replies arrive split at awkward places.
  h.Feed("250 ok\r\n250 ok\r\n550 5.1");
  h.Feed(".1 no such user\r\n250 ok\r\n452-4.2.2 mailbox full\r\n452 4.2.2 try later\r\n3");
  EXPECT_EQ(h.Feed("54 go\r\n"), "Subject: hi\r\n\r\nhello\r\n.\r\n");
  h.Feed("250 ok\r\n");
  EXPECT_EQ(h.LastResult(1, 0)->reply.code, 250);
  EXPECT_EQ(h.LastResult(1, 1)->reply.enhanced, "5.1.1");
  EXPECT_EQ(h.LastResult(1, 1)->phase, Phase::kRcpt);
  EXPECT_EQ(h.LastResult(1, 2)->reply.code, 250);
  EXPECT_EQ(h.LastResult(1, 3)->reply.code, 452);
  EXPECT_EQ(h.LastResult(1, 3)->reply.lines.size(), 2u);
  EXPECT_TRUE(h.LastIs(Kind::kReady));  // partial success: no RSET
}

TEST(ClientSessionTest, PipelinedAllRecipientsRejectedConsumesDataReplyThenRset) {
  Harness h;
  h.Greet(kEhloPipelining);
  h.session.Submit(Txn(1, {"a@x.example", "b@x.example"}));
  h.Take();
  EXPECT_EQ(h.Feed("250 ok\r\n550 5.1.1 no\r\n550 5.1.1 no\r\n554 5.5.1 no valid recipients\r\n"),
            "RSET\r\n");
  ASSERT_EQ(h.results.size(), 2u);
  for (const Action& r : h.results) EXPECT_EQ(r.phase, Phase::kRcpt);
  h.Feed("250 2.0.0 ok\r\n");
  EXPECT_TRUE(h.LastIs(Kind::kReady));
}

TEST(ClientSessionTest, AllRecipientsRejectedButServerSays354) {
  Harness h;
  h.Greet(kEhloPipelining);
  h.session.Submit(Txn(1, {"a@x.example"}));
  h.Take();
  EXPECT_EQ(h.Feed("250 ok\r\n550 no\r\n354 go\r\n"), ".\r\n");  // empty body, no message
  EXPECT_EQ(h.Feed("554 no valid recipients\r\n"), "RSET\r\n");
  ASSERT_EQ(h.results.size(), 1u);
  EXPECT_EQ(h.results[0].reply.code, 550);
}

// Issue 11 item 2: only 354 lets the body go; a 2xx to DATA used to be
// recorded as delivered though no body was sent.
TEST(ClientSessionTest, AnyReplyButThe354ToDataFailsTheTransaction) {
  for (std::string_view data_reply : {"250 2.0.0 ok\r\n", "220 hello\r\n", "334 what\r\n"}) {
    SCOPED_TRACE(std::string(data_reply));
    Harness h;
    h.Greet(kEhloPipelining);
    h.session.Submit(Txn(1, {"a@x.example", "b@x.example"}));
    h.Take();
    std::string written = h.Feed("250 ok\r\n250 ok\r\n250 ok\r\n" + std::string(data_reply));
    EXPECT_EQ(written, "RSET\r\n");  // never the body
    ASSERT_EQ(h.results.size(), 2u);
    for (const Action& r : h.results) {
      EXPECT_EQ(r.phase, Phase::kData);
      EXPECT_EQ(r.reply.code, 451) << r.reply.ToString();
      EXPECT_TRUE(r.reply.local);
      EXPECT_NE(r.reply.Text().find("instead of 354"), std::string::npos) << r.reply.ToString();
    }
  }
  // A real refusal keeps the server's reply.
  Harness h;
  h.Greet(kEhloPipelining);
  h.session.Submit(Txn(1, {"a@x.example"}));
  h.Take();
  h.Feed("250 ok\r\n250 ok\r\n554 5.6.0 no\r\n");
  ASSERT_EQ(h.results.size(), 1u);
  EXPECT_EQ(h.results[0].reply.code, 554);
  EXPECT_FALSE(h.results[0].reply.local);
}

TEST(ClientSessionTest, MailRejectedFailsEveryRecipient) {
  Harness h;
  h.Greet(kEhloPipelining);
  h.session.Submit(Txn(1, {"a@x.example", "b@x.example"}));
  h.Take();
  EXPECT_EQ(h.Feed("553 5.7.1 sender rejected\r\n503 5.5.1 need MAIL\r\n503 5.5.1 need MAIL\r\n"
                   "503 5.5.1 need MAIL\r\n"),
            "RSET\r\n");
  ASSERT_EQ(h.results.size(), 2u);
  for (const Action& r : h.results) {
    EXPECT_EQ(r.reply.code, 553);
    EXPECT_EQ(r.phase, Phase::kMail);
  }
}

TEST(ClientSessionTest, SequentialMailRejectedStopsAtOnce) {
  SessionParams p = DefaultParams();
  p.pipelining = false;  // even though the server offers it
  Harness h(p);
  h.Greet(kEhloPipelining);
  h.session.Submit(Txn(1, {"a@x.example", "b@x.example"}));
  EXPECT_EQ(h.Written(), "MAIL FROM:<bounce@sender.example> SIZE=22\r\n");
  EXPECT_EQ(h.Feed("451 4.3.0 later\r\n"), "RSET\r\n");
  EXPECT_EQ(h.results.size(), 2u);
}

TEST(ClientSessionTest, SequentialAllRcptsRejectedSkipsData) {
  Harness h;
  h.Greet(kEhloPlain);
  h.session.Submit(Txn(1, {"a@x.example"}));
  h.Take();
  EXPECT_EQ(h.Feed("250 ok\r\n"), "RCPT TO:<a@x.example>\r\n");
  EXPECT_EQ(h.Feed("550 no\r\n"), "RSET\r\n");
}

TEST(ClientSessionTest, DataRejectedGivesAcceptedRecipientsThatReply) {
  Harness h;
  h.Greet(kEhloPipelining);
  h.session.Submit(Txn(1, {"a@x.example", "b@x.example"}));
  h.Take();
  EXPECT_EQ(h.Feed("250 ok\r\n250 ok\r\n550 no\r\n451 4.3.0 not now\r\n"), "RSET\r\n");
  EXPECT_EQ(h.LastResult(1, 0)->reply.code, 451);
  EXPECT_EQ(h.LastResult(1, 0)->phase, Phase::kData);
  EXPECT_EQ(h.LastResult(1, 1)->reply.code, 550);
}

TEST(ClientSessionTest, RsetAfterEndOfDataFailureThenNextTransaction) {
  Harness h;
  h.Greet(kEhloPipelining);
  h.session.Submit(Txn(1, {"a@x.example"}));
  h.Take();
  h.Feed("250 ok\r\n250 ok\r\n354 go\r\n");
  EXPECT_EQ(h.Feed("554 5.7.1 spam\r\n"), "RSET\r\n");
  EXPECT_EQ(h.LastResult(1, 0)->reply.code, 554);
  h.Feed("250 ok\r\n");
  EXPECT_TRUE(h.LastIs(Kind::kReady));
  h.session.Submit(Txn(2, {"b@x.example"}));
  EXPECT_EQ(h.Written().substr(0, 10), "MAIL FROM:");
}

TEST(ClientSessionTest, MaxTransactionsThenQuit) {
  SessionParams p = DefaultParams();
  p.max_transactions = 3;
  Harness h(p);
  h.Greet(kEhloPipelining);
  for (uint64_t id = 1; id <= 3; ++id) {
    ASSERT_TRUE(h.LastIs(Kind::kReady));
    h.session.Submit(Txn(id, {"a@x.example"}));
    h.Take();
    std::string after = h.Feed("250 ok\r\n250 ok\r\n354 go\r\n");
    std::string last = h.Feed("250 ok\r\n");
    EXPECT_EQ(last, id == 3 ? "QUIT\r\n" : "");
  }
  EXPECT_EQ(h.session.transactions_done(), 3);
  EXPECT_EQ(h.readies, 3);  // after EHLO and after transactions 1 and 2
  h.Feed("221 bye\r\n");
  EXPECT_TRUE(h.LastIs(Kind::kClose));
  EXPECT_TRUE(h.session.finished());
  EXPECT_FALSE(h.session.failure());
  EXPECT_EQ(h.results.size(), 3u);
}

TEST(ClientSessionTest, QuitWhenIdleAndCloseDuringQuitIsClean) {
  Harness h;
  h.Greet(kEhloPipelining);
  h.session.Quit();
  auto a = h.Take();
  EXPECT_EQ(a[0].bytes, "QUIT\r\n");
  EXPECT_EQ(FindTimer(a)->phase, Phase::kQuit);
  h.session.OnClosed("eof");
  h.Take();
  EXPECT_TRUE(h.session.finished());
  EXPECT_FALSE(h.session.failure());
}

TEST(ClientSessionTest, QuitDuringTransactionWaitsForIt) {
  Harness h;
  h.Greet(kEhloPipelining);
  h.session.Submit(Txn(1, {"a@x.example"}));
  h.session.Quit();
  h.Take();
  h.Feed("250 ok\r\n250 ok\r\n354 go\r\n");
  EXPECT_EQ(h.Feed("250 ok\r\n"), "QUIT\r\n");
  EXPECT_EQ(h.results.size(), 1u);
}

TEST(ClientSessionTest, SubmitBeforeReadyIsQueued) {
  Harness h;
  h.session.OnConnected();
  h.session.Submit(Txn(1, {"a@x.example"}));
  h.session.Submit(Txn(2, {"b@x.example"}));
  h.Take();
  h.Feed("220 hi\r\n");
  std::string w = h.Feed(kEhloPipelining);
  EXPECT_EQ(w.substr(0, 10), "MAIL FROM:");
  EXPECT_EQ(h.readies, 0);
  h.Feed("250 ok\r\n250 ok\r\n354 go\r\n");
  EXPECT_NE(h.Feed("250 ok\r\n").find("RCPT TO:<b@x.example>"), std::string::npos);
}

TEST(ClientSessionTest, SmtpUtf8AndBodyParameters) {
  Harness h;
  h.Greet(kEhloPipelining);
  Transaction t = Txn(1, {"jos\xc3\xa9@x.example"});
  t.smtputf8 = true;
  t.eightbit = true;
  h.session.Submit(t);
  std::string w = h.Written();
  EXPECT_NE(w.find(" BODY=8BITMIME SMTPUTF8\r\n"), std::string::npos) << w;
}

TEST(ClientSessionTest, SmtpUtf8NeededButNotOfferedFailsLocally) {
  Harness h;
  h.Greet(kEhloPlain);
  Transaction t = Txn(1, {"jos\xc3\xa9@x.example"});
  t.smtputf8 = true;
  h.session.Submit(t);
  EXPECT_EQ(h.Written(), "");
  EXPECT_EQ(h.results[0].reply.enhanced, "5.6.7");
  EXPECT_TRUE(h.LastIs(Kind::kReady));
}

TEST(ClientSessionTest, MessageOverSizeLimitFailsLocally) {
  Harness h;
  h.Greet("250-mx\r\n250 SIZE 10\r\n");
  h.session.Submit(Txn(1, {"a@x.example"}));
  EXPECT_EQ(h.Written(), "");
  EXPECT_EQ(h.results[0].reply.code, 552);
  EXPECT_EQ(h.results[0].reply.enhanced, "5.3.4");
}

TEST(ClientSessionTest, UnsafeAddressesAreRejectedLocally) {
  Harness h;
  h.Greet(kEhloPipelining);
  h.session.Submit(Txn(1, {"ok@x.example", "evil@x.example>\r\nRSET", "a<b@x", "tab\t@x", ""}));
  std::string w = h.Written();
  EXPECT_EQ(w.find("evil"), std::string::npos);
  EXPECT_EQ(w.find("RCPT TO:<>"), std::string::npos);
  for (size_t i = 1; i <= 4; ++i) {
    ASSERT_NE(h.LastResult(1, i), nullptr) << i;
    EXPECT_EQ(h.LastResult(1, i)->reply.code, 501);
    EXPECT_EQ(h.LastResult(1, i)->reply.enhanced, "5.1.3");
    EXPECT_TRUE(h.LastResult(1, i)->reply.local);
  }
  h.Feed("250 ok\r\n250 ok\r\n354 go\r\n");
  h.Feed("250 ok\r\n");
  EXPECT_EQ(h.LastResult(1, 0)->reply.code, 250);

  h.session.Submit(Txn(2, {"a@x.example"}, "x\r\n", "bad\nsender@x"));
  EXPECT_EQ(h.Written(), "");
  EXPECT_EQ(h.LastResult(2, 0)->reply.enhanced, "5.1.7");
}

TEST(ClientSessionTest, UnsafeHeloNameNeverSent) {
  SessionParams p = DefaultParams();
  p.helo_name = "client\r\nMAIL FROM:<x>";
  Harness h(p);
  h.session.OnConnected();
  EXPECT_EQ(h.Written(), "");
  EXPECT_TRUE(h.session.finished());
}

TEST(ClientSessionTest, BodyIsDotStuffedInOneWrite) {
  Harness h;
  h.Greet(kEhloPipelining);
  h.session.Submit(Txn(1, {"a@x.example"}, "Subject: x\n\n.hidden\n.\nend"));
  h.Take();
  auto a = (h.session.OnBytes("250 ok\r\n250 ok\r\n354 go\r\n"), h.Take());
  ASSERT_EQ(h.CountWrites(a), 1);
  EXPECT_EQ(FindWrite(a)->bytes, "Subject: x\r\n\r\n..hidden\r\n..\r\nend\r\n.\r\n");
}

TEST(ClientSessionTest, OverlongMessageLineIsNeverSent) {
  Harness h;
  h.Greet(kEhloPipelining);
  h.session.Submit(Txn(1, {"a@x.example", "b@x.example"}, std::string(1200, 'x')));
  EXPECT_EQ(h.Written(), "");
  ASSERT_EQ(h.results.size(), 2u);
  EXPECT_EQ(h.results[0].reply.code, 554);
  EXPECT_TRUE(h.LastIs(Kind::kReady));
}

TEST(ClientSessionTest, CloseAfterFinalDotIsUnknownOutcome) {
  Harness h;
  h.Greet(kEhloPipelining);
  h.session.Submit(Txn(1, {"a@x.example", "b@x.example"}));
  h.Take();
  h.Feed("250 ok\r\n250 ok\r\n550 no\r\n354 go\r\n");
  h.session.OnClosed("connection reset by peer");
  h.Take();
  EXPECT_TRUE(h.LastIs(Kind::kClose));
  const Action* r = h.LastResult(1, 0);
  EXPECT_EQ(r->reply.code, 451);
  EXPECT_TRUE(r->reply.local);
  EXPECT_EQ(r->phase, Phase::kEndOfData);
  EXPECT_NE(r->reply.Text().find("outcome unknown"), std::string::npos);
  EXPECT_EQ(h.LastResult(1, 1)->reply.code, 550);  // already final, not reported twice
}

TEST(ClientSessionTest, CloseMidTransactionBeforeData) {
  Harness h;
  h.Greet(kEhloPipelining);
  h.session.Submit(Txn(1, {"a@x.example", "b@x.example"}));
  h.Take();
  h.Feed("250 ok\r\n250 ok\r\n");
  h.session.OnClosed("eof");
  h.Take();
  for (size_t i = 0; i < 2; ++i) {
    EXPECT_EQ(h.LastResult(1, i)->reply.ToString(), "451 4.4.2 connection lost during rcpt: eof");
    EXPECT_EQ(h.LastResult(1, i)->phase, Phase::kRcpt);
  }
}

TEST(ClientSessionTest, Reply421MidSessionFailsPendingAndCloses) {
  Harness h;
  h.Greet(kEhloPipelining);
  h.session.Submit(Txn(1, {"a@x.example", "b@x.example", "c@x.example"}));
  h.session.Submit(Txn(2, {"d@x.example"}));  // queued behind
  h.Take();
  EXPECT_EQ(h.Feed("250 ok\r\n550 no\r\n421 4.7.0 closing, too many errors\r\n"), "");
  EXPECT_TRUE(h.LastIs(Kind::kClose));
  EXPECT_EQ(h.LastResult(1, 0)->reply.code, 550);
  EXPECT_EQ(h.LastResult(1, 1)->reply.code, 421);
  EXPECT_EQ(h.LastResult(1, 1)->phase, Phase::kRcpt);
  EXPECT_EQ(h.LastResult(1, 2)->reply.code, 421);
  EXPECT_EQ(h.LastResult(2, 0)->reply.code, 421);
  EXPECT_EQ(h.results.size(), 4u);
}

TEST(ClientSessionTest, Unsolicited421WhileIdleCloses) {
  Harness h;
  h.Greet(kEhloPipelining);
  h.Feed("421 4.4.2 idle timeout\r\n");
  EXPECT_TRUE(h.session.finished());
  EXPECT_TRUE(h.results.empty());
}

TEST(ClientSessionTest, GarbageFromPeerFailsPendingWithLocal4xx) {
  Harness h;
  h.Greet(kEhloPipelining);
  h.session.Submit(Txn(1, {"a@x.example"}));
  h.Take();
  h.Feed("250 ok\r\nHTTP/1.1 400 Bad Request\r\n");
  EXPECT_TRUE(h.LastIs(Kind::kClose));
  const Action* r = h.LastResult(1, 0);
  EXPECT_EQ(r->reply.code, 451);
  EXPECT_EQ(r->reply.enhanced, "4.5.0");
  EXPECT_EQ(r->phase, Phase::kRcpt);
}

TEST(ClientSessionTest, OverlongReplyLineFailsPending) {
  Harness h;
  h.Greet(kEhloPipelining);
  h.session.Submit(Txn(1, {"a@x.example"}));
  h.Take();
  h.Feed("250 " + std::string(10000, 'x'));
  EXPECT_TRUE(h.session.finished());
  EXPECT_EQ(h.LastResult(1, 0)->reply.code, 451);
}

TEST(ClientSessionTest, UnexpectedReplyWhileIdleIsAProtocolError) {
  Harness h;
  h.Greet(kEhloPipelining);
  h.Feed("250 surprise\r\n");
  EXPECT_TRUE(h.session.finished());
  EXPECT_EQ(h.session.failure()->enhanced, "4.5.0");
}

TEST(ClientSessionTest, AbortFailsEverythingAndCloses) {
  Harness h;
  h.Greet(kEhloPipelining);
  h.session.Submit(Txn(1, {"a@x.example", "b@x.example"}));
  h.Take();
  h.session.Abort("engine shutting down");
  h.Take();
  EXPECT_TRUE(h.LastIs(Kind::kClose));
  EXPECT_EQ(h.results.size(), 2u);
  EXPECT_NE(h.results[0].reply.Text().find("engine shutting down"), std::string::npos);
  h.session.OnClosed("closed");  // the driver's close callback: nothing more
  h.Take();
  EXPECT_EQ(h.closes, 1);
}

TEST(ClientSessionTest, StaleTimeoutWhileIdleIsIgnored) {
  Harness h;
  h.Greet(kEhloPipelining);
  h.session.OnTimeout();
  h.Take();
  EXPECT_FALSE(h.session.finished());
}

// Each phase's timeout: the timer armed on entry carries the phase and its
// configured value; when it fires, pending recipients get a local 451.
struct TimeoutCase {
  Phase phase;
  void (*reach)(Harness&);
};

void ReachMail(Harness& h) {
  h.Greet(kEhloPipelining);
  h.session.Submit(Txn(1, {"a@x.example"}));
}
void ReachRcpt(Harness& h) {
  h.Greet(kEhloPlain);
  h.session.Submit(Txn(1, {"a@x.example"}));
  h.Take();
  h.session.OnBytes("250 ok\r\n");
}
void ReachData(Harness& h) {
  ReachRcpt(h);
  h.Take();
  h.session.OnBytes("250 ok\r\n");
}
void ReachEndOfData(Harness& h) {
  ReachData(h);
  h.Take();
  h.session.OnBytes("354 go\r\n");
}
void ReachRset(Harness& h) {
  ReachMail(h);
  h.Take();
  h.session.OnBytes("550 no\r\n550 no\r\n503 no\r\n");
}

TEST(ClientSessionTest, EveryPhaseTimesOut) {
  SessionParams p = DefaultParams();
  // Distinct values so a wrong mapping shows.
  p.timeouts.connect = std::chrono::milliseconds(1);
  p.timeouts.banner = std::chrono::milliseconds(2);
  p.timeouts.ehlo = std::chrono::milliseconds(3);
  p.timeouts.starttls = std::chrono::milliseconds(4);
  p.timeouts.tls_handshake = std::chrono::milliseconds(5);
  p.timeouts.auth = std::chrono::milliseconds(6);
  p.timeouts.mail = std::chrono::milliseconds(7);
  p.timeouts.rcpt = std::chrono::milliseconds(8);
  p.timeouts.data = std::chrono::milliseconds(9);
  p.timeouts.end_of_data = std::chrono::milliseconds(11);
  p.timeouts.rset = std::chrono::milliseconds(12);
  p.timeouts.quit = std::chrono::milliseconds(13);
  p.auth = AuthCredentials{"u", "p"};
  p.tls = TlsMode::kOpportunistic;
  const TimeoutCase cases[] = {
      {Phase::kConnect, [](Harness& h) { h.session.Start(); }},
      {Phase::kBanner, [](Harness& h) { h.session.OnConnected(); }},
      {Phase::kEhlo,
       [](Harness& h) {
         h.session.OnConnected();
         h.session.OnBytes("220 hi\r\n");
       }},
      {Phase::kStartTls, [](Harness& h) { h.Greet("250-mx\r\n250 STARTTLS\r\n"); }},
      {Phase::kTlsHandshake,
       [](Harness& h) {
         h.Greet("250-mx\r\n250 STARTTLS\r\n");
         h.session.OnBytes("220 go\r\n");
       }},
      {Phase::kAuth,
       [](Harness& h) {
         h.Greet("250-mx\r\n250 STARTTLS\r\n");
         h.session.OnBytes("220 go\r\n");
         h.session.OnTlsReady(TlsInfo{});
         h.session.OnBytes("250-mx\r\n250 AUTH PLAIN\r\n");
       }},
  };
  for (const TimeoutCase& c : cases) {
    Harness h(p);
    c.reach(h);
    h.Take();
    const Action* timer = nullptr;
    for (const Action& a : h.all) {
      if (a.kind == Kind::kArmTimer) timer = &a;
    }
    ASSERT_NE(timer, nullptr);
    EXPECT_EQ(timer->phase, c.phase) << PhaseName(c.phase);
    EXPECT_EQ(timer->timeout, p.timeouts.For(c.phase));
    h.session.OnTimeout();
    h.Take();
    EXPECT_TRUE(h.session.finished()) << PhaseName(c.phase);
    EXPECT_EQ(h.session.failure_phase(), c.phase);
    EXPECT_EQ(h.session.failure()->code, 451);
    EXPECT_TRUE(h.session.failure()->local);
  }
  // Transaction phases, with a recipient waiting.
  SessionParams q = p;
  q.auth.reset();
  q.tls = TlsMode::kNone;
  const TimeoutCase txn_cases[] = {
      {Phase::kMail, ReachMail},
      {Phase::kRcpt, ReachRcpt},
      {Phase::kData, ReachData},
      {Phase::kEndOfData, ReachEndOfData},
  };
  for (const TimeoutCase& c : txn_cases) {
    Harness h(q);
    c.reach(h);
    h.Take();
    EXPECT_EQ(h.all.back().kind, Kind::kArmTimer);
    EXPECT_EQ(h.all.back().phase, c.phase);
    EXPECT_EQ(h.all.back().timeout, q.timeouts.For(c.phase));
    h.session.OnTimeout();
    h.Take();
    const Action* r = h.LastResult(1, 0);
    ASSERT_NE(r, nullptr) << PhaseName(c.phase);
    EXPECT_EQ(r->phase, c.phase);
    EXPECT_EQ(r->reply.code, 451);
    EXPECT_EQ(r->reply.enhanced, "4.4.2");
    EXPECT_NE(r->reply.Text().find("timeout waiting for " + std::string(PhaseName(c.phase))),
              std::string::npos)
        << r->reply.Text();
    EXPECT_TRUE(h.LastIs(Kind::kClose));
  }
  {
    Harness h(q);
    ReachRset(h);
    h.Take();
    EXPECT_EQ(h.all.back().phase, Phase::kRset);
    EXPECT_EQ(h.all.back().timeout, q.timeouts.rset);
    h.session.OnTimeout();
    h.Take();
    EXPECT_EQ(h.session.failure_phase(), Phase::kRset);
  }
  {
    Harness h(q);
    h.Greet(kEhloPipelining);
    h.session.Quit();
    h.Take();
    EXPECT_EQ(h.all.back().timeout, q.timeouts.quit);
    h.session.OnTimeout();
    h.Take();
    EXPECT_TRUE(h.session.finished());
    EXPECT_FALSE(h.session.failure());  // a QUIT timeout is not a failure
  }
}

TEST(ClientSessionTest, EveryReplyResplitGivesTheSameConversation) {
  // The whole server side of a session, fed split at every byte position.
  const std::string server =
      "220 hi\r\n250-mx\r\n250-PIPELINING\r\n250 8BITMIME\r\n"
      "250 ok\r\n250 ok\r\n550 5.1.1 no\r\n354 go\r\n250-2.0.0 queued\r\n250 2.0.0 as X\r\n";
  for (size_t cut = 0; cut <= server.size(); ++cut) {
    Harness h;
    h.session.OnConnected();
    h.session.Submit(Txn(1, {"a@x.example", "b@x.example"}));
    h.session.OnBytes(std::string_view(server).substr(0, cut));
    h.session.OnBytes(std::string_view(server).substr(cut));
    h.Take();
    ASSERT_EQ(h.results.size(), 2u) << cut;
    EXPECT_EQ(h.LastResult(1, 0)->reply.ToString(), "250 2.0.0 queued 2.0.0 as X");
    EXPECT_EQ(h.LastResult(1, 1)->reply.enhanced, "5.1.1");
    EXPECT_TRUE(h.LastIs(Kind::kReady));
  }
}

}  // namespace
}  // namespace postino::smtp
