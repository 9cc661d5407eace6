// serve_command.cc: `postino serve` (see serve_command.h): one libuv loop
// with the submission listener; SIGTERM/SIGINT stop it (421 to open
// sessions, stores in flight finish), SIGHUP reloads the certificate.
#include "cli/serve_command.h"

#include <fmt/format.h>
#include <unistd.h>

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

struct ServeSignals {
  uv_signal_t term{}, intr{}, hup{};
  inbound::SubmissionService* service = nullptr;
  bool stopping = false;

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
    log::Info("{}: stopping the submission listener", why);
    service->Stop([this] { Close(); });
  }
};

}  // namespace

int RunServe(Context& ctx) {
  Result<const config::Config*> cfg = ctx.Config();
  if (!cfg.ok()) return ctx.SetupFailure(cfg.status());
  if (!(*cfg)->submission.enabled) {
    return Fail(Status::InvalidArgument(fmt::format(
        "{}: no enabled [submission] table: `postino serve` runs only the submission listener",
        (*cfg)->file)));
  }
  Result<db::Database*> db = ctx.Database();  // checks the schema
  if (!db.ok()) return ctx.SetupFailure(db.status());
  uv_loop_t loop;
  uv_loop_init(&loop);
  int code = kExitOk;
  {
    Result<std::unique_ptr<inbound::SubmissionService>> service = StartSubmission(&loop, **cfg);
    if (!service.ok()) {
      uv_run(&loop, UV_RUN_NOWAIT);
      uv_loop_close(&loop);
      return Fail(service.status());
    }
    ServeSignals sig;
    sig.service = service->get();
    for (uv_signal_t* h : {&sig.term, &sig.intr, &sig.hup}) {
      uv_signal_init(&loop, h);
      h->data = &sig;
    }
    uv_signal_start(&sig.term, [](uv_signal_t* h, int) { static_cast<ServeSignals*>(h->data)->Stop("SIGTERM"); }, SIGTERM);
    uv_signal_start(&sig.intr, [](uv_signal_t* h, int) { static_cast<ServeSignals*>(h->data)->Stop("SIGINT"); }, SIGINT);
    uv_signal_start(
        &sig.hup,
        [](uv_signal_t* h, int) {
          Status st = static_cast<ServeSignals*>(h->data)->service->ReloadCertificate();
          if (!st.ok()) {
            log::Error("SIGHUP: certificate not reloaded, the running one stays: {}", st.message());
          }
        },
        SIGHUP);
    fmt::print(stderr, "postino serve: submission listener running (SIGTERM to stop)\n");
    uv_run(&loop, UV_RUN_DEFAULT);
    service->reset();
    uv_run(&loop, UV_RUN_DEFAULT);
  }
  uv_loop_close(&loop);
  return code;
}

}  // namespace postino::cli
