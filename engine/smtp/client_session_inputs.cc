// client_session_inputs.cc: ClientSession::Impl's inputs from the driver
// (start, connected, bytes, TLS ready or failed, timeout, closed, Submit,
// Quit, Abort) and how a session fails: every pending recipient gets the
// failure's reply, then QUIT or close.
#include <string>
#include <utility>

#include "common/log.h"
#include "engine/smtp/client_session_impl.h"
#include "engine/smtp/commands.h"

namespace postino::smtp {

// ---- Inputs ----------------------------------------------------------------

void ClientSession::Impl::Start() {
  if (state_ == State::kInit) Enter(State::kConnecting);
}

void ClientSession::Impl::OnConnected() {
  if (state_ != State::kInit && state_ != State::kConnecting) return;
  if (params_.tls == TlsMode::kImplicit) tls_active_ = true;
  if (!IsSafeHeloName(params_.helo_name)) {
    // Configuration error: never put it on the wire.
    FailSession(LocalReply(451, "4.3.5", "invalid helo_name in configuration"), Phase::kConnect,
                /*send_quit=*/false);
    return;
  }
  Enter(State::kBanner);
}

void ClientSession::Impl::OnBytes(std::string_view bytes) {
  if (state_ == State::kClosed) return;
  Status st = parser_.Feed(bytes);
  while (state_ != State::kClosed) {
    std::optional<Reply> reply = parser_.Next();
    if (!reply) break;
    OnReply(*reply);
  }
  if (state_ != State::kClosed && !st.ok()) {
    Phase phase = Info(state_).phase;
    FailSession(LocalReply(451, "4.5.0",
                           "protocol error from the server during " +
                               std::string(PhaseName(phase)) + ": " + st.message()),
                phase, /*send_quit=*/false);
  }
}

void ClientSession::Impl::OnTlsReady(const TlsInfo& info) {
  if (state_ == State::kTlsHandshake) {
    tls_ = info;
    tls_active_ = true;
    caps_ = Capabilities();
    parser_.Clear();
    Enter(State::kEhlo);  // RFC 3207 §4.2: forget what was learnt, EHLO again
  } else if (params_.tls == TlsMode::kImplicit && state_ != State::kClosed) {
    tls_ = info;
    tls_active_ = true;
  }
}

void ClientSession::Impl::OnTlsFailed(std::string_view reason) {
  if (state_ != State::kTlsHandshake) return;
  // The connection is in an unknown state: no plaintext fallback on it.
  std::string text = "TLS handshake failed: " + std::string(reason);
  if (params_.auth && params_.auth_requires_verified_tls) {
    text = "not sending AUTH credentials: " + text +
           " (the route's credentials go only to a verified server; see "
           "auth_without_verified_tls)";
  }
  FailSession(LocalReply(454, "4.7.0", text), Phase::kTlsHandshake, /*send_quit=*/false);
}

Reply ClientSession::Impl::LostReply(std::string_view what, std::string_view detail) const {
  if (state_ == State::kEndOfData) {
    // The duplicate window: the final dot was sent, its reply never came.
    return LocalReply(451, "4.4.2",
                      std::string(what) +
                          " after the end of data; outcome unknown, the message may have been "
                          "delivered" +
                          std::string(detail));
  }
  if (state_ == State::kConnecting) {
    return LocalReply(451, "4.4.1", std::string(what) + " while connecting" + std::string(detail));
  }
  return LocalReply(451, "4.4.2",
                    std::string(what) + " during " + std::string(PhaseName(Info(state_).phase)) +
                        std::string(detail));
}

void ClientSession::Impl::OnTimeout() {
  switch (state_) {
    case State::kInit:
    case State::kReady:  // stale timer: nothing is awaited while idle
    case State::kClosed:
      return;
    case State::kQuit:
      Enter(State::kClosed);
      return;
    default:
      break;
  }
  Phase phase = Info(state_).phase;
  Reply reply = state_ == State::kConnecting
                    ? LocalReply(451, "4.4.1", "timeout connecting")
                    : LostReply("timeout waiting for " + std::string(PhaseName(phase)), "");
  FailSession(reply, phase, /*send_quit=*/false);
}

void ClientSession::Impl::OnClosed(std::string_view reason) {
  if (state_ == State::kClosed) return;
  if (state_ == State::kQuit) {
    Enter(State::kClosed);
    return;
  }
  Phase phase = Info(state_).phase;
  std::string detail;
  if (!reason.empty()) detail = ": " + std::string(reason);
  FailSession(LostReply("connection lost", detail), phase, /*send_quit=*/false);
}

void ClientSession::Impl::Submit(Transaction txn) {
  if (state_ == State::kClosed || state_ == State::kQuit) {
    Reply reply =
        failure_ ? *failure_ : LocalReply(451, "4.3.0", "session is closing; submit on another");
    Phase phase = failure_ ? failure_phase_ : Phase::kMail;
    for (size_t i = 0; i < txn.rcpts.size(); ++i) EmitResult(txn.id, i, reply, phase);
    return;
  }
  queued_.push_back(std::move(txn));
  if (state_ == State::kReady) GoIdle();
}

void ClientSession::Impl::Quit() {
  if (state_ == State::kClosed || state_ == State::kQuit) return;
  quit_requested_ = true;
  if (state_ == State::kInit || state_ == State::kConnecting) {
    FailPending(LocalReply(451, "4.3.0", "session ended before connecting"), Phase::kConnect);
    Enter(State::kClosed);
  } else if (state_ == State::kReady) {
    GoIdle();
  }
}

void ClientSession::Impl::Abort(std::string_view reason) {
  if (state_ == State::kClosed) return;
  FailSession(LocalReply(451, "4.3.0", "delivery aborted: " + std::string(reason)),
              Info(state_).phase, /*send_quit=*/false);
}

// ---- Failures --------------------------------------------------------------

void ClientSession::Impl::FailPending(const Reply& reply, Phase phase) {
  if (active_) {
    for (size_t i = 0; i < active_->rcpts.size(); ++i) {
      if (active_->rcpts[i] != RcptState::kDone) RecipientResult(i, reply, phase);
    }
    active_.reset();
  }
  while (!queued_.empty()) {
    const Transaction& txn = queued_.front();
    for (size_t i = 0; i < txn.rcpts.size(); ++i) EmitResult(txn.id, i, reply, phase);
    queued_.pop_front();
  }
}

void ClientSession::Impl::FailSession(const Reply& reply, Phase phase, bool send_quit) {
  if (!failure_) {
    failure_ = reply;
    failure_phase_ = phase;
  }
  log::DebugF(LogFields(), "smtp client: connection {} to {}: session failed in {}: {}",
              params_.log_connection, params_.log_host, PhaseName(phase), reply.ToString());
  FailPending(reply, phase);
  Enter(send_quit ? State::kQuit : State::kClosed);
}

}  // namespace postino::smtp
