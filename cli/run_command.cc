// run_command.cc: `postino run`: resolves the node identity, builds the
// scheduler (scheduler/scheduler.h) over PostgreSQL, and wires the signals:
// SIGTERM/SIGINT stop it (transactions in flight finish), SIGHUP reloads
// the shaping part of the configuration.
#include "cli/run_command.h"

#include <fmt/format.h>
#include <uv.h>

#include "cli/http_wiring.h"
#include "cli/serve_command.h"
#include "common/log.h"
#include "scheduler/db_work_store.h"
#include "scheduler/engine_config.h"
#include "scheduler/message_renderer.h"
#include "scheduler/scheduler.h"

// LeakSanitizer (debug-asan builds) reads this: libpqxx 6.4 leaks the
// PGresult of a statement cut short by a lost connection (inside
// pqxx::transaction_base::direct_exec), which `postino run` meets on every
// database outage. Not ours to fix; nothing else is suppressed.
extern "C" const char* __lsan_default_suppressions() { return "leak:libpqxx\n"; }

namespace postino::cli {

static_assert(scheduler::kExitDatabase == kExitDatabase && scheduler::kExitState == kExitState &&
              scheduler::kExitOk == kExitOk);

namespace {

// The signals of the process, on the scheduler's loop.
class Signals {
 public:
  Signals(uv_loop_t* loop, scheduler::Scheduler& s, const config::Config& cfg)
      : scheduler_(s), cfg_(cfg) {
    for (uv_signal_t* h : {&term_, &int_, &hup_}) {
      uv_signal_init(loop, h);
      h->data = this;
    }
    uv_signal_start(&term_, [](uv_signal_t* h, int) { Self(h)->scheduler_.Stop(kExitOk, "SIGTERM"); },
                    SIGTERM);
    uv_signal_start(&int_, [](uv_signal_t* h, int) { Self(h)->scheduler_.Stop(kExitOk, "SIGINT"); },
                    SIGINT);
    uv_signal_start(&hup_, [](uv_signal_t* h, int) { Self(h)->Reload(); }, SIGHUP);
  }
  // The submission listener, when [submission] is enabled: SIGHUP reloads
  // its certificate too.
  void set_submission(inbound::SubmissionService* s) { submission_ = s; }
  void set_returns(inbound::ReturnsService* r) { returns_ = r; }
  void Close() {
    for (uv_signal_t* h : {&term_, &int_, &hup_}) {
      if (!uv_is_closing(reinterpret_cast<uv_handle_t*>(h))) {
        uv_close(reinterpret_cast<uv_handle_t*>(h), nullptr);
      }
    }
  }

 private:
  static Signals* Self(uv_signal_t* h) { return static_cast<Signals*>(h->data); }

  // Re-reads the configuration file and applies its shaping part (sources,
  // pools, limits, rules, backoff, warm-up) without dropping connections. An
  // invalid file is refused; the running configuration stays.
  void Reload() {
    if (submission_ != nullptr) {
      Status cert = submission_->ReloadCertificate();
      if (!cert.ok()) log::Error("SIGHUP: submission certificate not reloaded: {}", cert.message());
    }
    if (returns_ != nullptr) {
      Status cert = returns_->ReloadCertificate();
      if (!cert.ok()) log::Error("SIGHUP: [returns] certificate not reloaded: {}", cert.message());
    }
    Result<config::Config> fresh = config::LoadConfigFile(cfg_.file);
    Status st = fresh.ok() ? scheduler_.Reload(*fresh) : fresh.status();
    if (!st.ok()) {
      log::Error("SIGHUP: configuration not reloaded, the running one stays in force:\n{}",
                 st.message());
      return;
    }
    log::Info("SIGHUP: configuration reloaded from {} (limits, rules, pools and sources)",
              cfg_.file);
  }

  scheduler::Scheduler& scheduler_;
  const config::Config& cfg_;
  inbound::SubmissionService* submission_ = nullptr;
  inbound::ReturnsService* returns_ = nullptr;
  uv_signal_t term_{}, int_{}, hup_{};
};

}  // namespace

int RunEngine(Context& ctx, const RunOptions& options) {
  Result<const config::Config*> cfg = ctx.Config();
  if (!cfg.ok()) return ctx.SetupFailure(cfg.status());
  Result<db::Database*> db = ctx.Database();  // checks the schema
  if (!db.ok()) return ctx.SetupFailure(db.status());
  Result<std::unique_ptr<scheduler::MessageRenderer>> renderer =
      scheduler::MessageRenderer::Create(**cfg);
  if (!renderer.ok()) {
    Fail(renderer.status());
    return kExitConfig;
  }
  // A stable identity: a restarted node takes back its own leases at once;
  // an advisory lock keeps two live processes from sharing it.
  scheduler::SchedulerOptions so;
  so.node = !options.node_id.empty() ? options.node_id : (*cfg)->node.id;
  so.until_idle = options.until_idle;
  Result<delivery::EngineConfig> engine_config = scheduler::MakeEngineConfig(**cfg, so.node);
  if (!engine_config.ok()) {
    Fail(engine_config.status());
    return kExitConfig;
  }

  // [http] listen: the unsubscribe endpoint, /metrics and /healthz run
  // beside the engine, on their own threads, until the engine has stopped.
  Result<std::unique_ptr<http::Service>> http_service =
      StartHttpService(**cfg, so.node, /*expect_loop=*/true);
  if (!http_service.ok()) {
    Fail(http_service.status());
    return http_service.status().code() == Status::Code::kIoError ? kExitFailure : kExitConfig;
  }

  uv_loop_t loop;
  uv_loop_init(&loop);
  int code;
  {
    scheduler::Scheduler s(&loop, **cfg, so, scheduler::MakeDbWorkStore((*cfg)->database.url),
                           std::move(renderer).value());
    Signals signals(&loop, s, **cfg);
    // The submission listener shares the loop; it stops with the engine.
    std::unique_ptr<inbound::SubmissionService> submission;
    std::unique_ptr<inbound::ReturnsService> returns;  // [returns] listen: the intake
    Status st = s.Start(std::move(engine_config).value(), [&signals, &submission, &returns] {
      signals.Close();
      if (submission) submission->Stop([] {});
      if (returns) returns->Stop([] {});
    });
    if (st.ok() && (*cfg)->submission.enabled) {
      Result<std::unique_ptr<inbound::SubmissionService>> started = StartSubmission(&loop, **cfg);
      if (started.ok()) {
        submission = std::move(started).value();
        signals.set_submission(submission.get());
      } else {
        s.Stop(kExitConfig, "the submission listener could not start");
        Fail(started.status());
      }
    }
    if (st.ok() && !(*cfg)->returns.listen.empty()) {
      Result<std::unique_ptr<inbound::ReturnsService>> started = StartReturns(&loop, **cfg);
      if (started.ok()) {
        returns = std::move(started).value();
        signals.set_returns(returns.get());
      } else {
        s.Stop(kExitConfig, "the [returns] intake listener could not start");
        Fail(started.status());
      }
    }
    if (!st.ok()) {
      signals.Close();
      uv_run(&loop, UV_RUN_NOWAIT);
      uv_loop_close(&loop);
      Fail(st);
      return st.code() == Status::Code::kFailedPrecondition ? kExitState : kExitDatabase;
    }
    uv_run(&loop, UV_RUN_DEFAULT);
    code = s.Finish();
    submission.reset();
    returns.reset();
    uv_run(&loop, UV_RUN_NOWAIT);
  }
  uv_loop_close(&loop);
  return code;
}

}  // namespace postino::cli
