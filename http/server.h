// server.h: the HTTP listener, on libmicrohttpd (Debian libmicrohttpd-dev).
// One MHD daemon per listen address, each with its own internal thread pool
// (epoll); a Handler is called with the whole request (headers, decoded
// query and form, bounded body) and answers through a callback, at once or
// later from another thread (the connection is suspended meanwhile).
// Requests are bounded in memory (per-connection memory, body size, form
// fields) and time (idle timeout per connection); connections are bounded in
// number, overall and per client address. Optional TLS (GnuTLS inside
// libmicrohttpd) from PEM files. Nothing here parses HTTP by hand.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "common/status.h"
#include "http/request.h"

namespace postino::http {

struct ListenAddress {
  std::string ip;     // IPv4 or IPv6 literal
  uint16_t port = 0;  // 0 = any free port (tests)
};

// "IP:port", "[v6]:port"; InvalidArgument naming the text when it is not one.
Result<ListenAddress> ParseListenAddress(const std::string& text);

struct ServerOptions {
  std::vector<ListenAddress> listen;
  std::string cert_pem, key_pem;  // both set = HTTPS on every address
  unsigned threads = 4;           // network threads per listen address
  unsigned connection_limit = 1024;  // per listen address
  unsigned per_ip_connection_limit = 0;  // 0 = none (use 0 behind a reverse proxy)
  unsigned idle_timeout_seconds = 15;    // a connection silent this long is closed
  size_t max_body_bytes = 16 * 1024;     // larger request bodies get 413
  // Headers + buffers per connection (libmicrohttpd's default): MHD zeroes
  // this memory for every request (a profile showed 64 KiB memsets taking
  // 10% of the listener's CPU), so more costs CPU for nothing.
  size_t connection_memory_bytes = 32 * 1024;
};

using Reply = std::function<void(Response)>;

class Handler {
 public:
  virtual ~Handler() = default;
  // Called on a network thread, concurrently; must neither throw nor block.
  // Calls `reply` exactly once, inside Handle or later on any thread; `req`
  // stays valid until then.
  virtual void Handle(const Request& req, Reply reply) = 0;
};

class Server {
 public:
  // Binds every address and starts the threads.
  static Result<std::unique_ptr<Server>> Start(const ServerOptions& options, Handler& handler);
  ~Server();  // Stop()
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // The bound ports, in the order of options.listen.
  std::vector<uint16_t> ports() const;
  // Stops listening, closes the connections and joins the threads.
  void Stop();

  struct Impl;

 private:
  explicit Server(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace postino::http
