// tcp_transport.h: a Transport over a libuv TCP handle. Connects from a
// chosen source address with a connect timeout, or wraps an accepted
// connection. Writes are queued with owned buffers; libuv handles are freed
// only from their close callbacks, so the object may be destroyed at any
// time, including inside its own handler's callbacks. The first use sets
// SIGPIPE to ignored (libuv writes with write(2); a closed peer is EPIPE).
#pragma once

#include <uv.h>

#include <chrono>
#include <memory>
#include <optional>
#include <string>

#include "engine/net/transport.h"

namespace postino::net {

struct ConnectOptions {
  sockaddr_storage peer{};                  // address and port to connect to
  std::optional<sockaddr_storage> source;   // bind here first (port 0) when set
  std::chrono::milliseconds timeout{std::chrono::seconds(30)};  // 0 = none
};

class TcpTransport final : public Transport {
 public:
  // Starts an asynchronous connect; the handler gets OnTransportConnected or
  // OnTransportClosed (refused, unreachable, bind failure, timeout). Never
  // calls the handler before returning.
  static std::unique_ptr<TcpTransport> Connect(uv_loop_t* loop, const ConnectOptions& options,
                                               TransportHandler* handler);
  // Accepts a pending connection from a listening stream and starts reading.
  static Result<std::unique_ptr<TcpTransport>> Accept(uv_stream_t* server,
                                                      TransportHandler* handler);
  ~TcpTransport() override;

  void SetHandler(TransportHandler* handler) override { handler_ = handler; }
  void Write(std::string bytes) override;
  void Close() override;
  bool open() const override { return handles_ != nullptr; }
  std::string local_address() const override { return local_; }
  std::string peer_address() const override { return peer_; }
  // Bytes queued in libuv but not yet written to the socket.
  size_t write_queue_size() const;

  struct Handles;  // libuv state, outlives the object until closed

 private:
  TcpTransport() = default;
  void Fail(const Status& status);  // close and tell the handler
  void OnConnect(int status);
  void OnRead(ssize_t nread, const uv_buf_t* buf);
  void OnWriteError(int status);
  void OnTimeout();
  void RecordAddresses();
  void StartReading();

  Handles* handles_ = nullptr;
  TransportHandler* handler_ = nullptr;
  std::string local_;
  std::string peer_;
};

}  // namespace postino::net
