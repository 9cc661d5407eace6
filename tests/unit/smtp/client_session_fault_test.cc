// client_session_fault_test.cc: the exactly-one-result property. A scripted
// SMTP server answers the session's commands, and at random points the test
// injects negative replies, 421, garbage, timeouts, connection loss, TLS
// failures, aborts and arbitrary byte splits. Whatever happens, every
// recipient of every submitted transaction gets exactly one kRecipientResult
// and the session always ends with exactly one kClose.
#include <gtest/gtest.h>

#include <random>
#include <string>

#include "engine/smtp/client_session.h"
#include "tests/unit/smtp/session_harness.h"

namespace postino::smtp {
namespace {

using testing::Harness;
using Kind = Action::Kind;

class FakeServer {
 public:
  FakeServer(std::mt19937& rng, int fault_per_mille)
      : rng_(rng), fault_per_mille_(fault_per_mille) {}

  bool Fault() { return static_cast<int>(rng_() % 1000) < fault_per_mille_; }
  uint32_t Pick(uint32_t n) { return rng_() % n; }

  // Consumes what the client wrote; appends the server's replies to out_.
  void Receive(const std::string& bytes) {
    in_ += bytes;
    size_t eol;
    while ((eol = in_.find("\r\n")) != std::string::npos) {
      std::string line = in_.substr(0, eol);
      in_.erase(0, eol + 2);
      if (in_data_) {
        if (line == ".") {
          in_data_ = false;
          Reply(Fault() ? "554 5.7.1 rejected\r\n"
                        : (Fault() ? "451 4.3.0 later\r\n" : "250 ok\r\n"));
        }
        continue;
      }
      Command(line);
    }
  }

  void Command(const std::string& line) {
    std::string verb = line.substr(0, 4);
    if (verb == "EHLO") {
      if (Fault()) return Reply("502 5.5.2 no EHLO\r\n");
      std::string r = "250-mx.example\r\n";
      if (Pick(2)) r += "250-PIPELINING\r\n";
      if (Pick(2)) r += "250-STARTTLS\r\n";
      if (Pick(4)) r += "250-AUTH PLAIN LOGIN\r\n";
      r += "250 8BITMIME\r\n";
      Reply(r);
    } else if (verb == "HELO") {
      Reply(Fault() ? "550 no\r\n" : "250 hi\r\n");
    } else if (verb == "STAR") {
      Reply(Fault() ? "454 4.7.0 no TLS\r\n" : "220 go\r\n");
      starttls_ = true;
    } else if (verb == "AUTH") {
      if (line.starts_with("AUTH LOGIN")) {
        login_steps_ = 2;
        Reply("334 VXNlcm5hbWU6\r\n");
      } else {
        Reply(Fault() ? "535 5.7.8 bad\r\n" : "235 ok\r\n");
      }
    } else if (verb == "MAIL") {
      accepted_ = 0;
      Reply(Fault() ? "451 4.3.0 later\r\n" : "250 ok\r\n");
    } else if (verb == "RCPT") {
      if (Fault()) {
        Reply(Pick(2) ? "550 5.1.1 unknown\r\n" : "450 4.2.0 later\r\n");
      } else {
        ++accepted_;
        Reply("250 ok\r\n");
      }
    } else if (verb == "DATA") {
      if (accepted_ == 0 && !Fault()) return Reply("554 5.5.1 no valid recipients\r\n");
      if (Fault()) return Reply("451 4.3.0 not now\r\n");
      in_data_ = true;
      Reply("354 go\r\n");
    } else if (verb == "RSET") {
      Reply(Fault() ? "500 what\r\n" : "250 ok\r\n");
    } else if (verb == "QUIT") {
      Reply("221 bye\r\n");
    } else if (login_steps_ > 0) {
      --login_steps_;
      Reply(login_steps_ > 0 ? "334 UGFzc3dvcmQ6\r\n" : (Fault() ? "535 bad\r\n" : "235 ok\r\n"));
    } else {
      Reply("500 5.5.1 unknown command\r\n");
    }
  }

  void Reply(std::string r) { out_ += r; }

  std::string in_;
  std::string out_;
  bool in_data_ = false;
  bool starttls_ = false;
  int accepted_ = 0;
  int login_steps_ = 0;

 private:
  std::mt19937& rng_;
  int fault_per_mille_;
};

void RunOne(uint32_t seed, int fault_per_mille) {
  std::mt19937 rng(seed);
  SessionParams params;
  params.helo_name = "client.example";
  params.tls = static_cast<TlsMode>(rng() % 4);
  if (rng() % 2) params.auth = AuthCredentials{"user", "pw"};
  params.auth_requires_tls = rng() % 2;
  params.pipelining = rng() % 4 != 0;
  params.max_transactions = 1 + rng() % 6;
  Harness h(params);
  FakeServer server(rng, fault_per_mille);
  std::map<std::pair<uint64_t, size_t>, bool> expected;
  uint64_t next_id = 1;
  auto submit = [&]() {
    size_t n = 1 + rng() % 5;
    std::vector<std::string> rcpts;
    for (size_t i = 0; i < n; ++i) {
      rcpts.push_back(rng() % 20 == 0 ? "bad\r\n@x" : "r" + std::to_string(i) + "@x.example");
      expected[{next_id, i}] = true;
    }
    std::string body = rng() % 30 == 0 ? std::string(1500, 'x') : "Subject: t\r\n\r\n.dot\r\n";
    h.session.Submit(testing::Txn(next_id++, rcpts, body));
  };

  h.session.Start();
  if (rng() % 10 == 0) submit();  // before connecting
  h.session.OnConnected();
  server.Reply(rng() % 20 == 0 ? "554 go away\r\n" : "220 mx.example ESMTP\r\n");
  const int kMaxSteps = 400;
  int step = 0;
  for (; step < kMaxSteps && !h.session.finished(); ++step) {
    for (const Action& a : h.Take()) {
      if (a.kind == Kind::kWrite) server.Receive(a.bytes);
      if (a.kind == Kind::kStartTls) {
        if (server.Fault()) {
          h.session.OnTlsFailed("handshake failure");
        } else {
          server.in_.clear();
          h.session.OnTlsReady(TlsInfo{"TLSv1.3", "x", true});
        }
      }
      if (a.kind == Kind::kReady) {
        if (next_id <= 12 && rng() % 8 != 0) {
          submit();
        } else {
          h.session.Quit();
        }
      }
    }
    if (h.session.finished()) break;
    // Inject a fault now and then.
    switch (rng() % 1000 < static_cast<uint32_t>(fault_per_mille) / 4 ? rng() % 7 : 99) {
      case 0:
        h.session.OnTimeout();
        continue;
      case 1:
        h.session.OnClosed("reset");
        continue;
      case 2:
        h.session.Abort("test abort");
        continue;
      case 3:
        server.out_ = "421 4.7.0 bye\r\n";
        break;
      case 4:
        server.out_ += "garbage\x01\r\n";
        break;
      case 5:
        submit();
        continue;  // submit at an arbitrary moment
      case 6:
        h.session.Quit();
        continue;
      default:
        break;
    }
    if (server.out_.empty()) {
      // Nothing to say: the client waits, its timer fires.
      h.session.OnTimeout();
      continue;
    }
    // Deliver the server's bytes in random pieces.
    size_t n = 1 + rng() % server.out_.size();
    std::string piece = server.out_.substr(0, n);
    server.out_.erase(0, n);
    h.session.OnBytes(piece);
  }
  ASSERT_LT(step, kMaxSteps) << "seed " << seed << ": session never finished";
  h.Take();
  // Submitting after the end still yields results.
  if (rng() % 4 == 0) {
    submit();
    h.Take();
  }
  EXPECT_EQ(h.closes, 1) << "seed " << seed;
  for (const auto& [key, unused] : expected) {
    auto it = h.result_count.find(key);
    ASSERT_TRUE(it != h.result_count.end())
        << "seed " << seed << ": no result for txn " << key.first << " rcpt " << key.second;
    ASSERT_EQ(it->second, 1) << "seed " << seed;
  }
  EXPECT_EQ(h.result_count.size(), expected.size()) << "seed " << seed;
}

TEST(ClientSessionFaultTest, ExactlyOneResultPerRecipientUnderRandomFaults) {
  for (uint32_t seed = 1; seed <= 3000; ++seed) {
    RunOne(seed, static_cast<int>(seed % 5) * 60);  // 0%..24% fault rate
    if (::testing::Test::HasFatalFailure()) return;
  }
}

}  // namespace
}  // namespace postino::smtp
