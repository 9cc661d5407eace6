// transport.h: the byte-stream interface the SMTP driver talks to (after
// Envoy's TransportSocket). TcpTransport implements it over libuv; TlsTransport
// wraps another Transport and is swapped in on STARTTLS.
#pragma once

#include <string>
#include <string_view>

#include "common/status.h"

namespace postino::net {

// Receives a transport's events, on the loop thread. A handler may destroy
// the transport from inside any of these callbacks.
class TransportHandler {
 public:
  virtual ~TransportHandler() = default;
  // The stream is usable: TCP connected, or the TLS handshake completed.
  virtual void OnTransportConnected() = 0;
  // Bytes arrived from the peer (plain text for TLS).
  virtual void OnTransportData(std::string_view bytes) = 0;
  // The connection failed or ended (peer close, I/O error, connect timeout,
  // TLS failure). Nothing follows. Never called after Close().
  virtual void OnTransportClosed(const Status& reason) = 0;
};

class Transport {
 public:
  virtual ~Transport() = default;  // implementations Close() if still open
  Transport() = default;
  Transport(const Transport&) = delete;
  Transport& operator=(const Transport&) = delete;

  // Where events go; may be changed at any time (nullptr = drop them).
  virtual void SetHandler(TransportHandler* handler) = 0;
  // Queues bytes for sending; the transport owns them from here.
  virtual void Write(std::string bytes) = 0;
  // Closes the connection. Idempotent; no handler callback follows.
  virtual void Close() = 0;
  // True from construction until Close() or OnTransportClosed().
  virtual bool open() const = 0;
  // "127.0.0.1" / "::1": the local address once connected, else "".
  virtual std::string local_address() const = 0;
  // The peer's address ("127.0.0.1"), or "" when unknown.
  virtual std::string peer_address() const = 0;
};

}  // namespace postino::net
