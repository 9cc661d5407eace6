// session_harness.h: drives a ClientSession with strings in tests and checks
// every write it emits (CRLF only, no line over 998 octets + transparency dot).
#pragma once

#include <gtest/gtest.h>

#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "engine/smtp/client_session.h"

namespace postino::smtp::testing {

// Fails the test when `bytes` has a bare CR, a bare LF or a line longer than
// 999 octets (998 + a transparency dot).
inline void CheckWire(const std::string& bytes) {
  size_t line_start = 0;
  for (size_t i = 0; i < bytes.size(); ++i) {
    if (bytes[i] == '\r') {
      ASSERT_TRUE(i + 1 < bytes.size() && bytes[i + 1] == '\n') << "bare CR at " << i;
    } else if (bytes[i] == '\n') {
      ASSERT_TRUE(i > 0 && bytes[i - 1] == '\r') << "bare LF at " << i;
      ASSERT_LE(i - 1 - line_start, 999u) << "line too long";
      line_start = i + 1;
    }
  }
  ASSERT_EQ(line_start, bytes.size()) << "write does not end with CRLF";
}

inline std::shared_ptr<const std::string> Body(std::string s) {
  return std::make_shared<const std::string>(std::move(s));
}

inline Transaction Txn(uint64_t id, std::vector<std::string> rcpts,
                       std::string data = "Subject: hi\r\n\r\nhello\r\n",
                       std::string from = "bounce@sender.example") {
  Transaction t;
  t.id = id;
  t.mail_from = std::move(from);
  t.rcpts = std::move(rcpts);
  t.data = Body(std::move(data));
  return t;
}

inline SessionParams DefaultParams() {
  SessionParams p;
  p.helo_name = "client.example";
  p.tls = TlsMode::kNone;
  return p;
}

// The last timer armed in `actions`: the one that is running.
inline const Action* FindTimer(const std::vector<Action>& actions) {
  const Action* found = nullptr;
  for (const Action& a : actions) {
    if (a.kind == Action::Kind::kArmTimer) found = &a;
  }
  return found;
}

struct Harness {
  explicit Harness(SessionParams p = DefaultParams()) : session(std::move(p)) {}

  // Drains the session's actions, checks them and records them.
  std::vector<Action> Take() {
    std::vector<Action> actions = session.TakeActions();
    for (const Action& a : actions) {
      if (a.kind == Action::Kind::kWrite) CheckWire(a.bytes);
      if (a.kind == Action::Kind::kRecipientResult) {
        int& n = result_count[{a.txn_id, a.rcpt_index}];
        ++n;
        EXPECT_EQ(n, 1) << "second result for txn " << a.txn_id << " rcpt " << a.rcpt_index;
        results.push_back(a);
      }
      if (a.kind == Action::Kind::kClose) ++closes;
      if (a.kind == Action::Kind::kReady) ++readies;
      all.push_back(a);
    }
    return actions;
  }
  // The concatenated bytes of the kWrite actions emitted since the last call.
  std::string Written() {
    std::string out;
    for (const Action& a : Take()) {
      if (a.kind == Action::Kind::kWrite) out += a.bytes;
    }
    return out;
  }
  // Number of kWrite actions emitted since the last call.
  int CountWrites(const std::vector<Action>& actions) {
    int n = 0;
    for (const Action& a : actions) n += a.kind == Action::Kind::kWrite;
    return n;
  }
  std::string Feed(std::string_view bytes) {
    session.OnBytes(bytes);
    return Written();
  }
  // Start, connect, greet, EHLO with `ehlo_reply`; returns what was written after EHLO.
  std::string Greet(std::string_view ehlo_reply) {
    session.Start();
    session.OnConnected();
    EXPECT_EQ(Feed("220 mx.example ESMTP\r\n"), "EHLO client.example\r\n");
    return Feed(ehlo_reply);
  }
  const Action* LastResult(uint64_t txn, size_t rcpt) const {
    const Action* found = nullptr;
    for (const Action& a : results) {
      if (a.txn_id == txn && a.rcpt_index == rcpt) found = &a;
    }
    return found;
  }
  bool LastIs(Action::Kind kind) const { return !all.empty() && all.back().kind == kind; }

  ClientSession session;
  std::vector<Action> all;
  std::vector<Action> results;
  std::map<std::pair<uint64_t, size_t>, int> result_count;
  int closes = 0;
  int readies = 0;
};

inline constexpr std::string_view kEhloPipelining =
    "250-mx.example\r\n250-PIPELINING\r\n250-SIZE 10000000\r\n250-8BITMIME\r\n"
    "250-SMTPUTF8\r\n250 ENHANCEDSTATUSCODES\r\n";
inline constexpr std::string_view kEhloPlain = "250-mx.example\r\n250 8BITMIME\r\n";

}  // namespace postino::smtp::testing
