// client_session_replies.cc: ClientSession::Impl::OnReply, the next state
// for each reply (banner, EHLO with HELO fallback, STARTTLS, AUTH PLAIN and
// LOGIN, RSET, QUIT; transaction replies go to client_session_transaction.cc),
// and what follows the greeting: STARTTLS by TLS mode, then AUTH.
#include <string>

#include "engine/smtp/capabilities.h"
#include "engine/smtp/client_session_impl.h"

namespace postino::smtp {

// ---- Replies ---------------------------------------------------------------

void ClientSession::Impl::OnReply(const Reply& reply) {
  if (reply.code == 421 && state_ != State::kQuit) {
    // The server is closing the channel (RFC 5321 §3.8).
    FailSession(reply, Info(state_).phase, /*send_quit=*/false);
    return;
  }
  switch (state_) {
    case State::kInit:
    case State::kConnecting:
    case State::kBanner:
      if (reply.code >= 200 && reply.code < 300) {
        Enter(State::kEhlo);
      } else {
        FailSession(reply, Phase::kBanner, /*send_quit=*/true);
      }
      return;
    case State::kEhlo:
      if (reply.code >= 200 && reply.code < 300) {
        caps_ = ParseCapabilities(reply);
        AfterHello();
      } else if (reply.IsPermanent()) {
        Enter(State::kHelo);  // RFC 5321 §3.2: fall back to HELO
      } else {
        FailSession(reply, Phase::kEhlo, /*send_quit=*/true);
      }
      return;
    case State::kHelo:
      if (reply.code >= 200 && reply.code < 300) {
        caps_ = Capabilities();
        AfterHello();
      } else {
        FailSession(reply, Phase::kHelo, /*send_quit=*/true);
      }
      return;
    case State::kStartTls:
      if (reply.code == 220) {
        if (parser_.HasReply() || !parser_.Idle()) {
          // Plaintext sent after the STARTTLS reply would be read as if it
          // came through TLS (CVE-2011-0411 style injection).
          FailSession(LocalReply(451, "4.5.0",
                                 "protocol error from the server during starttls: data after "
                                 "the STARTTLS reply"),
                      Phase::kStartTls, /*send_quit=*/false);
          return;
        }
        Enter(State::kTlsHandshake);
      } else if (params_.tls == TlsMode::kRequired) {
        FailSession(LocalReply(454, "4.7.0",
                               "TLS required but the server refused STARTTLS: " + reply.ToString()),
                    Phase::kStartTls, /*send_quit=*/true);
      } else {
        starttls_refused_ = true;  // opportunistic: carry on in plaintext
        AfterTls();
      }
      return;
    case State::kTlsHandshake:
    case State::kReady:
      FailSession(LocalReply(451, "4.5.0",
                             "protocol error from the server during " +
                                 std::string(PhaseName(Info(state_).phase)) +
                                 ": unexpected reply " + reply.ToString()),
                  Info(state_).phase, /*send_quit=*/false);
      return;
    case State::kAuthPlain:
    case State::kAuthLoginPassword:
      if (reply.code >= 200 && reply.code < 300) {
        GoIdle();
      } else {
        FailSession(reply, Phase::kAuth, /*send_quit=*/true);
      }
      return;
    case State::kAuthLogin:
    case State::kAuthLoginUser:
      if (reply.code == 334) {
        Enter(state_ == State::kAuthLogin ? State::kAuthLoginUser : State::kAuthLoginPassword);
      } else {
        FailSession(reply, Phase::kAuth, /*send_quit=*/true);
      }
      return;
    case State::kMail:
    case State::kRcpt:
    case State::kData:
      OnTransactionReply(reply);
      return;
    case State::kEndOfData:
      OnEndOfDataReply(reply);
      return;
    case State::kRset:
      if (reply.code >= 200 && reply.code < 300) {
        GoIdle();
      } else {
        FailSession(LocalReply(451, "4.3.0", "server refused RSET: " + reply.ToString()),
                    Phase::kRset, /*send_quit=*/true);
      }
      return;
    case State::kQuit:
      Enter(State::kClosed);
      return;
    case State::kClosed:
    case State::kCount:
      return;
  }
}

void ClientSession::Impl::AfterHello() {
  if (!tls_active_) {
    if (params_.tls == TlsMode::kRequired) {
      if (!caps_.starttls) {
        FailSession(LocalReply(454, "4.7.0", "TLS required but STARTTLS not offered by the server"),
                    Phase::kStartTls, /*send_quit=*/true);
        return;
      }
      Enter(State::kStartTls);
      return;
    }
    if (params_.tls == TlsMode::kOpportunistic && caps_.starttls && !starttls_refused_) {
      Enter(State::kStartTls);
      return;
    }
  }
  AfterTls();
}

void ClientSession::Impl::AfterTls() {
  if (!params_.auth) {
    GoIdle();
    return;
  }
  if (params_.auth_requires_tls && !tls_active_) {
    FailSession(LocalReply(454, "4.7.0", "refusing to send credentials without TLS"), Phase::kAuth,
                /*send_quit=*/true);
  } else if (params_.auth_requires_verified_tls && !(tls_ && tls_->verified)) {
    FailSession(LocalReply(454, "4.7.0",
                           "refusing to send credentials: the server's TLS certificate was not "
                           "verified (set auth_without_verified_tls on the route to allow it)"),
                Phase::kAuth, /*send_quit=*/true);
  } else if (caps_.auth_plain) {
    Enter(State::kAuthPlain);
  } else if (caps_.auth_login) {
    Enter(State::kAuthLogin);
  } else {
    FailSession(LocalReply(454, "4.7.0",
                           "server offers no AUTH mechanism postino supports "
                           "(PLAIN, LOGIN)"),
                Phase::kAuth, /*send_quit=*/true);
  }
}

}  // namespace postino::smtp
