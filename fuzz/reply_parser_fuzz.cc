// reply_parser_fuzz.cc: libFuzzer target. Arbitrary bytes, split at
// fuzzer-chosen points, go to a ReplyParser and, as the server side of a
// whole conversation, to a ClientSession (greeting, EHLO, STARTTLS, AUTH,
// pipelined transactions, QUIT). Checks: no crash, bounded memory, every
// write is CRLF-clean, every recipient gets exactly one result.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <utility>

#include "engine/smtp/client_session.h"
#include "engine/smtp/reply_parser.h"
#include "fuzz_reader.h"  // fuzz/, beside this file

namespace {

using postino::smtp::Action;
using postino::smtp::ClientSession;
using postino::smtp::ReplyParser;
using postino::smtp::SessionParams;
using postino::smtp::Transaction;

void Check(bool ok) {
  if (!ok) std::abort();
}

void CheckWrite(const std::string& bytes) {
  size_t line_start = 0;
  for (size_t i = 0; i < bytes.size(); ++i) {
    if (bytes[i] == '\r') Check(i + 1 < bytes.size() && bytes[i + 1] == '\n');
    if (bytes[i] == '\n') {
      Check(i > 0 && bytes[i - 1] == '\r');
      Check(i - 1 - line_start <= 999);
      line_start = i + 1;
    }
  }
  Check(line_start == bytes.size());
}

// Splits the input: each chunk is [len byte][len bytes]; len 0 means
// "inject an event" chosen by the next byte.

using postino::fuzz::Reader;

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  // 1. The parser alone, whole input split at fuzzer-chosen points.
  {
    ReplyParser parser;
    Reader r{data, size};
    while (!r.Empty()) {
      size_t len = r.Byte();
      if (!parser.Feed(r.Chunk(len)).ok()) break;
      while (auto reply = parser.Next()) {
        Check(reply->code >= 200 && reply->code <= 599);
        Check(!reply->lines.empty());
      }
    }
  }
  // 2. A whole session with the input as the server side.
  Reader r{data, size};
  SessionParams params;
  params.helo_name = "fuzz.example";
  uint8_t config = r.Byte();
  params.tls = static_cast<postino::smtp::TlsMode>(config & 3);
  if (config & 4) params.auth = postino::smtp::AuthCredentials{"user", "pw"};
  params.auth_requires_tls = (config & 8) != 0;
  params.pipelining = (config & 16) != 0;
  params.max_transactions = 1 + ((config >> 5) & 3);
  ClientSession session(params);
  std::map<std::pair<uint64_t, size_t>, int> results;
  std::map<std::pair<uint64_t, size_t>, int> expected;
  uint64_t next_id = 1;
  auto submit = [&]() {
    Transaction t;
    t.id = next_id++;
    t.mail_from = "from@x.example";
    t.rcpts = {"a@x.example", "b@x.example", "c@x.example"};
    t.data = std::make_shared<const std::string>("Subject: x\r\n\r\n.line\r\nbody\n");
    for (size_t i = 0; i < t.rcpts.size(); ++i) expected[{t.id, i}] = 1;
    session.Submit(std::move(t));
  };
  int closes = 0;
  auto drain = [&]() {
    for (const Action& a : session.TakeActions()) {
      switch (a.kind) {
        case Action::Kind::kWrite:
          CheckWrite(a.bytes);
          break;
        case Action::Kind::kRecipientResult:
          Check(++results[{a.txn_id, a.rcpt_index}] == 1);
          break;
        case Action::Kind::kReady:
          if (next_id < 6)
            submit();
          else
            session.Quit();
          break;
        case Action::Kind::kStartTls:
          session.OnTlsReady(postino::smtp::TlsInfo{"TLSv1.3", "x", true});
          break;
        case Action::Kind::kClose:
          ++closes;
          break;
        case Action::Kind::kArmTimer:
          break;
      }
    }
  };
  session.Start();
  session.OnConnected();
  drain();
  while (!r.Empty() && !session.finished()) {
    size_t len = r.Byte();
    if (len == 0) {
      switch (r.Byte() % 6) {
        case 0:
          session.OnTimeout();
          break;
        case 1:
          session.OnClosed("fuzz");
          break;
        case 2:
          session.Abort("fuzz");
          break;
        case 3:
          session.OnTlsFailed("fuzz");
          break;
        case 4:
          submit();
          break;
        case 5:
          session.Quit();
          break;
      }
    } else {
      session.OnBytes(r.Chunk(len));
    }
    drain();
  }
  if (!session.finished()) session.Abort("end of input");
  drain();
  Check(closes == 1);
  for (const auto& [key, n] : expected) Check(results[key] == 1);
  Check(results.size() == expected.size());
  return 0;
}
