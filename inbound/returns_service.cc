// returns_service.cc: ReturnsService (see returns_service.h).
#include "inbound/returns_service.h"

#include <fmt/format.h>

#include "common/log.h"
#include "inbound/db_workers.h"
#include "inbound/submission_service.h"

namespace postino::inbound {

class ReturnsService::Handler final : public InboundHandler {
 public:
  Handler(const returns::ReturnsConfig& cfg, DbWorkers* workers) : cfg_(cfg), workers_(workers) {}

  bool RequiresAuth() const override { return false; }

  // Bounces come from the null sender, complaints from anyone.
  std::optional<smtp::ServerReply> CheckSender(const SessionInfo&, const Envelope&) override {
    return std::nullopt;
  }

  std::optional<smtp::ServerReply> CheckRecipient(const SessionInfo&, const Envelope&,
                                                  const smtp::ServerRecipient& rcpt) override {
    if (returns::AcceptsRecipient(cfg_, rcpt.address)) return std::nullopt;
    return smtp::ServerReply{550, "5.1.1",
                             "no such mailbox here: this server takes bounces and complaints only"};
  }

  void Accept(const SessionInfo& session, Envelope env, std::string bytes,
              std::function<void(smtp::ServerReply)> done) override {
    std::vector<std::string> rcpts;
    rcpts.reserve(env.rcpts.size());
    for (const auto& r : env.rcpts) rcpts.push_back(r.address);
    const std::string peer = session.peer_ip;
    workers_->Post([cfg = &cfg_, from = std::move(env.mail_from), rcpts = std::move(rcpts),
                    bytes = std::move(bytes), peer,
                    done = std::move(done)](db::Database* db) -> std::function<void()> {
      if (db == nullptr) {
        return [done] {
          done({451, "4.3.0", "the report database is unavailable; try again later"});
        };
      }
      Result<returns::IntakeSummary> r =
          returns::ProcessReturnedMessage(*db, *cfg, from, rcpts, bytes);
      if (!r.ok()) {
        if (r.status().code() == Status::Code::kIoError) DbWorkers::ReportBroken();
        log::Error("returns: report from {} not recorded: {}", peer, r.status().message());
        return [done] { done({451, "4.3.0", "the report could not be recorded; try again later"}); };
      }
      returns::ExportIntakeMetrics(*r, "smtp");
      log::Info("returns: report from {}: {} recipient(s), {} matched, {} unmatched{}", peer,
                r->recipients, r->matched, r->unmatched, r->duplicates ? " (a duplicate)" : "");
      return [done] { done({250, "2.0.0", "report taken"}); };
    });
  }

 private:
  const returns::ReturnsConfig& cfg_;
  DbWorkers* workers_;
};

Result<std::unique_ptr<ReturnsService>> ReturnsService::Start(uv_loop_t* loop,
                                                              ReturnsServiceOptions options) {
  if (options.listen.empty()) return Status::InvalidArgument("[returns] listen is empty");
  if (options.cert_file.empty() != options.key_file.empty()) {
    return Status::InvalidArgument("[returns] cert_file and key_file go together");
  }
  std::shared_ptr<tls::TlsContext> tls;
  if (!options.cert_file.empty()) {
    Result<std::shared_ptr<tls::TlsContext>> t =
        LoadServerCertificate(options.cert_file, options.key_file);
    if (!t.ok()) return Status(t.status().code(), "[returns] " + t.status().message());
    tls = std::move(t).value();
  }
  std::unique_ptr<ReturnsService> s(new ReturnsService());
  s->options_ = std::move(options);
  const std::string url = s->options_.database_url;
  s->workers_ = std::make_unique<DbWorkers>(loop, "returns intake", s->options_.threads,
                                            [url]() { return db::Database::Connect(url); });
  s->handler_ = std::make_unique<Handler>(s->options_.intake, s->workers_.get());
  ListenerOptions lo;
  lo.name = "returns";
  lo.addresses = s->options_.listen;
  lo.tls = tls ? ListenerTls::kStartTls : ListenerTls::kNone;
  lo.hostname = s->options_.hostname;
  lo.smtp = s->options_.limits;
  lo.max_connections = s->options_.max_connections;
  lo.max_connections_per_ip = s->options_.max_connections_per_ip;
  lo.idle_timeout = s->options_.idle_timeout;
  lo.session_timeout = s->options_.session_timeout;
  Result<std::unique_ptr<Listener>> l = Listener::Start(loop, lo, tls, s->handler_.get());
  if (!l.ok()) return Status(l.status().code(), "[returns] " + l.status().message());
  s->listener_ = std::move(l).value();
  std::string where;
  for (const auto& a : s->options_.listen) where += " " + a;
  log::Info("returns: listening on{} as {}{}", where, s->options_.hostname,
            tls ? " (STARTTLS offered)" : "");
  return s;
}

ReturnsService::~ReturnsService() {
  listener_.reset();
  if (workers_) workers_->Stop();
}

Status ReturnsService::ReloadCertificate() {
  if (options_.cert_file.empty()) return Status::Ok();
  Result<std::shared_ptr<tls::TlsContext>> tls =
      LoadServerCertificate(options_.cert_file, options_.key_file);
  if (!tls.ok()) return tls.status();
  listener_->SetTlsContext(*tls);
  return Status::Ok();
}

void ReturnsService::Stop(std::function<void()> done) {
  listener_->Stop([this, done = std::move(done)] {
    workers_->Stop();
    if (done) done();
  });
}

std::vector<uint16_t> ReturnsService::ports() const {
  return listener_ ? listener_->ports() : std::vector<uint16_t>{};
}

}  // namespace postino::inbound
