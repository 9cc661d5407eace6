// client_session.cc: the SMTP client state machine (see client_session.h).
// Shape after OpenSMTPD's smtp_client.c: Enter() sends the command of the
// state it enters and arms that state's timer; OnReply() takes one complete
// reply and picks the next state. PIPELINING after Postfix's smtp_proto.c:
// a transaction is the command list [MAIL, RCPT..., DATA] with a send cursor
// and a receive cursor; with PIPELINING everything is sent at once, without
// it one command per reply.
#include "engine/smtp/client_session.h"

#include <array>
#include <cassert>
#include <deque>
#include <string>
#include <utility>

#include "common/log.h"
#include "engine/smtp/capabilities.h"
#include "engine/smtp/commands.h"
#include "engine/smtp/data_encoder.h"
#include "engine/smtp/reply_parser.h"

namespace postino::smtp {

std::string_view PhaseName(Phase phase) {
  switch (phase) {
    case Phase::kConnect:
      return "connect";
    case Phase::kBanner:
      return "banner";
    case Phase::kEhlo:
      return "ehlo";
    case Phase::kHelo:
      return "helo";
    case Phase::kStartTls:
      return "starttls";
    case Phase::kTlsHandshake:
      return "tls_handshake";
    case Phase::kAuth:
      return "auth";
    case Phase::kMail:
      return "mail";
    case Phase::kRcpt:
      return "rcpt";
    case Phase::kData:
      return "data";
    case Phase::kBody:
      return "body";
    case Phase::kEndOfData:
      return "end_of_data";
    case Phase::kRset:
      return "rset";
    case Phase::kQuit:
      return "quit";
  }
  return "unknown";
}

std::chrono::milliseconds Timeouts::For(Phase phase) const {
  switch (phase) {
    case Phase::kConnect:
      return connect;
    case Phase::kBanner:
      return banner;
    case Phase::kEhlo:
      return ehlo;
    case Phase::kHelo:
      return ehlo;
    case Phase::kStartTls:
      return starttls;
    case Phase::kTlsHandshake:
      return tls_handshake;
    case Phase::kAuth:
      return auth;
    case Phase::kMail:
      return mail;
    case Phase::kRcpt:
      return rcpt;
    case Phase::kData:
      return data;
    case Phase::kBody:
      return body;
    case Phase::kEndOfData:
      return end_of_data;
    case Phase::kRset:
      return rset;
    case Phase::kQuit:
      return quit;
  }
  return connect;
}

namespace {

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

constexpr std::array<StateInfo, static_cast<size_t>(State::kCount)> kStateTable = {{
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

const StateInfo& Info(State s) { return kStateTable[static_cast<size_t>(s)]; }

// A reply postino makes up for a local event.
Reply LocalReply(int code, std::string_view enhanced, std::string_view text) {
  Reply reply;
  reply.code = code;
  reply.enhanced.assign(enhanced);
  std::string line(enhanced);
  line.push_back(' ');
  line.append(text);
  reply.lines.push_back(std::move(line));
  reply.local = true;
  return reply;
}

enum class RcptState : uint8_t { kPending, kAccepted, kDone };

}  // namespace

class ClientSession::Impl {
 public:
  explicit Impl(SessionParams params) : params_(std::move(params)) {}

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

void ClientSession::Impl::Enter(State to) {
  if (log::GetLevel() <= log::Level::kDebug) {
    log::Debug("smtp client: {} -> {}", Info(state_).name, Info(to).name);
  }
  state_ = to;
  switch (to) {
    case State::kInit:
    case State::kReady:
      return;
    case State::kConnecting:
    case State::kBanner:
      break;
    case State::kEhlo:
      Write(EhloCommand(params_.helo_name));
      break;
    case State::kHelo:
      Write(HeloCommand(params_.helo_name));
      break;
    case State::kStartTls:
      Write("STARTTLS\r\n");
      break;
    case State::kTlsHandshake: {
      Action a;
      a.kind = Action::Kind::kStartTls;
      actions_.push_back(std::move(a));
      break;
    }
    case State::kAuthPlain:
      Write(AuthPlainCommand(params_.auth->username, params_.auth->password));
      break;
    case State::kAuthLogin:
      Write("AUTH LOGIN\r\n");
      break;
    case State::kAuthLoginUser:
      Write(Base64Encode(params_.auth->username) + "\r\n");
      break;
    case State::kAuthLoginPassword:
      Write(Base64Encode(params_.auth->password) + "\r\n");
      break;
    case State::kMail:
    case State::kRcpt:
    case State::kData:
      SendTransactionCommands();
      break;
    case State::kEndOfData:
      Write(std::move(active_->body));
      active_->body.clear();
      break;
    case State::kRset:
      Write("RSET\r\n");
      break;
    case State::kQuit:
      Write("QUIT\r\n");
      break;
    case State::kClosed: {
      assert(!active_ && queued_.empty());
      Action a;
      a.kind = Action::Kind::kClose;
      actions_.push_back(std::move(a));
      return;
    }
    case State::kCount:
      assert(false);
      return;
  }
  ArmTimer(Info(to).phase);
}

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
  log::Debug("smtp client: session failed in {}: {}", PhaseName(phase), reply.ToString());
  FailPending(reply, phase);
  Enter(send_quit ? State::kQuit : State::kClosed);
}

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

// ---- Transactions ----------------------------------------------------------

void ClientSession::Impl::GoIdle() {
  if (state_ != State::kReady) Enter(State::kReady);
  while (!queued_.empty()) {
    if (transactions_done_ >= params_.max_transactions) {
      FailPending(LocalReply(451, "4.3.0", "max_transactions reached on this connection"),
                  Phase::kMail);
      break;
    }
    Transaction txn = std::move(queued_.front());
    queued_.pop_front();
    if (StartTransaction(std::move(txn))) return;
  }
  if (quit_requested_ || transactions_done_ >= params_.max_transactions) {
    Enter(State::kQuit);
    return;
  }
  Action a;
  a.kind = Action::Kind::kReady;
  actions_.push_back(std::move(a));
}

void ClientSession::Impl::FailTransactionLocally(Transaction& txn, const Reply& reply,
                                                 Phase phase) {
  for (size_t i = 0; i < txn.rcpts.size(); ++i) EmitResult(txn.id, i, reply, phase);
}

bool ClientSession::Impl::StartTransaction(Transaction txn) {
  if (!IsSafePathAddress(txn.mail_from, /*allow_empty=*/true)) {
    FailTransactionLocally(txn, LocalReply(553, "5.1.7", "invalid sender address syntax"),
                           Phase::kMail);
    return false;
  }
  if (txn.smtputf8 && !caps_.smtputf8) {
    FailTransactionLocally(
        txn, LocalReply(553, "5.6.7", "message needs SMTPUTF8, which the server does not offer"),
        Phase::kMail);
    return false;
  }
  Active a;
  std::string_view message = txn.data ? std::string_view(*txn.data) : std::string_view();
  Status st = DotStuff(message, &a.body);
  if (!st.ok()) {
    FailTransactionLocally(txn, LocalReply(554, "5.6.0", "message not sendable: " + st.message()),
                           Phase::kMail);
    return false;
  }
  if (caps_.size > 0 && message.size() > caps_.size) {
    FailTransactionLocally(
        txn,
        LocalReply(552, "5.3.4",
                   "message size " + std::to_string(message.size()) +
                       " exceeds the server's SIZE limit " + std::to_string(caps_.size)),
        Phase::kMail);
    return false;
  }
  a.rcpts.assign(txn.rcpts.size(), RcptState::kPending);
  a.txn = std::move(txn);
  active_ = std::move(a);
  for (size_t i = 0; i < active_->txn.rcpts.size(); ++i) {
    if (IsSafePathAddress(active_->txn.rcpts[i], /*allow_empty=*/false)) {
      active_->rcpt_order.push_back(i);
    } else {
      RecipientResult(i, LocalReply(501, "5.1.3", "invalid recipient address syntax"),
                      Phase::kRcpt);
    }
  }
  if (active_->rcpt_order.empty()) {
    active_.reset();
    return false;
  }
  active_->pipelined = params_.pipelining && caps_.pipelining;
  Enter(State::kMail);
  return true;
}

std::string ClientSession::Impl::TransactionCommand(size_t i) const {
  const Active& a = *active_;
  if (i == 0) {
    size_t size = a.txn.data ? a.txn.data->size() : 0;
    return MailCommand(a.txn.mail_from, a.txn.smtputf8 && caps_.smtputf8,
                       a.txn.eightbit && caps_.eightbitmime, caps_.size_announced, size);
  }
  if (i <= a.rcpt_order.size()) return RcptCommand(a.txn.rcpts[a.rcpt_order[i - 1]]);
  return "DATA\r\n";
}

void ClientSession::Impl::SendTransactionCommands() {
  Active& a = *active_;
  if (a.pipelined) {
    if (a.sent == a.CommandCount()) return;
    std::string batch;
    while (a.sent < a.CommandCount()) batch += TransactionCommand(a.sent++);
    Write(std::move(batch));  // RFC 2920: the whole group in one write
  } else if (a.sent == a.received && a.sent < a.CommandCount()) {
    Write(TransactionCommand(a.sent++));
  }
}

void ClientSession::Impl::OnTransactionReply(const Reply& reply) {
  Active& a = *active_;
  if (a.received >= a.sent) {
    FailSession(LocalReply(451, "4.5.0",
                           "protocol error from the server during " +
                               std::string(PhaseName(Info(state_).phase)) +
                               ": reply to a command not sent: " + reply.ToString()),
                Info(state_).phase, /*send_quit=*/false);
    return;
  }
  const size_t index = a.received++;
  const size_t n = a.rcpt_order.size();
  bool positive = reply.code >= 200 && reply.code < 300;
  if (index == 0) {  // MAIL FROM
    if (positive) {
      a.mail_ok = true;
    } else {
      a.failed = true;
      for (size_t i : a.rcpt_order) RecipientResult(i, reply, Phase::kMail);
    }
  } else if (index <= n) {  // RCPT TO
    size_t rcpt = a.rcpt_order[index - 1];
    if (a.mail_ok) {
      if (positive) {
        a.rcpts[rcpt] = RcptState::kAccepted;
        ++a.accepted;
      } else {
        RecipientResult(rcpt, reply, Phase::kRcpt);
      }
    }
  } else {  // DATA
    if (reply.code == 354) {
      if (a.accepted == 0) {
        // Nobody to deliver to but the server wants the body: send an
        // empty one (RFC 2920 §3.1) and throw its reply away.
        a.failed = true;
        a.body = ".\r\n";
      }
      Enter(State::kEndOfData);
      return;
    }
    a.failed = true;
    // Only 354 lets the body go. A 4xx/5xx refuses the transaction; any
    // other reply (a 2xx, 3xx or 1xx) is a protocol error: no body was
    // sent, so nothing was delivered, whatever the code says.
    const Reply failure =
        reply.code >= 400 && reply.code < 600
            ? reply
            : LocalReply(451, "4.5.0",
                         "protocol error: the server answered DATA with \"" + reply.ToString() +
                             "\" instead of 354; the message was not sent");
    for (size_t i : a.rcpt_order) {
      if (a.rcpts[i] == RcptState::kAccepted) RecipientResult(i, failure, Phase::kData);
    }
    EndTransaction();
    return;
  }
  // Without PIPELINING, stop early when nothing can be delivered.
  if (!a.pipelined && (!a.mail_ok || (index == n && a.accepted == 0))) {
    a.failed = true;
    EndTransaction();
    return;
  }
  Enter(index + 1 < n + 1 ? State::kRcpt : State::kData);
}

void ClientSession::Impl::OnEndOfDataReply(const Reply& reply) {
  Active& a = *active_;
  if (a.accepted > 0) {
    if (!(reply.code >= 200 && reply.code < 300)) a.failed = true;
    for (size_t i : a.rcpt_order) {
      if (a.rcpts[i] == RcptState::kAccepted) RecipientResult(i, reply, Phase::kEndOfData);
    }
  }
  EndTransaction();
}

void ClientSession::Impl::EndTransaction() {
  bool failed = active_->failed;
  active_.reset();
  ++transactions_done_;
  if (failed) {
    Enter(State::kRset);
  } else {
    GoIdle();
  }
}

// ---- Public wrappers -------------------------------------------------------

ClientSession::ClientSession(SessionParams params)
    : impl_(std::make_unique<Impl>(std::move(params))) {}
ClientSession::~ClientSession() = default;
void ClientSession::Start() { impl_->Start(); }
void ClientSession::OnConnected() { impl_->OnConnected(); }
void ClientSession::OnBytes(std::string_view bytes) { impl_->OnBytes(bytes); }
void ClientSession::OnTlsReady(const TlsInfo& info) { impl_->OnTlsReady(info); }
void ClientSession::OnTlsFailed(std::string_view reason) { impl_->OnTlsFailed(reason); }
void ClientSession::OnTimeout() { impl_->OnTimeout(); }
void ClientSession::OnClosed(std::string_view reason) { impl_->OnClosed(reason); }
void ClientSession::Submit(Transaction txn) { impl_->Submit(std::move(txn)); }
void ClientSession::Quit() { impl_->Quit(); }
void ClientSession::Abort(std::string_view reason) { impl_->Abort(reason); }
std::vector<Action> ClientSession::TakeActions() { return impl_->TakeActions(); }
bool ClientSession::finished() const { return impl_->finished(); }
const Capabilities& ClientSession::capabilities() const { return impl_->capabilities(); }
const std::optional<TlsInfo>& ClientSession::tls() const { return impl_->tls(); }
int ClientSession::transactions_done() const { return impl_->transactions_done(); }
const std::optional<Reply>& ClientSession::failure() const { return impl_->failure(); }
Phase ClientSession::failure_phase() const { return impl_->failure_phase(); }

}  // namespace postino::smtp
