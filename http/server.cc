// server.cc: libmicrohttpd daemons and the request life cycle: headers ->
// body (bounded; form fields through MHD's post processor, which decodes
// both application/x-www-form-urlencoded and multipart/form-data) -> Handler
// -> response. The Handler answers through a callback, from any thread:
// when it has not answered by the time Handle returns, the connection is
// suspended until it does, so a request waiting for the database never
// holds one of MHD's network threads (which serve many connections each),
// and 50 clients' requests can wait in one database batch.
#include "http/server.h"

#include <arpa/inet.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <cstdarg>
#include <cstring>
#include <mutex>
#include <optional>
#include <thread>

#include <fmt/format.h>

#include "common/log.h"
#include "common/metric_families.h"
#include "common/strings.h"

namespace postino::http {
namespace {

constexpr size_t kMaxFormFields = 32;
constexpr size_t kMaxFormValueBytes = 4096;

struct RequestState {
  Request req;
  MHD_PostProcessor* post = nullptr;
  size_t body_bytes = 0;
  bool too_large = false;
  bool bad_body = false;
  bool use_raw_body = false;
  bool dispatched = false;  // the Handler has it
  std::mutex mu;
  bool suspended = false;            // guarded by mu: the connection waits for the answer
  std::optional<Response> response;  // guarded by mu: the Handler's answer

  ~RequestState() {
    if (post != nullptr) MHD_destroy_post_processor(post);
  }
};

MHD_Result CollectValue(void* cls, MHD_ValueKind, const char* key, const char* value) {
  auto* map = static_cast<std::map<std::string, std::string>*>(cls);
  if (key != nullptr && map->size() < 64) map->emplace(AsciiLower(key), value ? value : "");
  return MHD_YES;
}

MHD_Result CollectQuery(void* cls, MHD_ValueKind, const char* key, const char* value) {
  auto* map = static_cast<std::map<std::string, std::string>*>(cls);
  if (key != nullptr && map->size() < 32) map->emplace(key, value ? value : "");
  return MHD_YES;
}

MHD_Result CollectPost(void* cls, MHD_ValueKind, const char* key, const char*, const char*,
                       const char*, const char* data, uint64_t, size_t size) {
  auto* st = static_cast<RequestState*>(cls);
  if (key == nullptr) return MHD_YES;
  auto it = st->req.form.find(key);
  if (it == st->req.form.end()) {
    if (st->req.form.size() >= kMaxFormFields) return MHD_YES;
    it = st->req.form.emplace(key, std::string()).first;
  }
  if (it->second.size() + size <= kMaxFormValueBytes) it->second.append(data, size);
  return MHD_YES;
}

void Logger(void*, const char* fmt, va_list ap) {
  char buf[512];
  std::vsnprintf(buf, sizeof buf, fmt, ap);
  std::string line(buf);
  while (!line.empty() && (line.back() == '\n' || line.back() == ' ')) line.pop_back();
  log::Debug("http: {}", line);
}

MHD_Result Queue(MHD_Connection* conn, const Response& r) {
  MHD_Response* resp = MHD_create_response_from_buffer(
      r.body.size(), const_cast<char*>(r.body.data()), MHD_RESPMEM_MUST_COPY);
  if (resp == nullptr) return MHD_NO;
  MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, r.content_type.c_str());
  for (const auto& [name, value] : r.headers) {
    MHD_add_response_header(resp, name.c_str(), value.c_str());
  }
  MHD_Result ret = MHD_queue_response(conn, static_cast<unsigned>(r.status), resp);
  MHD_destroy_response(resp);
  return ret;
}

}  // namespace

struct Server::Impl {
  ServerOptions options;
  Handler* handler = nullptr;
  std::vector<MHD_Daemon*> daemons;
  std::vector<uint16_t> ports;
  // Requests handed to the Handler and not answered yet: Stop waits for
  // them (MHD must not stop with a connection suspended).
  std::mutex inflight_mu;
  std::condition_variable inflight_cv;
  size_t inflight = 0;

  static MHD_Result OnRequest(void* cls, MHD_Connection* conn, const char* url, const char* method,
                              const char*, const char* upload_data, size_t* upload_data_size,
                              void** con_cls) {
    auto* self = static_cast<Impl*>(cls);
    auto* st = static_cast<RequestState*>(*con_cls);
    if (st == nullptr) {
      st = new RequestState();
      *con_cls = st;
      st->req.method = method;
      st->req.path = url;
      MHD_get_connection_values(conn, MHD_HEADER_KIND, CollectValue, &st->req.headers);
      MHD_get_connection_values(conn, MHD_GET_ARGUMENT_KIND, CollectQuery, &st->req.query);
      const MHD_ConnectionInfo* info =
          MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
      if (info != nullptr && info->client_addr != nullptr) {
        char text[INET6_ADDRSTRLEN] = {0};
        const sockaddr* sa = info->client_addr;
        if (sa->sa_family == AF_INET) {
          inet_ntop(AF_INET, &reinterpret_cast<const sockaddr_in*>(sa)->sin_addr, text, sizeof text);
        } else if (sa->sa_family == AF_INET6) {
          inet_ntop(AF_INET6, &reinterpret_cast<const sockaddr_in6*>(sa)->sin6_addr, text,
                    sizeof text);
        }
        st->req.remote = text;
      }
      if (st->req.method == "POST") {
        st->post = MHD_create_post_processor(conn, 4096, CollectPost, st);
        st->use_raw_body = st->post == nullptr;
      }
      return MHD_YES;
    }
    if (*upload_data_size > 0) {
      st->body_bytes += *upload_data_size;
      if (st->body_bytes > self->options.max_body_bytes) {
        st->too_large = true;
      } else if (st->post != nullptr) {
        if (MHD_post_process(st->post, upload_data, *upload_data_size) != MHD_YES) {
          st->bad_body = true;
        }
      } else {
        st->req.body.append(upload_data, *upload_data_size);
      }
      *upload_data_size = 0;
      return MHD_YES;
    }
    if (st->too_large) {
      Response r = Response::Text(413, "request body too large\n");
      r.headers.emplace_back("Connection", "close");
      return Queue(conn, r);
    }
    if (st->bad_body) return Queue(conn, Response::Text(400, "malformed form body\n"));
    if (st->dispatched) {
      // Resumed: the Handler has answered.
      std::optional<Response> r;
      {
        std::lock_guard lock(st->mu);
        r = std::move(st->response);
      }
      if (!r) return MHD_NO;  // cannot happen: resume follows the answer
      return Queue(conn, *r);
    }
    if (st->use_raw_body) st->req.form = ParseForm(st->req.body, kMaxFormFields);
    st->dispatched = true;
    {
      std::lock_guard lock(self->inflight_mu);
      ++self->inflight;
    }
    self->handler->Handle(st->req, [self, st, conn](Response r) {
      bool resume = false;
      {
        std::lock_guard lock(st->mu);
        st->response = std::move(r);
        resume = st->suspended;
      }
      // After this, `st` may be freed at any time (by MHD, once resumed).
      if (resume) MHD_resume_connection(conn);
      std::lock_guard lock(self->inflight_mu);
      if (--self->inflight == 0) self->inflight_cv.notify_all();
    });
    std::optional<Response> now;
    {
      std::lock_guard lock(st->mu);
      if (st->response) {
        now = std::move(st->response);  // answered inside Handle: no suspension
      } else {
        st->suspended = true;
        MHD_suspend_connection(conn);
      }
    }
    if (now) return Queue(conn, *now);
    return MHD_YES;
  }

  static void OnCompleted(void*, MHD_Connection*, void** con_cls, MHD_RequestTerminationCode) {
    delete static_cast<RequestState*>(*con_cls);
    *con_cls = nullptr;
  }

  static void OnConnection(void*, MHD_Connection*, void**, MHD_ConnectionNotificationCode code) {
    static metrics::GaugeSeries& open = metrics::families::HttpConnections().Get();
    if (code == MHD_CONNECTION_NOTIFY_STARTED) {
      open.Add(1);
    } else {
      open.Sub(1);
    }
  }
};

Result<ListenAddress> ParseListenAddress(const std::string& text) {
  ListenAddress a;
  std::string host, port;
  if (!text.empty() && text[0] == '[') {
    size_t close = text.find(']');
    if (close == std::string::npos || close + 1 >= text.size() || text[close + 1] != ':') {
      return Status::InvalidArgument("\"" + text + "\" is not \"IP:port\" (IPv6 as \"[::1]:8080\")");
    }
    host = text.substr(1, close - 1);
    port = text.substr(close + 2);
  } else {
    size_t colon = text.rfind(':');
    if (colon == std::string::npos || text.find(':') != colon) {
      return Status::InvalidArgument("\"" + text + "\" is not \"IP:port\" (IPv6 as \"[::1]:8080\")");
    }
    host = text.substr(0, colon);
    port = text.substr(colon + 1);
  }
  in6_addr v6{};
  in_addr v4{};
  if (inet_pton(AF_INET, host.c_str(), &v4) != 1 && inet_pton(AF_INET6, host.c_str(), &v6) != 1) {
    return Status::InvalidArgument("\"" + text + "\": \"" + host + "\" is not an IP address");
  }
  if (port.empty() || port.size() > 5 || port.find_first_not_of("0123456789") != std::string::npos ||
      std::stoul(port) > 65535) {
    return Status::InvalidArgument("\"" + text + "\": the port must be 0-65535");
  }
  a.ip = host;
  a.port = static_cast<uint16_t>(std::stoul(port));
  return a;
}

Server::Server(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

Server::~Server() { Stop(); }

std::vector<uint16_t> Server::ports() const { return impl_->ports; }

void Server::Stop() {
  // MHD must not stop with a connection suspended: every request handed to
  // the Handler is answered (and its connection resumed) first. The Handler
  // answers every request (its database lanes answer with an error when
  // they stop), so this wait ends.
  for (MHD_Daemon* d : impl_->daemons) {
    MHD_socket listener = MHD_quiesce_daemon(d);  // no new connections
    if (listener != MHD_INVALID_SOCKET) close(listener);
  }
  {
    std::unique_lock lock(impl_->inflight_mu);
    impl_->inflight_cv.wait(lock, [&] { return impl_->inflight == 0; });
  }
  for (MHD_Daemon* d : impl_->daemons) MHD_stop_daemon(d);
  impl_->daemons.clear();
}

Result<std::unique_ptr<Server>> Server::Start(const ServerOptions& options, Handler& handler) {
  metrics::families::HttpConnections();
  auto impl = std::make_unique<Impl>();
  impl->options = options;
  impl->handler = &handler;
  std::unique_ptr<Server> server(new Server(std::move(impl)));
  Impl* im = server->impl_.get();
  bool tls = !options.cert_pem.empty() && !options.key_pem.empty();
  for (const ListenAddress& addr : options.listen) {
    sockaddr_storage ss{};
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_USE_ERROR_LOG |
                     MHD_ALLOW_SUSPEND_RESUME;
    if (tls) flags |= MHD_USE_TLS;
    if (addr.ip.find(':') != std::string::npos) {
      auto* sa = reinterpret_cast<sockaddr_in6*>(&ss);
      sa->sin6_family = AF_INET6;
      sa->sin6_port = htons(addr.port);
      inet_pton(AF_INET6, addr.ip.c_str(), &sa->sin6_addr);
      flags |= MHD_USE_IPv6;
    } else {
      auto* sa = reinterpret_cast<sockaddr_in*>(&ss);
      sa->sin_family = AF_INET;
      sa->sin_port = htons(addr.port);
      inet_pton(AF_INET, addr.ip.c_str(), &sa->sin_addr);
    }
    std::vector<MHD_OptionItem> opts = {
        {MHD_OPTION_SOCK_ADDR, 0, &ss},
        {MHD_OPTION_THREAD_POOL_SIZE, static_cast<intptr_t>(options.threads > 0 ? options.threads : 1),
         nullptr},
        {MHD_OPTION_CONNECTION_LIMIT, static_cast<intptr_t>(options.connection_limit), nullptr},
        {MHD_OPTION_PER_IP_CONNECTION_LIMIT, static_cast<intptr_t>(options.per_ip_connection_limit),
         nullptr},
        {MHD_OPTION_CONNECTION_TIMEOUT, static_cast<intptr_t>(options.idle_timeout_seconds), nullptr},
        {MHD_OPTION_CONNECTION_MEMORY_LIMIT, static_cast<intptr_t>(options.connection_memory_bytes),
         nullptr},
        {MHD_OPTION_LISTEN_BACKLOG_SIZE, 1024, nullptr},
        {MHD_OPTION_NOTIFY_COMPLETED, reinterpret_cast<intptr_t>(&Impl::OnCompleted), nullptr},
        {MHD_OPTION_NOTIFY_CONNECTION, reinterpret_cast<intptr_t>(&Impl::OnConnection), nullptr},
        {MHD_OPTION_EXTERNAL_LOGGER, reinterpret_cast<intptr_t>(&Logger), nullptr},
    };
    if (tls) {
      opts.push_back({MHD_OPTION_HTTPS_MEM_CERT, 0, const_cast<char*>(options.cert_pem.c_str())});
      opts.push_back({MHD_OPTION_HTTPS_MEM_KEY, 0, const_cast<char*>(options.key_pem.c_str())});
    }
    opts.push_back({MHD_OPTION_END, 0, nullptr});
    MHD_Daemon* d = MHD_start_daemon(flags, addr.port, nullptr, nullptr, &Impl::OnRequest, im,
                                     MHD_OPTION_ARRAY, opts.data(), MHD_OPTION_END);
    if (d == nullptr) {
      return Status::IoError(fmt::format(
          "http: cannot listen on {}:{} ({}; is the address local and the port free?)",
          addr.ip.find(':') != std::string::npos ? "[" + addr.ip + "]" : addr.ip, addr.port,
          tls ? "with TLS: check the certificate and key" : "plain HTTP"));
    }
    im->daemons.push_back(d);
    const MHD_DaemonInfo* info = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT);
    im->ports.push_back(info != nullptr ? info->port : addr.port);
  }
  return server;
}

}  // namespace postino::http
