// listener.cc: Listener (see listener.h): bound sockets, accepting with the
// connection limits, retiring finished connections outside their own call
// stacks, SIGHUP certificate swaps and an orderly stop.
#include "inbound/listener.h"

#include <fmt/format.h>

#include <unordered_map>

#include "common/log.h"
#include "engine/net/address.h"
#include "inbound/connection.h"

namespace postino::inbound {

void InboundHandler::Authenticate(const SessionInfo&, std::string, std::string,
                                  std::function<void(AuthOutcome)> done) {
  done(AuthOutcome{false, smtp::ServerReply{454, "4.7.0", "Authentication not available"}});
}

class Listener::Impl {
 public:
  struct Server {
    uv_tcp_t tcp;
    Impl* owner;
    uint16_t port;
  };

  Impl(uv_loop_t* loop, ListenerOptions options, std::shared_ptr<tls::TlsContext> tls,
       InboundHandler* handler)
      : loop_(loop), options_(std::move(options)), tls_(std::move(tls)), handler_(handler) {
    reap_ = new uv_async_t;
    uv_async_init(loop_, reap_, [](uv_async_t* a) { static_cast<Impl*>(a->data)->Reap(); });
    reap_->data = this;
  }

  ~Impl() {
    std::vector<Connection*> all;
    for (auto& [ptr, conn] : conns_) all.push_back(ptr);
    for (Connection* c : all) c->Abort(smtp::ServerReply{421, "4.3.2", "Service shutting down"});
    dead_.clear();
    conns_.clear();
    CloseServers();
    if (reap_ != nullptr) {
      uv_close(reinterpret_cast<uv_handle_t*>(reap_),
               [](uv_handle_t* h) { delete reinterpret_cast<uv_async_t*>(h); });
      reap_ = nullptr;
    }
  }

  Status Bind() {
    for (const std::string& text : options_.addresses) {
      Result<net::HostPort> hp = net::ParseHostPort(text, 0);
      sockaddr_storage addr{};
      Status st = hp.ok() ? net::MakeSockaddr(hp->host, hp->port, &addr) : hp.status();
      if (!st.ok()) {
        return Status::InvalidArgument(
            fmt::format("{}: \"{}\" is not IP:port: {}", options_.name, text, st.message()));
      }
      auto* s = new Server{};
      s->owner = this;
      uv_tcp_init(loop_, &s->tcp);
      s->tcp.data = s;
      servers_.push_back(s);
      int rc = uv_tcp_bind(&s->tcp, reinterpret_cast<const sockaddr*>(&addr), 0);
      if (rc == 0) {
        rc = uv_listen(reinterpret_cast<uv_stream_t*>(&s->tcp), 511,
                       [](uv_stream_t* server, int status) {
                         auto* srv = static_cast<Server*>(server->data);
                         srv->owner->OnConnection(server, status);
                       });
      }
      if (rc != 0) {
        std::string hint = rc == UV_EACCES ? " (ports below 1024 need CAP_NET_BIND_SERVICE, "
                                             "see docs/submission.md)"
                                           : "";
        return Status::IoError(fmt::format("{}: cannot listen on {}: {}{}", options_.name, text,
                                           uv_strerror(rc), hint));
      }
      sockaddr_storage bound{};
      int len = sizeof(bound);
      uv_tcp_getsockname(&s->tcp, reinterpret_cast<sockaddr*>(&bound), &len);
      s->port = net::SockaddrPort(reinterpret_cast<const sockaddr*>(&bound));
    }
    return Status::Ok();
  }

  void OnConnection(uv_stream_t* server, int status) {
    if (status != 0) {
      log::Warn("{}: accept error: {}", options_.name, uv_strerror(status));
      return;
    }
    Result<std::unique_ptr<net::TcpTransport>> tcp = net::TcpTransport::Accept(server, nullptr);
    if (!tcp.ok()) {
      log::Warn("{}: {}", options_.name, tcp.status().message());
      return;
    }
    std::string ip = (*tcp)->peer_address();
    const char* refusal = nullptr;
    if (stopping_) {
      refusal = "Service shutting down";
    } else if (conns_.size() >= options_.max_connections) {
      refusal = "Too many connections, try again later";
    } else if (per_ip_[ip] >= options_.max_connections_per_ip) {
      refusal = "Too many connections from your address, try again later";
    }
    if (refusal != nullptr) {
      if (per_ip_[ip] == 0) per_ip_.erase(ip);
      log::Info("{}: refused a connection from {}: {}", options_.name, ip, refusal);
      if (options_.tls != ListenerTls::kImplicit) {
        (*tcp)->Write(smtp::ServerReply{421, "4.7.0", options_.hostname + " " + refusal}.Format());
      }
      (*tcp)->Close();
      return;
    }
    ++per_ip_[ip];
    auto conn = std::make_unique<Connection>(loop_, options_, ++next_id_, tls_, handler_,
                                             [this](Connection* c) { Retire(c); });
    Connection* raw = conn.get();
    conns_.emplace(raw, std::move(conn));
    raw->Begin(std::move(tcp).value());
  }

  void Retire(Connection* c) {
    auto it = conns_.find(c);
    if (it == conns_.end()) return;
    const std::string& ip = c->info().peer_ip;
    auto pi = per_ip_.find(ip);
    if (pi != per_ip_.end() && --pi->second == 0) per_ip_.erase(pi);
    dead_.push_back(std::move(it->second));
    conns_.erase(it);
    if (reap_ != nullptr) uv_async_send(reap_);
  }

  void Reap() {
    dead_.clear();
    MaybeStopped();
  }

  void CloseServers() {
    for (Server* s : servers_) {
      uv_close(reinterpret_cast<uv_handle_t*>(&s->tcp),
               [](uv_handle_t* h) { delete static_cast<Server*>(h->data); });
    }
    servers_.clear();
  }

  void Stop(std::function<void()> done) {
    stopping_ = true;
    stop_done_ = std::move(done);
    CloseServers();
    std::vector<Connection*> all;
    for (auto& [ptr, conn] : conns_) all.push_back(ptr);
    for (Connection* c : all) {
      c->Abort(smtp::ServerReply{421, "4.3.2", options_.hostname + " Service shutting down"});
    }
    if (reap_ != nullptr) uv_async_send(reap_);
  }

  void MaybeStopped() {
    if (!stopping_ || !conns_.empty() || !dead_.empty() || reap_ == nullptr) return;
    uv_close(reinterpret_cast<uv_handle_t*>(reap_),
             [](uv_handle_t* h) { delete reinterpret_cast<uv_async_t*>(h); });
    reap_ = nullptr;
    if (stop_done_) {
      auto done = std::move(stop_done_);
      stop_done_ = nullptr;
      done();
    }
  }

  uv_loop_t* loop_;
  ListenerOptions options_;
  std::shared_ptr<tls::TlsContext> tls_;
  InboundHandler* handler_;
  std::vector<Server*> servers_;
  std::unordered_map<Connection*, std::unique_ptr<Connection>> conns_;
  std::vector<std::unique_ptr<Connection>> dead_;
  std::unordered_map<std::string, size_t> per_ip_;
  uv_async_t* reap_ = nullptr;
  bool stopping_ = false;
  std::function<void()> stop_done_;
  uint64_t next_id_ = 0;
};

Result<std::unique_ptr<Listener>> Listener::Start(uv_loop_t* loop, ListenerOptions options,
                                                  std::shared_ptr<tls::TlsContext> tls,
                                                  InboundHandler* handler) {
  if (options.tls != ListenerTls::kNone && tls == nullptr) {
    return Status::InvalidArgument(
        fmt::format("{}: a TLS listener needs a certificate and key", options.name));
  }
  if (options.addresses.empty()) {
    return Status::InvalidArgument(fmt::format("{}: no address to listen on", options.name));
  }
  auto impl = std::make_unique<Impl>(loop, std::move(options), std::move(tls), handler);
  Status st = impl->Bind();
  if (!st.ok()) return st;
  return std::unique_ptr<Listener>(new Listener(std::move(impl)));
}

Listener::Listener(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Listener::~Listener() = default;

void Listener::SetTlsContext(std::shared_ptr<tls::TlsContext> tls) { impl_->tls_ = std::move(tls); }
void Listener::Stop(std::function<void()> done) { impl_->Stop(std::move(done)); }
size_t Listener::connections() const { return impl_->conns_.size(); }
std::vector<uint16_t> Listener::ports() const {
  std::vector<uint16_t> out;
  for (const auto* s : impl_->servers_) out.push_back(s->port);
  return out;
}

}  // namespace postino::inbound
