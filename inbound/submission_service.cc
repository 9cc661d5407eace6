// submission_service.cc: SubmissionService (see submission_service.h).
#include "inbound/submission_service.h"

#include <fmt/format.h>

#include <fstream>
#include <sstream>

#include "common/log.h"

namespace postino::inbound {

namespace {

Result<std::string> ReadFile(const std::string& path, const char* what) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::NotFound(fmt::format("cannot read the {} {}", what, path));
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

}  // namespace

Result<std::shared_ptr<tls::TlsContext>> LoadServerCertificate(const std::string& cert_file,
                                                               const std::string& key_file) {
  Result<std::string> cert = ReadFile(cert_file, "certificate file");
  if (!cert.ok()) return cert.status();
  Result<std::string> key = ReadFile(key_file, "key file");
  if (!key.ok()) return key.status();
  Result<std::shared_ptr<tls::TlsContext>> ctx = tls::TlsContext::NewServer(*cert, *key);
  if (!ctx.ok()) {
    return Status::InvalidArgument(fmt::format("certificate {} with key {}: {}", cert_file,
                                               key_file, ctx.status().message()));
  }
  return ctx;
}

Result<std::unique_ptr<SubmissionService>> SubmissionService::Start(
    uv_loop_t* loop, SubmissionServiceOptions options, std::unique_ptr<SubmissionStore> store) {
  // No certificate (benchmarks only; postino.toml requires one): plain
  // text without STARTTLS, and no implicit-TLS listener.
  Result<std::shared_ptr<tls::TlsContext>> tls = std::shared_ptr<tls::TlsContext>();
  if (!options.cert_file.empty() || !options.tls_listen.empty()) {
    tls = LoadServerCertificate(options.cert_file, options.key_file);
    if (!tls.ok()) return tls.status();
  }
  std::unique_ptr<SubmissionService> s(new SubmissionService());
  s->loop_ = loop;
  s->options_ = std::move(options);
  s->store_ = std::move(store);
  const std::string url = s->options_.database_url;
  auto connect = [url]() { return db::Database::Connect(url); };
  s->auth_workers_ =
      std::make_unique<DbWorkers>(loop, "submission auth", s->options_.auth_threads, connect);
  s->store_workers_ =
      std::make_unique<DbWorkers>(loop, "submission store", s->options_.store_threads, connect);
  SubmissionOptions ho;
  ho.hostname = s->options_.hostname;
  ho.throttle = s->options_.throttle;
  ho.require_auth = s->options_.require_auth;
  ho.anonymous_user = s->options_.anonymous_user;
  s->handler_ = std::make_unique<SubmissionHandler>(loop, ho, s->auth_workers_.get(),
                                                    s->store_workers_.get(), s->store_.get(),
                                                    &SystemClock::Instance());
  ListenerOptions lo;
  lo.hostname = s->options_.hostname;
  lo.smtp = s->options_.limits;
  lo.max_connections = s->options_.max_connections;
  lo.max_connections_per_ip = s->options_.max_connections_per_ip;
  lo.idle_timeout = s->options_.idle_timeout;
  lo.session_timeout = s->options_.session_timeout;
  if (!s->options_.listen.empty()) {
    lo.name = "submission";
    lo.addresses = s->options_.listen;
    lo.tls = *tls ? ListenerTls::kStartTls : ListenerTls::kNone;
    Result<std::unique_ptr<Listener>> l = Listener::Start(loop, lo, *tls, s->handler_.get());
    if (!l.ok()) return l.status();
    s->plain_ = std::move(l).value();
  }
  if (!s->options_.tls_listen.empty()) {
    lo.name = "submission (implicit TLS)";
    lo.addresses = s->options_.tls_listen;
    lo.tls = ListenerTls::kImplicit;
    Result<std::unique_ptr<Listener>> l = Listener::Start(loop, lo, *tls, s->handler_.get());
    if (!l.ok()) return l.status();
    s->implicit_ = std::move(l).value();
  }
  std::string where;
  for (const auto& a : s->options_.listen) where += " " + a + " (STARTTLS)";
  for (const auto& a : s->options_.tls_listen) where += " " + a + " (implicit TLS)";
  log::Info("submission: listening on{} as {}", where, s->options_.hostname);
  return s;
}

SubmissionService::~SubmissionService() {
  plain_.reset();
  implicit_.reset();
  if (store_workers_) store_workers_->Stop();
  if (auth_workers_) auth_workers_->Stop();
  if (handler_) handler_->CancelTimers();
}

Status SubmissionService::ReloadCertificate() {
  if (options_.cert_file.empty()) return Status::Ok();
  Result<std::shared_ptr<tls::TlsContext>> tls =
      LoadServerCertificate(options_.cert_file, options_.key_file);
  if (!tls.ok()) return tls.status();
  if (plain_) plain_->SetTlsContext(*tls);
  if (implicit_) implicit_->SetTlsContext(*tls);
  log::Info("submission: certificate reloaded from {} (new sessions use it)", options_.cert_file);
  return Status::Ok();
}

void SubmissionService::Stop(std::function<void()> done) {
  stop_done_ = std::move(done);
  running_ = 0;
  handler_->CancelTimers();
  for (Listener* l : {plain_.get(), implicit_.get()}) {
    if (l == nullptr) continue;
    ++running_;
    l->Stop([this] { OneStopped(); });
  }
  if (running_ == 0) {
    ++running_;
    OneStopped();
  }
}

void SubmissionService::OneStopped() {
  if (--running_ > 0) return;
  // Stores in flight finish (their replies go nowhere: the sessions are
  // closed, and a message stored now is delivered: the client may resend
  // it, a duplicate rather than a loss).
  store_workers_->Stop();
  auth_workers_->Stop();
  if (stop_done_) {
    auto done = std::move(stop_done_);
    stop_done_ = nullptr;
    done();
  }
}

std::vector<uint16_t> SubmissionService::listen_ports() const {
  return plain_ ? plain_->ports() : std::vector<uint16_t>{};
}
std::vector<uint16_t> SubmissionService::tls_ports() const {
  return implicit_ ? implicit_->ports() : std::vector<uint16_t>{};
}
const SubmissionStats& SubmissionService::stats() const { return handler_->stats(); }

}  // namespace postino::inbound
