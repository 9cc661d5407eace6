// server_session_impl.h: internal state of ServerSession, shared by its
// source files: server_session.cc (input, commands, EHLO/STARTTLS/AUTH),
// server_session_mail.cc (MAIL/RCPT and their parameters) and
// server_session_data.cc (the DATA stream). Only engine/smtp includes it.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "engine/smtp/server_session.h"

namespace postino::smtp {

inline ServerAction MakeAction(ServerAction::Kind kind, std::string bytes = {}) {
  ServerAction a;
  a.kind = kind;
  a.bytes = std::move(bytes);
  return a;
}

class ServerSession::Impl {
 public:
  enum class State {
    kStart,      // not connected yet
    kCommand,    // reading command lines
    kAuthPlain,  // AUTH PLAIN sent 334, waiting for the response line
    kAuthUser,   // AUTH LOGIN: waiting for the user name
    kAuthPass,   // AUTH LOGIN: waiting for the password
    kAuthWait,   // kVerifyAuth queued
    kData,       // reading the message after 354
    kStoreWait,  // kMessage queued
    kTlsWait,    // 220 sent to STARTTLS, waiting for the handshake
    kClosed,
  };

  Impl(ServerParams params, ServerPolicy* policy);

  void OnConnected();
  void OnBytes(std::string_view bytes);
  void OnTlsReady();
  void OnAuthResult(bool ok, std::optional<ServerReply> reply);
  void OnMessageResult(const ServerReply& reply);
  void OnTimeout();
  void Shutdown(const ServerReply& reply);

  // Consumes complete lines from in_ while the state allows it.
  void Process();
  void Command(std::string_view line);
  void Ehlo(std::string_view arg, bool extended);
  void StartTls(std::string_view arg);
  void Auth(std::string_view arg);
  void AuthLine(std::string_view line);
  void AuthPlain(std::string_view b64);
  void Mail(std::string_view arg);
  void Rcpt(std::string_view arg);
  void Data(std::string_view arg);
  // Scans in_ as message text; returns true when the final "." was seen.
  bool ScanData();
  void FinishData();

  void Reply(int code, std::string_view enhanced, std::string_view text);
  void Reply(const ServerReply& r);
  void Close();
  void ResetTransaction();
  void Enter(State s) {
    if (state_ != State::kClosed) state_ = s;
  }
  // Queues the replies written so far as one kWrite.
  void Flush() {
    if (out_.empty()) return;
    actions_.push_back(MakeAction(ServerAction::Kind::kWrite, std::move(out_)));
    out_.clear();
  }

  ServerParams params_;
  ServerPolicy* policy_;
  State state_ = State::kStart;
  std::vector<ServerAction> actions_;
  std::string out_;  // replies not yet queued as one kWrite
  std::string in_;   // unconsumed input
  size_t in_pos_ = 0;
  bool discard_line_ = false;  // skipping the rest of an overlong command line

  bool tls_ = false;
  std::string helo_;
  bool esmtp_ = false;
  std::string auth_user_;
  std::string login_user_;  // AUTH LOGIN: the user name until the password arrives
  size_t commands_ = 0;
  size_t errors_ = 0;
  size_t accepted_ = 0;

  bool in_transaction_ = false;  // MAIL accepted
  ServerEnvelope env_;

  // DATA stream state.
  std::string data_;
  bool line_start_ = true;  // the next byte begins a line (the previous ended in CRLF)
  size_t line_len_ = 0;     // octets of the current line so far
  bool bare_newline_ = false;
  bool line_too_long_ = false;
  bool too_big_ = false;
  uint64_t data_size_ = 0;
};

// RFC 4648 base64 decoding (padding required, no white space); false when
// malformed.
bool DecodeBase64(std::string_view in, std::string* out);
std::string EncodeBase64(std::string_view in);

}  // namespace postino::smtp
