// connection.h: one accepted SMTP connection of a Listener: the transport
// (TCP, TLS wrapped on STARTTLS or at once for implicit TLS), its
// smtp::ServerSession, the idle and total timers, and the calls into the
// InboundHandler. Internal to inbound/.
#pragma once

#include <uv.h>

#include <memory>
#include <string>

#include "engine/net/tcp_transport.h"
#include "engine/net/transport.h"
#include "engine/smtp/server_session.h"
#include "engine/tls/tls_context.h"
#include "inbound/listener.h"

namespace postino::inbound {

class Connection final : public net::TransportHandler, public smtp::ServerPolicy {
 public:
  // Called when the connection is over (closed, timed out, aborted); the
  // listener retires the object later, never inside this call stack.
  using RetireFn = std::function<void(Connection*)>;

  Connection(uv_loop_t* loop, const ListenerOptions& options, uint64_t id,
             std::shared_ptr<tls::TlsContext> tls, InboundHandler* handler, RetireFn retire);
  ~Connection() override;
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  // Takes the accepted transport: sends the banner (plain) or starts the
  // TLS handshake (implicit TLS).
  void Begin(std::unique_ptr<net::TcpTransport> tcp);
  // Ends the session with `reply` (shutdown).
  void Abort(const smtp::ServerReply& reply);
  const SessionInfo& info() const { return info_; }

 private:
  void OnTransportConnected() override;
  void OnTransportData(std::string_view bytes) override;
  void OnTransportClosed(const Status& reason) override;
  std::optional<smtp::ServerReply> CheckSender(const smtp::ServerEnvelope& env) override;
  std::optional<smtp::ServerReply> CheckRecipient(const smtp::ServerEnvelope& env,
                                                  const smtp::ServerRecipient& rcpt) override;

  void Run();          // carries out the session's actions
  void StartTls();
  void Finish();       // closes the transport and retires this object
  void RefreshInfo();
  void ArmIdle();

  uv_loop_t* loop_;
  const ListenerOptions& options_;
  std::shared_ptr<tls::TlsContext> tls_context_;
  InboundHandler* handler_;
  RetireFn retire_;
  smtp::ServerSession session_;
  SessionInfo info_;
  std::unique_ptr<net::Transport> transport_;
  net::Transport* tls_transport_ = nullptr;  // set once TLS wraps the connection
  bool banner_sent_ = false;
  bool finished_ = false;
  uv_timer_t* idle_timer_ = nullptr;
  uv_timer_t* total_timer_ = nullptr;
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

}  // namespace postino::inbound
