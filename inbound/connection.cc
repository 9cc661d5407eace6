// connection.cc: one SMTP connection of a Listener (see connection.h).
#include "inbound/connection.h"

#include "common/log.h"
#include "common/metric_families.h"
#include "engine/tls/tls_transport.h"

namespace postino::inbound {

namespace {

smtp::ServerParams SessionParams(const ListenerOptions& o, InboundHandler* handler) {
  smtp::ServerParams p;
  p.hostname = o.hostname;
  p.tls = o.tls == ListenerTls::kNone       ? smtp::ServerTls::kNone
          : o.tls == ListenerTls::kStartTls ? smtp::ServerTls::kStartTls
                                            : smtp::ServerTls::kImplicit;
  p.auth_required = handler->RequiresAuth();
  p.auth_offered = handler->RequiresAuth();
  p.limits = o.smtp;
  return p;
}

uv_timer_t* NewTimer(uv_loop_t* loop, void* data) {
  auto* t = new uv_timer_t;
  uv_timer_init(loop, t);
  t->data = data;
  return t;
}

void CloseTimer(uv_timer_t* t) {
  if (t == nullptr) return;
  uv_timer_stop(t);
  uv_close(reinterpret_cast<uv_handle_t*>(t),
           [](uv_handle_t* h) { delete reinterpret_cast<uv_timer_t*>(h); });
}

}  // namespace

Connection::Connection(uv_loop_t* loop, const ListenerOptions& options, uint64_t id,
                       std::shared_ptr<tls::TlsContext> tls, InboundHandler* handler,
                       RetireFn retire)
    : loop_(loop),
      options_(options),
      tls_context_(std::move(tls)),
      handler_(handler),
      retire_(std::move(retire)),
      session_(SessionParams(options, handler), this) {
  info_.id = id;
  // /metrics: sessions of the listeners that need AUTH (submission).
  if (handler_->RequiresAuth()) {
    metrics::families::SubmissionSessions().With({options_.name}).Inc();
    metrics::families::SubmissionSessionsOpen().With({options_.name}).Add(1);
  }
}

Connection::~Connection() {
  if (handler_->RequiresAuth()) {
    metrics::families::SubmissionSessionsOpen().With({options_.name}).Sub(1);
  }
  *alive_ = false;
  if (transport_) {
    transport_->SetHandler(nullptr);
    transport_->Close();
  }
  CloseTimer(idle_timer_);
  CloseTimer(total_timer_);
}

void Connection::Begin(std::unique_ptr<net::TcpTransport> tcp) {
  info_.peer_ip = tcp->peer_address();
  info_.local_ip = tcp->local_address();
  idle_timer_ = NewTimer(loop_, this);
  total_timer_ = NewTimer(loop_, this);
  auto on_timeout = [](uv_timer_t* t) {
    auto* self = static_cast<Connection*>(t->data);
    self->session_.OnTimeout();
    self->Run();
  };
  uv_timer_start(total_timer_, on_timeout, static_cast<uint64_t>(options_.session_timeout.count()),
                 0);
  ArmIdle();
  if (options_.tls != ListenerTls::kImplicit) {
    tcp->SetHandler(this);
    transport_ = std::move(tcp);
    banner_sent_ = true;
    session_.OnConnected();
    Run();
    return;
  }
  Result<std::unique_ptr<tls::TlsTransport>> t =
      tls::TlsTransport::NewServer(std::move(tcp), tls_context_, this);
  if (!t.ok()) {
    log::Warn("{}: TLS setup failed for {}: {}", options_.name, info_.peer_ip,
              t.status().message());
    Finish();
    return;
  }
  tls::TlsTransport* raw = t->get();
  transport_ = std::move(t).value();
  tls_transport_ = raw;
  raw->StartHandshake();
}

void Connection::ArmIdle() {
  if (idle_timer_ == nullptr) return;
  uv_timer_start(
      idle_timer_,
      [](uv_timer_t* t) {
        auto* self = static_cast<Connection*>(t->data);
        self->session_.OnTimeout();
        self->Run();
      },
      static_cast<uint64_t>(options_.idle_timeout.count()), 0);
}

void Connection::Abort(const smtp::ServerReply& reply) {
  session_.Shutdown(reply);
  Run();
}

void Connection::OnTransportConnected() {
  // Only TLS reports this here: the handshake completed.
  auto* tls = static_cast<tls::TlsTransport*>(tls_transport_);
  info_.tls = true;
  if (tls != nullptr) {
    info_.tls_version = tls->version();
    info_.tls_cipher = tls->cipher();
  }
  if (!banner_sent_) {
    banner_sent_ = true;
    session_.OnConnected();
  } else {
    session_.OnTlsReady();
  }
  Run();
}

void Connection::OnTransportData(std::string_view bytes) {
  ArmIdle();
  session_.OnBytes(bytes);
  Run();
}

void Connection::OnTransportClosed(const Status& reason) {
  log::Debug("{}: connection from {} closed: {}", options_.name, info_.peer_ip, reason.message());
  transport_.reset();  // already closed; nothing follows
  Finish();
}

std::optional<smtp::ServerReply> Connection::CheckSender(const smtp::ServerEnvelope& env) {
  RefreshInfo();
  return handler_->CheckSender(info_, env);
}

std::optional<smtp::ServerReply> Connection::CheckRecipient(const smtp::ServerEnvelope& env,
                                                            const smtp::ServerRecipient& rcpt) {
  RefreshInfo();
  return handler_->CheckRecipient(info_, env, rcpt);
}

void Connection::RefreshInfo() {
  info_.helo = session_.helo();
  info_.esmtp = session_.esmtp();
  info_.user = session_.auth_user();
  info_.tls = session_.tls_active();
}

void Connection::StartTls() {
  Result<std::unique_ptr<tls::TlsTransport>> t =
      tls::TlsTransport::NewServer(std::move(transport_), tls_context_, this);
  if (!t.ok()) {
    log::Warn("{}: STARTTLS setup failed for {}: {}", options_.name, info_.peer_ip,
              t.status().message());
    Finish();
    return;
  }
  tls::TlsTransport* raw = t->get();
  transport_ = std::move(t).value();
  tls_transport_ = raw;
  raw->StartHandshake();
}

void Connection::Run() {
  while (!finished_) {
    std::vector<smtp::ServerAction> actions = session_.TakeActions();
    if (actions.empty()) return;
    for (smtp::ServerAction& a : actions) {
      if (finished_) return;
      switch (a.kind) {
        case smtp::ServerAction::Kind::kWrite:
          if (transport_) transport_->Write(std::move(a.bytes));
          break;
        case smtp::ServerAction::Kind::kStartTls:
          StartTls();
          break;
        case smtp::ServerAction::Kind::kClose:
          Finish();
          return;
        case smtp::ServerAction::Kind::kVerifyAuth: {
          RefreshInfo();
          std::shared_ptr<bool> alive = alive_;
          handler_->Authenticate(info_, std::move(a.username), std::move(a.password),
                                 [this, alive, mechanism = a.mechanism](AuthOutcome outcome) {
                                   if (!outcome.ok) {
                                     metrics::families::SubmissionAuthFailures()
                                         .With({mechanism})
                                         .Inc();
                                   }
                                   if (!*alive || finished_) return;
                                   session_.OnAuthResult(outcome.ok, std::move(outcome.reply));
                                   Run();
                                 });
          break;
        }
        case smtp::ServerAction::Kind::kMessage: {
          RefreshInfo();
          std::shared_ptr<bool> alive = alive_;
          handler_->Accept(info_, std::move(a.envelope), std::move(a.data),
                           [this, alive](smtp::ServerReply reply) {
                             if (!*alive || finished_) return;
                             session_.OnMessageResult(reply);
                             Run();
                           });
          break;
        }
      }
    }
  }
}

void Connection::Finish() {
  if (finished_) return;
  finished_ = true;
  *alive_ = false;
  if (transport_) {
    transport_->SetHandler(nullptr);
    transport_->Close();
  }
  if (idle_timer_ != nullptr) uv_timer_stop(idle_timer_);
  if (total_timer_ != nullptr) uv_timer_stop(total_timer_);
  RefreshInfo();
  handler_->SessionClosed(info_);
  retire_(this);
}

}  // namespace postino::inbound
