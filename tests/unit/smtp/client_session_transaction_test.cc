// client_session_transaction_test.cc: the SMTP client's transactions driven
// with strings: pipelined and sequential MAIL/RCPT/DATA, rejected recipients,
// RSET, max_transactions and QUIT, queued submits, SMTPUTF8/8BITMIME/SIZE
// parameters, local rejects of unsafe input and the body on the wire.
#include <gtest/gtest.h>

#include "engine/smtp/client_session.h"
#include "tests/unit/smtp/session_harness.h"

namespace postino::smtp {
namespace {

using testing::DefaultParams;
using testing::FindTimer;
using testing::Harness;
using testing::kEhloPipelining;
using testing::kEhloPlain;
using testing::Txn;
using Kind = Action::Kind;

const Action* FindWrite(const std::vector<Action>& actions) {
  for (const Action& a : actions) {
    if (a.kind == Kind::kWrite) return &a;
  }
  return nullptr;
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

}  // namespace
}  // namespace postino::smtp
