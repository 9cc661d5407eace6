// client_session_impl.h: ClientSession::Impl, the state machine behind the
// client_session.h facade, and the internal names its files share (State and
// its table, LocalReply, RcptState). Shape after OpenSMTPD's smtp_client.c:
// Enter() sends the command of the state it enters and arms that state's
// timer; OnReply() takes one complete reply and picks the next state.
// PIPELINING after Postfix's smtp_proto.c: a transaction is the command list
// [MAIL, RCPT..., DATA] with a send cursor and a receive cursor; with
// PIPELINING everything is sent at once, without it one command per reply.
// The methods are split by job over these files:
//   client_session.cc              phase names and timeouts, LocalReply,
//                                  Enter (the command each state sends), the
//                                  public wrappers
//   client_session_inputs.cc       the driver's inputs (connect, bytes, TLS,
//                                  timeout, close, Submit, Quit, Abort) and
//                                  session failures
//   client_session_replies.cc      replies outside a transaction: banner,
//                                  EHLO/HELO, STARTTLS, AUTH, RSET, QUIT;
//                                  STARTTLS and AUTH after the greeting
//   client_session_transaction.cc  transactions: start, MAIL/RCPT/DATA with
//                                  or without PIPELINING, body, end
// Not for use outside engine/smtp.
#pragma once

#include <array>
#include <cassert>
#include <cstdint>
#include <deque>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/log.h"
#include "engine/smtp/client_session.h"
#include "engine/smtp/reply_parser.h"

namespace postino::smtp {

enum class State {
  kInit,               // created, nothing happened yet
  kConnecting,         // Start(): waiting for OnConnected
  kBanner,             // waiting for the 220 greeting
  kEhlo,               // EHLO sent
  kHelo,               // HELO sent (EHLO refused with 5xx)
  kStartTls,           // STARTTLS sent
  kTlsHandshake,       // kStartTls action emitted, waiting for OnTlsReady
  kAuthPlain,          // AUTH PLAIN <initial response> sent
  kAuthLogin,          // AUTH LOGIN sent, waiting for 334 (username)
  kAuthLoginUser,      // username sent, waiting for 334 (password)
  kAuthLoginPassword,  // password sent, waiting for 235
  kReady,              // idle between transactions
  kMail,               // waiting for the MAIL FROM reply
  kRcpt,               // waiting for a RCPT TO reply
  kData,               // waiting for the DATA reply (354)
  kEndOfData,          // body and final dot sent, waiting for the reply
  kRset,               // RSET sent after a failed transaction
  kQuit,               // QUIT sent
  kClosed,             // kClose emitted; the session is over
  kCount,
};

struct StateInfo {
  std::string_view name;
  Phase phase;  // whose timeout applies while in the state
};

inline constexpr std::array<StateInfo, static_cast<size_t>(State::kCount)> kStateTable = {{
    {"init", Phase::kConnect},
    {"connecting", Phase::kConnect},
    {"banner", Phase::kBanner},
    {"ehlo", Phase::kEhlo},
    {"helo", Phase::kHelo},
    {"starttls", Phase::kStartTls},
    {"tls_handshake", Phase::kTlsHandshake},
    {"auth_plain", Phase::kAuth},
    {"auth_login", Phase::kAuth},
    {"auth_login_user", Phase::kAuth},
    {"auth_login_password", Phase::kAuth},
    {"ready", Phase::kMail},
    {"mail", Phase::kMail},
    {"rcpt", Phase::kRcpt},
    {"data", Phase::kData},
    {"end_of_data", Phase::kEndOfData},
    {"rset", Phase::kRset},
    {"quit", Phase::kQuit},
    {"closed", Phase::kQuit},
}};

inline const StateInfo& Info(State s) { return kStateTable[static_cast<size_t>(s)]; }

// A reply postino makes up for a local event.
Reply LocalReply(int code, std::string_view enhanced, std::string_view text);

enum class RcptState : uint8_t { kPending, kAccepted, kDone };

class ClientSession::Impl {
 public:
  explicit Impl(SessionParams params) : params_(std::move(params)) {}

  // The structured fields of this session's log lines.
  log::Fields LogFields() const {
    log::Fields f;
    f.connection = params_.log_connection;
    f.host = params_.log_host;
    return f;
  }

  void Start();
  void OnConnected();
  void OnBytes(std::string_view bytes);
  void OnTlsReady(const TlsInfo& info);
  void OnTlsFailed(std::string_view reason);
  void OnTimeout();
  void OnClosed(std::string_view reason);
  void Submit(Transaction txn);
  void Quit();
  void Abort(std::string_view reason);

  std::vector<Action> TakeActions() {
    std::vector<Action> out;
    out.swap(actions_);
    return out;
  }
  bool finished() const { return state_ == State::kClosed; }
  const Capabilities& capabilities() const { return caps_; }
  const std::optional<TlsInfo>& tls() const { return tls_; }
  int transactions_done() const { return transactions_done_; }
  const std::optional<Reply>& failure() const { return failure_; }
  Phase failure_phase() const { return failure_phase_; }

 private:
  // A transaction on the wire. Commands are numbered 0 = MAIL,
  // 1..n = RCPT of rcpt_order[i-1], n+1 = DATA.
  struct Active {
    Transaction txn;
    std::string body;                // dot-stuffed, ends with ".\r\n"
    std::vector<RcptState> rcpts;    // indexed like txn.rcpts
    std::vector<size_t> rcpt_order;  // indices of the recipients actually sent
    size_t sent = 0;                 // send cursor: commands written
    size_t received = 0;             // receive cursor: replies matched
    bool pipelined = false;
    bool mail_ok = false;
    size_t accepted = 0;
    bool failed = false;  // ends with RSET
    size_t CommandCount() const { return rcpt_order.size() + 2; }
  };

  // Outputs.
  void Write(std::string bytes) {
    Action a;
    a.kind = Action::Kind::kWrite;
    a.bytes = std::move(bytes);
    actions_.push_back(std::move(a));
  }
  void ArmTimer(Phase phase) {
    Action a;
    a.kind = Action::Kind::kArmTimer;
    a.phase = phase;
    a.timeout = params_.timeouts.For(phase);
    actions_.push_back(std::move(a));
  }
  void EmitResult(uint64_t txn_id, size_t index, const Reply& reply, Phase phase) {
    Action a;
    a.kind = Action::Kind::kRecipientResult;
    a.txn_id = txn_id;
    a.rcpt_index = index;
    a.reply = reply;
    a.phase = phase;
    actions_.push_back(std::move(a));
  }
  // Gives recipient `index` of the active transaction its one result.
  void RecipientResult(size_t index, const Reply& reply, Phase phase) {
    assert(active_ && active_->rcpts[index] != RcptState::kDone);
    active_->rcpts[index] = RcptState::kDone;
    EmitResult(active_->txn.id, index, reply, phase);
  }

  void Enter(State to);
  void OnReply(const Reply& reply);
  void AfterHello();
  void AfterTls();
  void GoIdle();
  bool StartTransaction(Transaction txn);
  void SendTransactionCommands();
  std::string TransactionCommand(size_t i) const;
  void OnTransactionReply(const Reply& reply);
  void OnEndOfDataReply(const Reply& reply);
  void EndTransaction();
  void FailPending(const Reply& reply, Phase phase);
  void FailSession(const Reply& reply, Phase phase, bool send_quit);
  void FailTransactionLocally(Transaction& txn, const Reply& reply, Phase phase);
  Reply LostReply(std::string_view what, std::string_view detail) const;

  SessionParams params_;
  State state_ = State::kInit;
  ReplyParser parser_;
  Capabilities caps_;
  std::optional<TlsInfo> tls_;
  bool tls_active_ = false;
  bool starttls_refused_ = false;
  bool quit_requested_ = false;
  int transactions_done_ = 0;
  std::optional<Reply> failure_;
  Phase failure_phase_ = Phase::kConnect;
  std::vector<Action> actions_;
  std::optional<Active> active_;
  std::deque<Transaction> queued_;  // submitted before the session was ready
};

}  // namespace postino::smtp
