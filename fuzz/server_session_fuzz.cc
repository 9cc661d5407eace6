// server_session_fuzz.cc: libFuzzer target. Arbitrary bytes, split at
// fuzzer-chosen points and mixed with events (TLS ready, auth result,
// message result, timeout), drive a ServerSession as the client side.
// Checks: no crash, every write is CRLF-clean, memory bounded by the
// limits, no message stored that contains a bare CR or LF, exactly one
// close at most, nothing emitted after it.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "engine/smtp/server_session.h"
#include "fuzz_reader.h"  // fuzz/, beside this file

namespace {

using postino::smtp::ServerAction;
using postino::smtp::ServerParams;
using postino::smtp::ServerReply;
using postino::smtp::ServerSession;
using postino::smtp::ServerTls;

void Check(bool ok) {
  if (!ok) std::abort();
}

void CheckCrlfClean(const std::string& bytes) {
  for (size_t i = 0; i < bytes.size(); ++i) {
    if (bytes[i] == '\r') Check(i + 1 < bytes.size() && bytes[i + 1] == '\n');
    if (bytes[i] == '\n') Check(i > 0 && bytes[i - 1] == '\r');
  }
}


using postino::fuzz::Reader;

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  Reader r{data, size};
  uint8_t config = r.Byte();
  ServerParams params;
  params.hostname = "fuzz.test";
  params.tls = static_cast<ServerTls>(config % 3);
  params.auth_required = (config & 4) != 0;
  params.limits.max_message_size = 4096;
  params.limits.max_recipients = 5;
  params.limits.max_errors = 1 + ((config >> 3) & 15);
  params.limits.max_pending_input = 8192;
  ServerSession session(params, nullptr);
  int closes = 0;
  bool want_auth = false, want_store = false;
  auto drain = [&]() {
    for (ServerAction& a : session.TakeActions()) {
      Check(closes == 0);
      switch (a.kind) {
        case ServerAction::Kind::kWrite:
          CheckCrlfClean(a.bytes);
          break;
        case ServerAction::Kind::kClose:
          ++closes;
          break;
        case ServerAction::Kind::kStartTls:
          session.OnTlsReady();
          break;
        case ServerAction::Kind::kVerifyAuth:
          want_auth = true;
          break;
        case ServerAction::Kind::kMessage:
          Check(a.data.size() <= params.limits.max_message_size);
          Check(!a.envelope.rcpts.empty() && a.envelope.rcpts.size() <= 5);
          CheckCrlfClean(a.data);
          want_store = true;
          break;
      }
    }
  };
  session.OnConnected();
  drain();
  while (!r.Empty() && !session.closed()) {
    size_t len = r.Byte();
    if (len == 0) {
      switch (r.Byte() % 4) {
        case 0:
          if (want_auth) session.OnAuthResult((r.Byte() & 1) != 0);
          want_auth = false;
          break;
        case 1:
          if (want_store) session.OnMessageResult(ServerReply{250, "2.0.0", "ok"});
          want_store = false;
          break;
        case 2:
          if (want_store) session.OnMessageResult(ServerReply{451, "4.3.0", "later"});
          want_store = false;
          break;
        case 3:
          session.OnTimeout();
          break;
      }
    } else {
      session.OnBytes(r.Chunk(len));
    }
    drain();
  }
  Check(closes <= 1);
  return 0;
}
