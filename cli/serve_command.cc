// serve_command.cc: `postino serve` (see serve_command.h): one libuv loop
// with the submission listener, and the HTTP service on its own threads;
// SIGTERM/SIGINT stop them (421 to open SMTP sessions, stores in flight
// finish), SIGHUP reloads the submission certificate.
#include "cli/serve_command.h"

#include <fmt/format.h>
#include <unistd.h>

#include "cli/bounces_commands.h"
#include "cli/http_wiring.h"
#include "common/log.h"
#include "inbound/pg_submission_store.h"

namespace postino::cli {

inbound::SubmissionServiceOptions SubmissionOptionsFrom(const config::Config& cfg) {
  const config::SubmissionConfig& s = cfg.submission;
  inbound::SubmissionServiceOptions o;
  o.listen = s.listen;
  o.tls_listen = s.tls_listen;
  o.cert_file = s.cert_file;
  o.key_file = s.key_file;
  o.hostname = s.hostname;
  if (o.hostname.empty()) {
    char buf[256] = {};
    o.hostname = gethostname(buf, sizeof(buf) - 1) == 0 && buf[0] != '\0' ? buf : "localhost";
  }
  o.limits.max_message_size = s.max_message_size;
  o.limits.max_recipients = static_cast<size_t>(s.max_recipients);
  o.limits.max_commands = static_cast<size_t>(s.max_commands);
  o.limits.max_errors = static_cast<size_t>(s.max_errors);
  o.max_connections = static_cast<size_t>(s.max_connections);
  o.max_connections_per_ip = static_cast<size_t>(s.max_connections_per_ip);
  o.idle_timeout = std::chrono::duration_cast<std::chrono::milliseconds>(s.idle_timeout);
  o.session_timeout = std::chrono::duration_cast<std::chrono::milliseconds>(s.session_timeout);
  o.auth_threads = s.auth_threads;
  o.store_threads = s.store_threads;
  o.database_url = cfg.database.url;
  return o;
}

Result<std::unique_ptr<inbound::SubmissionService>> StartSubmission(uv_loop_t* loop,
                                                                    const config::Config& cfg) {
  return inbound::SubmissionService::Start(loop, SubmissionOptionsFrom(cfg),
                                           inbound::MakePgSubmissionStore());
}

namespace {

std::string HostName() {
  char buf[256] = {};
  return gethostname(buf, sizeof(buf) - 1) == 0 && buf[0] != '\0' ? buf : "localhost";
}

}  // namespace

Result<std::unique_ptr<inbound::ReturnsService>> StartReturns(uv_loop_t* loop,
                                                              const config::Config& cfg) {
  const config::ReturnsConfig& r = cfg.returns;
  inbound::ReturnsServiceOptions o;
  o.listen = r.listen;
  o.cert_file = r.cert_file;
  o.key_file = r.key_file;
  o.hostname = !r.hostname.empty()              ? r.hostname
               : !cfg.submission.hostname.empty() ? cfg.submission.hostname
                                                  : HostName();
  o.limits.max_message_size = r.max_message_size;
  o.intake = IntakeConfigFrom(cfg);
  o.database_url = cfg.database.url;
  return inbound::ReturnsService::Start(loop, std::move(o));
}

namespace {

struct ServeSignals {
  uv_signal_t term{}, intr{}, hup{};
  inbound::SubmissionService* service = nullptr;
  inbound::ReturnsService* returns = nullptr;
  http::Service* http = nullptr;
  bool stopping = false;
  int running = 0;

  void Close() {
    for (uv_signal_t* h : {&term, &intr, &hup}) {
      if (!uv_is_closing(reinterpret_cast<uv_handle_t*>(h))) {
        uv_close(reinterpret_cast<uv_handle_t*>(h), nullptr);
      }
    }
  }
  void Stop(const char* why) {
    if (stopping) return;
    stopping = true;
    log::Info("{}: stopping the listeners", why);
    if (http != nullptr) http->Stop();
    running = 1;
    if (service != nullptr) {
      ++running;
      service->Stop([this] { OneStopped(); });
    }
    if (returns != nullptr) {
      ++running;
      returns->Stop([this] { OneStopped(); });
    }
    OneStopped();
  }
  void OneStopped() {
    if (--running == 0) Close();
  }
};

}  // namespace

int RunServe(Context& ctx, const ServeOptions& options) {
  Result<const config::Config*> cfg = ctx.Config();
  if (!cfg.ok()) return ctx.SetupFailure(cfg.status());
  const config::Config& c = **cfg;
  const bool pick = options.submission || options.http || options.returns;
  const bool want_submission = pick ? options.submission : c.submission.enabled;
  const bool want_http = pick ? options.http : c.http.enabled();
  const bool want_returns = pick ? options.returns : !c.returns.listen.empty();
  if (want_submission && !c.submission.enabled) {
    Fail(Status::InvalidArgument(fmt::format(
        "{}: --submission given but there is no enabled [submission] table", c.file)));
    return kExitConfig;
  }
  if (want_http && !c.http.enabled()) {
    Fail(Status::InvalidArgument(fmt::format(
        "{}: [http] listen is not set, so there is nothing to serve; add e.g.\n"
        "[http]\nlisten = [\"127.0.0.1:8080\"]",
        c.file)));
    return kExitConfig;
  }
  if (want_returns && c.returns.listen.empty()) {
    Fail(Status::InvalidArgument(
        fmt::format("{}: --returns given but [returns] listen is not set", c.file)));
    return kExitConfig;
  }
  if (!want_submission && !want_http && !want_returns) {
    Fail(Status::InvalidArgument(fmt::format(
        "{}: nothing to serve: configure [submission], [returns] listen and/or [http] listen",
        c.file)));
    return kExitConfig;
  }
  Result<db::Database*> db = ctx.Database();  // checks the schema
  if (!db.ok()) return ctx.SetupFailure(db.status());

  std::unique_ptr<http::Service> http_service;
  if (want_http) {
    Result<std::unique_ptr<http::Service>> started =
        StartHttpService(c, c.node.id, /*expect_loop=*/false);
    if (!started.ok()) {
      Fail(started.status());
      return started.status().code() == Status::Code::kIoError ? kExitFailure : kExitConfig;
    }
    http_service = std::move(started).value();
  }

  uv_loop_t loop;
  uv_loop_init(&loop);
  int code = kExitOk;
  {
    std::unique_ptr<inbound::SubmissionService> service;
    if (want_submission) {
      Result<std::unique_ptr<inbound::SubmissionService>> started = StartSubmission(&loop, c);
      if (!started.ok()) {
        if (http_service) http_service->Stop();
        uv_run(&loop, UV_RUN_NOWAIT);
        uv_loop_close(&loop);
        return Fail(started.status());
      }
      service = std::move(started).value();
    }
    std::unique_ptr<inbound::ReturnsService> returns;
    if (want_returns) {
      Result<std::unique_ptr<inbound::ReturnsService>> started = StartReturns(&loop, c);
      if (!started.ok()) {
        if (http_service) http_service->Stop();
        if (service) service->Stop([] {});
        service.reset();
        uv_run(&loop, UV_RUN_NOWAIT);
        uv_loop_close(&loop);
        return Fail(started.status());
      }
      returns = std::move(started).value();
    }
    ServeSignals sig;
    sig.service = service.get();
    sig.returns = returns.get();
    sig.http = http_service.get();
    for (uv_signal_t* h : {&sig.term, &sig.intr, &sig.hup}) {
      uv_signal_init(&loop, h);
      h->data = &sig;
    }
    uv_signal_start(&sig.term, [](uv_signal_t* h, int) { static_cast<ServeSignals*>(h->data)->Stop("SIGTERM"); }, SIGTERM);
    uv_signal_start(&sig.intr, [](uv_signal_t* h, int) { static_cast<ServeSignals*>(h->data)->Stop("SIGINT"); }, SIGINT);
    uv_signal_start(
        &sig.hup,
        [](uv_signal_t* h, int) {
          auto* self = static_cast<ServeSignals*>(h->data);
          if (self->service != nullptr) {
            Status st = self->service->ReloadCertificate();
            if (!st.ok()) {
              log::Error("SIGHUP: submission certificate not reloaded, the running one stays: {}",
                         st.message());
            }
          }
          if (self->returns != nullptr) {
            Status st = self->returns->ReloadCertificate();
            if (!st.ok()) {
              log::Error("SIGHUP: [returns] certificate not reloaded, the running one stays: {}",
                         st.message());
            }
          }
        },
        SIGHUP);
    std::string what;
    for (auto [on, name] : {std::pair{want_submission, "submission"},
                            std::pair{want_returns, "returns intake"}, std::pair{want_http, "HTTP"}}) {
      if (on) what += (what.empty() ? "" : ", ") + std::string(name);
    }
    fmt::print(stderr, "postino serve: {} listener(s) running (SIGTERM to stop)\n", what);
    uv_run(&loop, UV_RUN_DEFAULT);
    service.reset();
    returns.reset();
    uv_run(&loop, UV_RUN_DEFAULT);
  }
  uv_loop_close(&loop);
  return code;
}

}  // namespace postino::cli
