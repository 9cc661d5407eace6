// client_session_failure_test.cc: how the SMTP client session ends badly,
// driven with strings: connection loss (before and after the final dot), 421,
// garbage and unexpected replies, Abort, each phase's timeout, and replies
// split at every byte giving the same conversation.
#include <gtest/gtest.h>

#include "engine/smtp/client_session.h"
#include "tests/unit/smtp/session_harness.h"

namespace postino::smtp {
namespace {

using testing::DefaultParams;
using testing::Harness;
using testing::kEhloPipelining;
using testing::kEhloPlain;
using testing::Txn;
using Kind = Action::Kind;

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
