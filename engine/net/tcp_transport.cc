// tcp_transport.cc: libuv TCP transport (see tcp_transport.h).
#include "engine/net/tcp_transport.h"

#include <csignal>
#include <cstring>
#include <mutex>
#include <string_view>

#include "engine/net/address.h"

namespace postino::net {

// Everything libuv points into. Freed when both handles are closed.
struct TcpTransport::Handles {
  uv_tcp_t tcp;
  uv_timer_t timer;
  uv_connect_t connect_req;
  TcpTransport* owner = nullptr;  // null once the transport is closed
  int open_handles = 0;
  std::string pending_error;  // a connect that failed synchronously
  char read_buffer[64 * 1024];
};

namespace {

struct WriteRequest {
  uv_write_t req;
  std::string bytes;
  TcpTransport::Handles* handles;
};

void OnHandleClosed(uv_handle_t* handle) {
  auto* h = static_cast<TcpTransport::Handles*>(handle->data);
  if (--h->open_handles == 0) delete h;
}

// A peer that closes while we write must be an EPIPE error, not a signal
// that kills the process: libuv writes with write(2), so ignore SIGPIPE.
void IgnoreSigpipeOnce() {
  static std::once_flag once;
  std::call_once(once, [] { std::signal(SIGPIPE, SIG_IGN); });
}

std::string UvError(std::string_view what, int status) {
  return std::string(what) + ": " + uv_strerror(status);
}

}  // namespace

std::unique_ptr<TcpTransport> TcpTransport::Connect(uv_loop_t* loop, const ConnectOptions& options,
                                                    TransportHandler* handler) {
  IgnoreSigpipeOnce();
  std::unique_ptr<TcpTransport> t(new TcpTransport());
  t->handler_ = handler;
  auto* h = new Handles();
  t->handles_ = h;
  h->owner = t.get();
  uv_tcp_init(loop, &h->tcp);
  uv_timer_init(loop, &h->timer);
  h->tcp.data = h;
  h->timer.data = h;
  h->connect_req.data = h;
  h->open_handles = 2;
  t->peer_ = SockaddrIp(reinterpret_cast<const sockaddr*>(&options.peer));

  int rc = 0;
  std::string what = "connect to " + t->peer_;
  if (options.source) {
    what = "bind to " + SockaddrIp(reinterpret_cast<const sockaddr*>(&*options.source));
    rc = uv_tcp_bind(&h->tcp, reinterpret_cast<const sockaddr*>(&*options.source), 0);
  }
  if (rc == 0) {
    what = "connect to " + t->peer_;
    rc = uv_tcp_connect(&h->connect_req, &h->tcp, reinterpret_cast<const sockaddr*>(&options.peer),
                        [](uv_connect_t* req, int status) {
                          auto* hh = static_cast<Handles*>(req->data);
                          if (hh->owner != nullptr) hh->owner->OnConnect(status);
                        });
  }
  if (rc != 0) {
    // Report on the next loop turn: the caller has not stored the pointer yet.
    h->pending_error = UvError(what, rc);
    uv_timer_start(
        &h->timer,
        [](uv_timer_t* timer) {
          auto* hh = static_cast<Handles*>(timer->data);
          if (hh->owner != nullptr) hh->owner->Fail(Status::IoError(hh->pending_error));
        },
        0, 0);
    return t;
  }
  if (options.timeout.count() > 0) {
    uv_update_time(loop);  // the cached loop time may be stale
    uv_timer_start(
        &h->timer,
        [](uv_timer_t* timer) {
          auto* hh = static_cast<Handles*>(timer->data);
          if (hh->owner != nullptr) hh->owner->OnTimeout();
        },
        static_cast<uint64_t>(options.timeout.count()), 0);
  }
  return t;
}

Result<std::unique_ptr<TcpTransport>> TcpTransport::Accept(uv_stream_t* server,
                                                           TransportHandler* handler) {
  IgnoreSigpipeOnce();
  std::unique_ptr<TcpTransport> t(new TcpTransport());
  t->handler_ = handler;
  auto* h = new Handles();
  t->handles_ = h;
  h->owner = t.get();
  uv_tcp_init(server->loop, &h->tcp);
  uv_timer_init(server->loop, &h->timer);
  h->tcp.data = h;
  h->timer.data = h;
  h->open_handles = 2;
  int rc = uv_accept(server, reinterpret_cast<uv_stream_t*>(&h->tcp));
  if (rc != 0) {
    t->Close();
    return Status::IoError(UvError("accept", rc));
  }
  uv_tcp_nodelay(&h->tcp, 1);
  t->RecordAddresses();
  t->StartReading();
  return t;
}

TcpTransport::~TcpTransport() { Close(); }

void TcpTransport::RecordAddresses() {
  sockaddr_storage ss;
  int len = sizeof(ss);
  if (uv_tcp_getsockname(&handles_->tcp, reinterpret_cast<sockaddr*>(&ss), &len) == 0) {
    local_ = SockaddrIp(reinterpret_cast<sockaddr*>(&ss));
  }
  len = sizeof(ss);
  if (uv_tcp_getpeername(&handles_->tcp, reinterpret_cast<sockaddr*>(&ss), &len) == 0) {
    peer_ = SockaddrIp(reinterpret_cast<sockaddr*>(&ss));
  }
}

void TcpTransport::OnConnect(int status) {
  if (status != 0) {
    Fail(Status::IoError(UvError("connect to " + peer_, status)));
    return;
  }
  uv_timer_stop(&handles_->timer);
  uv_tcp_nodelay(&handles_->tcp, 1);
  RecordAddresses();
  StartReading();
  if (handler_ != nullptr) handler_->OnTransportConnected();
}

void TcpTransport::StartReading() {
  uv_read_start(
      reinterpret_cast<uv_stream_t*>(&handles_->tcp),
      [](uv_handle_t* handle, size_t, uv_buf_t* buf) {
        auto* hh = static_cast<Handles*>(handle->data);
        *buf = uv_buf_init(hh->read_buffer, sizeof(hh->read_buffer));
      },
      [](uv_stream_t* stream, ssize_t nread, const uv_buf_t* buf) {
        auto* hh = static_cast<Handles*>(stream->data);
        if (hh->owner != nullptr) hh->owner->OnRead(nread, buf);
      });
}

void TcpTransport::OnRead(ssize_t nread, const uv_buf_t* buf) {
  if (nread > 0) {
    if (handler_ != nullptr) handler_->OnTransportData(std::string_view(buf->base, nread));
    return;  // the handler may have destroyed us
  }
  if (nread == UV_EOF) {
    Fail(Status::IoError("connection closed by " + peer_));
  } else if (nread < 0) {
    Fail(Status::IoError(UvError("read from " + peer_, static_cast<int>(nread))));
  }
}

void TcpTransport::Write(std::string bytes) {
  if (handles_ == nullptr || bytes.empty()) return;
  auto* stream = reinterpret_cast<uv_stream_t*>(&handles_->tcp);
  size_t offset = 0;
  // Fast path: nothing queued, try to write right now without a copy.
  if (stream->write_queue_size == 0) {
    uv_buf_t buf = uv_buf_init(bytes.data(), static_cast<unsigned>(bytes.size()));
    int n = uv_try_write(stream, &buf, 1);
    if (n == static_cast<int>(bytes.size())) return;
    if (n > 0) offset = static_cast<size_t>(n);
    else if (n != UV_EAGAIN && n != UV_ENOSYS) {
      OnWriteError(n);
      return;
    }
  }
  auto* req = new WriteRequest();
  req->bytes = std::move(bytes);
  req->handles = handles_;
  req->req.data = req;
  uv_buf_t buf = uv_buf_init(req->bytes.data() + offset,
                             static_cast<unsigned>(req->bytes.size() - offset));
  int rc = uv_write(&req->req, stream, &buf, 1, [](uv_write_t* w, int status) {
    auto* r = static_cast<WriteRequest*>(w->data);
    Handles* hh = r->handles;
    delete r;
    if (status != 0 && status != UV_ECANCELED && hh->owner != nullptr) {
      hh->owner->OnWriteError(status);
    }
  });
  if (rc != 0) {
    delete req;
    OnWriteError(rc);
  }
}

void TcpTransport::OnWriteError(int status) {
  // Never call the handler from inside Write(): report on the next loop turn.
  if (handles_ == nullptr || !handles_->pending_error.empty()) return;
  handles_->pending_error = UvError("write to " + peer_, status);
  uv_read_stop(reinterpret_cast<uv_stream_t*>(&handles_->tcp));
  uv_timer_start(
      &handles_->timer,
      [](uv_timer_t* timer) {
        auto* hh = static_cast<Handles*>(timer->data);
        if (hh->owner != nullptr) hh->owner->Fail(Status::IoError(hh->pending_error));
      },
      0, 0);
}

size_t TcpTransport::write_queue_size() const {
  return handles_ == nullptr ? 0 : handles_->tcp.write_queue_size;
}

void TcpTransport::OnTimeout() {
  Fail(Status::Timeout("connect to " + peer_ + " timed out"));
}

void TcpTransport::Fail(const Status& status) {
  TransportHandler* handler = handler_;
  Close();
  if (handler != nullptr) handler->OnTransportClosed(status);
}

void TcpTransport::Close() {
  if (handles_ == nullptr) return;
  Handles* h = handles_;
  handles_ = nullptr;
  handler_ = nullptr;
  h->owner = nullptr;
  uv_close(reinterpret_cast<uv_handle_t*>(&h->tcp), OnHandleClosed);
  uv_close(reinterpret_cast<uv_handle_t*>(&h->timer), OnHandleClosed);
}

}  // namespace postino::net
