// client_session.cc: the SMTP client state machine (see client_session.h):
// phase names and timeouts, LocalReply, Enter() (the command each state
// sends and its timer) and the ClientSession facade. client_session_impl.h
// says which file holds the rest.
#include "engine/smtp/client_session.h"

#include <cassert>
#include <string>
#include <utility>

#include "common/log.h"
#include "engine/smtp/client_session_impl.h"
#include "engine/smtp/commands.h"

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

void ClientSession::Impl::Enter(State to) {
  if (log::GetLevel() <= log::Level::kDebug) {
    log::DebugF(LogFields(), "smtp client: connection {} to {}: {} -> {}", params_.log_connection,
                params_.log_host, Info(state_).name, Info(to).name);
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
