// connection.h: the session driver. Runs one smtp::ClientSession over a
// Transport: connects from the chosen source, feeds transport events into
// the session and carries out its actions (write, STARTTLS by swapping in a
// TlsTransport, one uv_timer per connection, close, recipient results,
// ready for the next transaction). The pool (Engine) decides what to send.
#pragma once

#include <uv.h>

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "engine/net/tcp_transport.h"
#include "engine/smtp/client_session.h"
#include "engine/tls/tls_context.h"
#include "engine/tls/tls_transport.h"

namespace postino::delivery {

struct PendingRcpt {
  uint64_t id = 0;  // caller's id
  std::string address;
};

// A transaction waiting for, or carried by, a connection: one message to
// one or more recipients of one destination. Owned by exactly one place at
// a time (a destination queue or lane, or a connection).
struct Pending {
  uint64_t seq = 0;  // engine-wide unique, used as the transaction id
  std::string mail_from;
  std::vector<PendingRcpt> rcpts;  // at least one
  std::string domain;  // recipient domain of the first recipient (for path events)
  std::shared_ptr<const std::string> data;
  uint64_t tried_hosts = 0;  // bit i: host i of the destination refused it (next MX)
  bool warmup_counted = false;  // its recipients are in today's warm-up counts already
};

// The final reply for one recipient of a transaction.
struct RcptResult {
  smtp::Reply reply;
  smtp::Phase phase = smtp::Phase::kConnect;
};

// Where one connection goes.
struct ConnectionTarget {
  std::string host_name;  // MX or route host name (SNI and certificate name)
  std::string ip;
  uint16_t port = 25;
  sockaddr_storage address{};
  size_t host_index = 0;  // index in the destination's host list
  smtp::TlsMode tls = smtp::TlsMode::kOpportunistic;
  bool tls_verify = false;  // kRequired / kImplicit: check chain and name
};

class Connection;

// Implemented by the pool. Callbacks run on the loop thread; the owner must
// not delete the connection inside them (it reaps closed ones later).
class ConnectionOwner {
 public:
  virtual ~ConnectionOwner() = default;
  // The session is idle and can take a transaction: call Send() or Quit(),
  // or do nothing (the connection QUITs after its idle timeout).
  virtual void OnConnectionReady(Connection* conn) = 0;
  // A transaction is over: `results` holds the final reply of each of its
  // recipients (parallel to message->rcpts).
  virtual void OnMessageResult(Connection* conn, std::unique_ptr<Pending> message,
                               std::vector<RcptResult> results) = 0;
  // The connection is over (closed, failed or QUIT). Called once.
  virtual void OnConnectionClosed(Connection* conn) = 0;
};

struct ConnectionParams {
  ConnectionTarget target;
  std::optional<sockaddr_storage> source;  // bind address
  std::string source_address;              // "127.0.0.2" (for outcomes)
  smtp::SessionParams session;
  std::chrono::milliseconds idle_timeout{std::chrono::seconds(5)};
  std::shared_ptr<tls::TlsContext> tls_context;  // client context (trust store loaded)
};

class Connection final : private net::TransportHandler {
 public:
  Connection(uv_loop_t* loop, ConnectionParams params, ConnectionOwner* owner);
  ~Connection() override;  // closes the transport; the timer is freed from its close callback
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  // Starts the session and the connect.
  void Start();
  // Hands a message to the idle session (only after OnConnectionReady).
  void Send(std::unique_ptr<Pending> message);
  // QUIT when idle (now if idle), or right after the current transaction.
  void Quit();
  // Drop the connection now; carried recipients get a local 4xx result.
  void Abort(std::string_view reason);

  bool ready() const { return ready_; }          // idle and able to take a message
  bool was_ready() const { return was_ready_; }  // reached the ready state at least once
  bool closed() const { return closed_; }
  bool tls_failed() const { return tls_failed_; }  // a STARTTLS handshake failed
  size_t carried() const { return in_flight_.size(); }  // transactions
  int transactions_started() const { return transactions_started_; }
  const ConnectionTarget& target() const { return params_.target; }
  const std::string& source_address() const { return params_.source_address; }
  const smtp::ClientSession& session() const { return session_; }
  // Set by the pool: the destination it serves and the egress path (source ×
  // site) it counts against.
  void* destination = nullptr;
  void* path = nullptr;

 private:
  void OnTransportConnected() override;
  void OnTransportData(std::string_view bytes) override;
  void OnTransportClosed(const Status& reason) override;

  void Process();  // runs the session's actions until none are left
  void StartTls();
  void ArmTimer(std::chrono::milliseconds timeout, bool idle);
  void OnTimer();
  void Finish();

  struct TimerBox;  // the uv_timer_t, freed from its close callback
  uv_loop_t* loop_;
  ConnectionParams params_;
  ConnectionOwner* owner_;
  smtp::ClientSession session_;
  std::unique_ptr<net::Transport> transport_;
  tls::TlsTransport* tls_ = nullptr;  // transport_ when it is TLS
  TimerBox* timer_ = nullptr;
  bool idle_timer_ = false;
  bool processing_ = false;
  bool ready_ = false;
  bool quitting_ = false;  // Quit() was called: never ready again
  bool was_ready_ = false;
  bool closed_ = false;
  bool close_reported_ = false;
  bool tls_failed_ = false;
  int transactions_started_ = 0;
  struct Carried {
    std::unique_ptr<Pending> message;
    std::vector<std::optional<RcptResult>> results;  // parallel to message->rcpts
    size_t missing = 0;                              // results not in yet
  };
  void Deliver(uint64_t seq);  // all results are in: hand them to the owner
  std::unordered_map<uint64_t, Carried> in_flight_;
};

}  // namespace postino::delivery
