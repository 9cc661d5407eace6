// run_command.cc: `postino run`. Wires PostgreSQL, the render workers and the
// delivery engine together (DESIGN.md, "The data path"):
//
//   DB thread ── claim (SKIP LOCKED, lease) ──► jobs ──► worker threads
//        ▲                                                  │ render + sign
//        │ results (COPY, set-based UPDATE)                 ▼
//   results ◄── loop thread: Engine (SMTP) ◄── ready queue (uv_async)
//
// Only the loop thread touches sockets; only the DB thread touches
// PostgreSQL; workers only render. Memory is bounded by the claim window.
//
// A job is one message: one recipient, or for a campaign created with
// --recipients-per-message N > 1, up to N recipients of one domain sharing
// one rendered message (one SMTP transaction; the engine still reports one
// outcome per recipient).
#include "cli/run_command.h"

#include <fmt/format.h>
#include <unistd.h>
#include <uv.h>

#include <atomic>
#include <condition_variable>
#include <deque>
#include <map>
#include <tuple>
#include <mutex>
#include <random>
#include <set>
#include <thread>
#include <unordered_map>

#include "cli/message_renderer.h"
#include "cli/work_queue.h"
#include "common/log.h"
#include "common/utf8.h"
#include "config/config.h"
#include "engine/delivery/config_mapping.h"
#include "engine/delivery/engine.h"
#include "engine/policy/reply_policy.h"

namespace postino::cli {
namespace {

using Clock = std::chrono::system_clock;
using std::chrono::milliseconds;
using std::chrono::seconds;

smtp::TlsMode ToSmtp(config::TlsMode m) {
  switch (m) {
    case config::TlsMode::kNone: return smtp::TlsMode::kNone;
    case config::TlsMode::kOpportunistic: return smtp::TlsMode::kOpportunistic;
    case config::TlsMode::kRequired: return smtp::TlsMode::kRequired;
    case config::TlsMode::kImplicit: return smtp::TlsMode::kImplicit;
  }
  return smtp::TlsMode::kOpportunistic;
}

}  // namespace

// Maps the configuration onto the delivery engine's settings, shaping
// (limits, rules, backoff, warm-up) included.
Result<delivery::EngineConfig> MakeEngineConfig(const config::Config& cfg, const std::string& node) {
  delivery::EngineConfig ec;
  // A source appears once per pool that lists it, with that pool's weight;
  // sources in no pool are reachable by their own name (and by "").
  std::set<std::string> pooled;
  for (const auto& p : cfg.pools) {
    for (const auto& e : p.entries) {
      const config::SourceConfig* s = cfg.FindSource(e.source);
      if (!s || e.weight == 0) continue;
      ec.sources.push_back({s->name, s->address, s->ehlo.empty() ? node : s->ehlo,
                            static_cast<int>(e.weight), p.name});
      pooled.insert(s->name);
    }
  }
  for (const auto& s : cfg.sources) {
    if (pooled.count(s.name)) continue;
    ec.sources.push_back({s.name, s.address, s.ehlo.empty() ? node : s.ehlo, 1, ""});
  }
  if (ec.sources.empty()) {
    return Status::InvalidArgument(fmt::format(
        "{}: no [[sources]]: postino needs at least one source address (name, address, ehlo) to "
        "send from",
        cfg.file));
  }
  for (const auto& r : cfg.routes) {
    delivery::Route route;
    route.domain_pattern = r.domain;
    route.kind = r.kind == config::RouteConfig::Kind::kStatic ? delivery::Route::Kind::kStatic
                                                               : delivery::Route::Kind::kMx;
    route.host = r.host;
    route.port = r.port;
    route.tls = ToSmtp(r.tls);
    if (r.auth) route.auth = smtp::AuthCredentials{r.auth->username, r.auth->password};
    route.auth_requires_tls = r.auth_requires_tls;
    route.auth_without_verified_tls = r.auth_without_verified_tls;
    ec.routes.push_back(std::move(route));
  }
  ec.dns_servers = cfg.dns.servers;
  ec.mx_port = cfg.dns.mx_port;
  if (cfg.limits.defaults.max_connections) {
    ec.max_connections_per_destination = *cfg.limits.defaults.max_connections;
  }
  if (cfg.limits.defaults.max_messages_per_connection) {
    ec.max_messages_per_connection = *cfg.limits.defaults.max_messages_per_connection;
  }
  const auto& t = cfg.timeouts;
  ec.timeouts.connect = t.connect;
  ec.timeouts.banner = t.banner;
  ec.timeouts.ehlo = t.ehlo;
  ec.timeouts.starttls = t.starttls;
  ec.timeouts.mail = t.mail;
  ec.timeouts.rcpt = t.rcpt;
  ec.timeouts.data = t.data;
  ec.timeouts.body = t.body;
  ec.timeouts.end_of_data = t.end_of_data;
  ec.timeouts.quit = t.quit;
  Status shaping = delivery::ApplyShapingConfig(cfg, &ec);
  if (!shaping.ok()) return shaping;
  return ec;
}

namespace {

// What the loop keeps about a message while the engine has it.
struct Meta {
  int64_t delivery_id = 0;
  int64_t campaign_id = 0;
  std::string email;
  std::string domain;
  int attempts = 0;  // before this one
  Clock::time_point first_attempt_at;
  seconds max_age{0};
  std::string message_id;
};

// One message to render: one delivery, or several of one campaign and one
// domain when the campaign shares a message (recipients_per_message > 1).
struct Job {
  std::vector<db::ClaimedDelivery> deliveries;  // at least one
  std::shared_ptr<const PreparedCampaign> campaign;
  std::string pool;
  seconds max_age{0};
};

struct Ready {
  std::vector<Meta> metas;            // one per delivery of the job, same campaign
  delivery::OutboundMessage message;  // data null when rendering failed
  std::string failure;                // why rendering failed
};

std::vector<int64_t> DeliveryIds(const std::vector<Meta>& metas) {
  std::vector<int64_t> ids;
  ids.reserve(metas.size());
  for (const Meta& m : metas) ids.push_back(m.delivery_id);
  return ids;
}

void AppendIds(const std::vector<Meta>& metas, std::vector<int64_t>* out) {
  for (const Meta& m : metas) out->push_back(m.delivery_id);
}

class Runner {
 public:
  Runner(const config::Config& cfg, std::string node, bool until_idle,
         std::unique_ptr<MessageRenderer> renderer, delivery::EngineConfig engine_config,
         std::vector<delivery::WarmupCount> warmup_seed)
      : engine_config_(std::move(engine_config)),
        warmup_seed_(std::move(warmup_seed)),
        cfg_(cfg),
        node_(std::move(node)),
        until_idle_(until_idle),
        renderer_(std::move(renderer)),
        window_(std::max(2 * cfg.node.batch_size, 100)),
        rng_(std::random_device{}()) {}

  int Run() {
    uv_loop_init(&loop_);
    uv_async_init(&loop_, &ready_async_, [](uv_async_t* a) {
      static_cast<Runner*>(a->data)->OnReady();
    });
    ready_async_.data = this;
    uv_async_init(&loop_, &control_async_, [](uv_async_t* a) {
      static_cast<Runner*>(a->data)->OnControl();
    });
    control_async_.data = this;
    for (uv_signal_t* s : {&sigterm_, &sigint_, &sighup_}) {
      uv_signal_init(&loop_, s);
      s->data = this;
    }
    uv_signal_start(&sigterm_, [](uv_signal_t* s, int) { static_cast<Runner*>(s->data)->Stop(kExitOk, "SIGTERM"); }, SIGTERM);
    uv_signal_start(&sigint_, [](uv_signal_t* s, int) { static_cast<Runner*>(s->data)->Stop(kExitOk, "SIGINT"); }, SIGINT);
    uv_signal_start(&sighup_, [](uv_signal_t* s, int) { static_cast<Runner*>(s->data)->Reload(); },
                    SIGHUP);
    uv_timer_init(&loop_, &feed_timer_);
    feed_timer_.data = this;
    uv_timer_start(&feed_timer_,
                   [](uv_timer_t* t) {
                     auto* runner = static_cast<Runner*>(t->data);
                     runner->FeedEngine();
                     runner->CheckStalled();
                   },
                   200, 200);

    engine_ = std::make_unique<delivery::Engine>(
        &loop_, std::move(engine_config_),
        [this](delivery::Outcome o) { OnOutcome(std::move(o)); });
    engine_->SetPathEventHandler([this](delivery::PathEvent e) { OnPathEvent(std::move(e)); });
    engine_->SeedWarmupCounts(warmup_seed_);

    unsigned workers = std::max(1u, std::thread::hardware_concurrency());
    for (unsigned i = 0; i < workers; ++i) workers_.emplace_back([this] { WorkerMain(); });
    db_thread_ = std::thread([this] { DbThreadMain(); });

    log::Info("postino run: node {} started ({} render workers, window {}){}", node_, workers,
              window_, until_idle_ ? ", until idle" : "");
    uv_run(&loop_, UV_RUN_DEFAULT);

    jobs_.Close();
    for (auto& w : workers_) w.join();
    workers_.clear();
    db_thread_.join();
    engine_.reset();
    uv_run(&loop_, UV_RUN_NOWAIT);
    uv_loop_close(&loop_);
    log::Info("postino run: node {} stopped: {} delivered, {} deferred, {} bounced, {} failed",
              node_, delivered_, deferred_, bounced_, failed_);
    return exit_code_;
  }

 private:
  // ---- loop thread ----

  // SIGHUP: re-reads the configuration file and applies its shaping part
  // (sources, pools, limits, rules, backoff, warm-up) without dropping
  // connections. An invalid file is refused; the running configuration stays.
  void Reload() {
    Result<config::Config> fresh = config::LoadConfigFile(cfg_.file);
    if (!fresh.ok()) {
      log::Error("SIGHUP: configuration not reloaded, the running one stays in force:\n{}",
                 fresh.status().message());
      return;
    }
    Result<delivery::EngineConfig> ec = MakeEngineConfig(*fresh, node_);
    Status st = ec.ok() ? engine_->Reconfigure(std::move(ec).value()) : ec.status();
    if (!st.ok()) {
      log::Error("SIGHUP: configuration not reloaded, the running one stays in force: {}",
                 st.message());
      return;
    }
    log::Info("SIGHUP: configuration reloaded from {} (limits, rules, pools and sources)",
              cfg_.file);
  }

  void OnPathEvent(delivery::PathEvent e) {
    log::Warn("path {} -> {} {}{}: {}", e.source_name, e.site,
              delivery::PathEventActionName(e.action),
              e.rate ? " to " + e.rate->ToString() : std::string(), e.reply);
    db::Database::EgressEvent ev;
    ev.at = e.at.time_since_epoch().count() ? e.at : Clock::now();
    ev.source_name = e.source_name;
    ev.source_ip = e.source_address;
    ev.site = e.site;
    ev.domain = e.domain;
    ev.action = delivery::PathEventActionName(e.action);
    ev.reply = SanitizeUtf8(e.rule.empty() ? e.reply : e.reply + " [rule " + e.rule + "]");
    ev.rate = e.rate ? e.rate->ToString() : "";
    if (e.until.time_since_epoch().count()) ev.until = e.until;
    {
      std::lock_guard<std::mutex> lock(db_mu_);
      egress_events_.push_back(std::move(ev));
    }
    WakeDb();
  }

  void Stop(int code, const char* why) {
    if (stopping_.exchange(true)) return;
    exit_code_ = code;
    log::Info("postino run: stopping ({}): finishing transactions in flight", why);
    jobs_.Close();
    // Messages not handed to the engine go back to the database untouched.
    std::vector<int64_t> released;
    for (auto& p : pending_) AppendIds(p.metas, &released);
    pending_.clear();
    for (auto& r : ready_.Drain()) AppendIds(r.metas, &released);
    Release(std::move(released));
    uv_timer_stop(&feed_timer_);
    engine_->Shutdown([this] { OnEngineStopped(); });
  }

  void OnEngineStopped() {
    // Workers skip (release) what is left once stopping_ is set; after they
    // are joined nothing can touch the async handles any more.
    jobs_.Close();
    for (auto& w : workers_) w.join();
    workers_.clear();
    std::vector<int64_t> released;
    for (auto& r : ready_.Drain()) AppendIds(r.metas, &released);
    Release(std::move(released));
    {
      std::lock_guard<std::mutex> lock(async_mu_);
      async_open_ = false;
    }
    loop_done_ = true;
    WakeDb();
    uv_close(reinterpret_cast<uv_handle_t*>(&ready_async_), nullptr);
    uv_close(reinterpret_cast<uv_handle_t*>(&control_async_), nullptr);
    uv_close(reinterpret_cast<uv_handle_t*>(&feed_timer_), nullptr);
    for (uv_signal_t* s : {&sigterm_, &sigint_, &sighup_}) {
      uv_close(reinterpret_cast<uv_handle_t*>(s), nullptr);
    }
  }

  void OnReady() {
    std::vector<Ready> batch = ready_.Drain();
    if (stopping_) {
      std::vector<int64_t> released;
      for (auto& r : batch) AppendIds(r.metas, &released);
      Release(std::move(released));
      return;
    }
    std::vector<db::AttemptResult> failures;
    std::vector<int64_t> released;
    for (auto& r : batch) {
      if (r.metas.empty()) continue;
      if (blocked_.count(r.metas.front().campaign_id)) {  // paused or cancelled meanwhile
        AppendIds(r.metas, &released);
        continue;
      }
      if (!r.message.data) {
        // A shared message that cannot be rendered fails its whole group.
        for (const Meta& meta : r.metas) {
          ++failed_;
          db::AttemptResult a;
          a.delivery_id = meta.delivery_id;
          a.campaign_id = meta.campaign_id;
          a.status = "failed";
          a.reply = r.failure;
          a.phase = "render";
          a.at = Clock::now();
          failures.push_back(std::move(a));
        }
        continue;
      }
      pending_.push_back({std::move(r.metas), std::move(r.message)});
    }
    if (!failures.empty()) PushResults(std::move(failures));
    Release(std::move(released));
    FeedEngine();
  }

  void OnControl() {
    if (stop_requested_.load() && !stopping_) {
      Stop(stop_code_.load(), stop_code_ == kExitOk ? "nothing left to send now" : "fatal error");
      return;
    }
    {
      std::lock_guard<std::mutex> lock(control_mu_);
      blocked_ = blocked_campaigns_;
    }
    const std::set<int64_t>& blocked = blocked_;
    if (blocked.empty()) return;
    std::vector<int64_t> released;
    std::deque<Pending> keep;
    for (auto& p : pending_) {
      if (!p.metas.empty() && blocked.count(p.metas.front().campaign_id)) {
        AppendIds(p.metas, &released);
      } else {
        keep.push_back(std::move(p));
      }
    }
    pending_.swap(keep);
    // Messages the engine has queued but not started go back too.
    std::vector<uint64_t> withdrawn = engine_->Withdraw([&](uint64_t id) {
      auto it = in_engine_.find(static_cast<int64_t>(id));
      return it != in_engine_.end() && blocked.count(it->second.campaign_id) > 0;
    });
    for (uint64_t id : withdrawn) {
      in_engine_.erase(static_cast<int64_t>(id));
      released.push_back(static_cast<int64_t>(id));
    }
    if (!released.empty()) {
      log::Info("released {} queued messages of paused or cancelled campaigns", released.size());
      Release(std::move(released));
    }
  }

  // Hands queued messages to the engine while it has room (counted in
  // recipients: in_flight() counts recipients, in_engine_ has one entry each).
  void FeedEngine() {
    if (stopping_) return;
    size_t limit = static_cast<size_t>(window_);
    while (!pending_.empty() && engine_->in_flight() < limit) {
      Pending p = std::move(pending_.front());
      pending_.pop_front();
      last_progress_ = Clock::now();  // a new message gets its own grace period
      for (Meta& meta : p.metas) {
        int64_t id = meta.delivery_id;
        in_engine_.emplace(id, std::move(meta));
      }
      engine_->Submit(std::move(p.message));
    }
  }

  // --until-idle: recipients the engine holds back for a long time (a
  // warm-up cap reached until the next UTC day, a suspended path, a rate
  // whose next message is more than kNearWake away) would keep the run going
  // that long. Once the engine has held them for kStallGrace with no outcome,
  // no connection open or opening and no DNS lookup pending, they go back to
  // the database, not due again for kPostpone (no attempt is counted); the
  // run then claims nothing more and ends when what it holds is recorded.
  static constexpr auto kStallGrace = seconds(10);
  static constexpr auto kNearWake = seconds(60);
  static constexpr auto kPostpone = std::chrono::minutes(15);
  void CheckStalled() {
    if (!until_idle_ || stopping_) return;
    auto now = Clock::now();
    delivery::EngineCounts c = engine_->Counts();
    bool waits_briefly = c.next_wake_in && *c.next_wake_in <= kNearWake;
    if (c.recipients == 0 || c.connections > 0 || c.resolving > 0 || waits_briefly) {
      last_progress_ = now;
      return;
    }
    if (now - last_progress_ < kStallGrace) return;
    last_progress_ = now;
    std::vector<uint64_t> ids = engine_->Withdraw([](uint64_t) { return true; });
    if (ids.empty()) return;
    auto until = now + kPostpone;
    for (uint64_t id : ids) in_engine_.erase(static_cast<int64_t>(id));  // loop thread only
    {
      std::lock_guard<std::mutex> lock(db_mu_);
      for (uint64_t id : ids) postpones_.emplace_back(static_cast<int64_t>(id), until);
    }
    log::Warn("{} recipients cannot be sent now (warm-up caps, suspended or rate-limited paths): "
              "they go back to the database for {} minutes, and this --until-idle run ends; the "
              "next run picks up what is left",
              ids.size(), std::chrono::duration_cast<std::chrono::minutes>(kPostpone).count());
    held_back_ = true;
    WakeDb();
  }

  void OnOutcome(delivery::Outcome o) {
    last_progress_ = Clock::now();
    auto it = in_engine_.find(static_cast<int64_t>(o.id));
    if (it == in_engine_.end()) {
      log::Error("outcome for unknown delivery {}", o.id);
      return;
    }
    Meta meta = std::move(it->second);
    in_engine_.erase(it);
    if (stopping_ && o.disposition == delivery::Disposition::kDeferred && o.source_address.empty() &&
        o.reply.local) {
      // Never attempted: the engine was shutting down.
      Release({meta.delivery_id});
      return;
    }
    db::AttemptResult a;
    a.delivery_id = meta.delivery_id;
    a.campaign_id = meta.campaign_id;
    // Peer text is untrusted: a Latin-1 or NUL byte must not stop the
    // results batch from being written.
    a.code = o.reply.code;
    a.enhanced = SanitizeUtf8(o.reply.enhanced);
    a.reply = SanitizeUtf8(o.reply.Text());
    a.phase = std::string(smtp::PhaseName(o.phase));
    a.source_ip = o.source_address;
    a.mx_host = SanitizeUtf8(o.mx_host);
    a.site = SanitizeUtf8(o.site);
    a.tls_version = o.tls_version;
    a.tls_cipher = o.tls_cipher;
    a.message_id = meta.message_id;
    a.at = o.finished_at.time_since_epoch().count() ? o.finished_at : Clock::now();
    a.email = meta.email;
    switch (o.disposition) {
      case delivery::Disposition::kDelivered:
        a.status = "delivered";
        ++delivered_;
        break;
      case delivery::Disposition::kBounced: {
        a.status = "bounced";
        ++bounced_;
        policy::Decision d = policy::Classify(o.phase, o.reply);
        a.suppress = cfg_.suppression.auto_suppress_hard_bounces && d.suppress;
        break;
      }
      case delivery::Disposition::kDeferred: {
        const RetryPolicy& retry = RetryFor(meta.domain);
        // A [[limits.rules]] max_age for the domain overrides the campaign's.
        auto max_age = retry.max_age ? *retry.max_age : meta.max_age;
        if (a.at - meta.first_attempt_at >= max_age) {
          a.status = "expired";
          ++bounced_;
        } else {
          a.status = "deferred";
          a.next_attempt_at = a.at + RetryDelay(retry.schedule, meta.attempts);
          ++deferred_;
        }
        break;
      }
    }
    PushResults({std::move(a)});
    FeedEngine();
  }

  struct RetryPolicy {
    std::vector<Nanos> schedule;
    std::optional<Clock::duration> max_age;  // set only by a rule for the domain
  };

  // The retry schedule for a recipient domain: [retry], or the most specific
  // [[limits.rules]] entry for the domain that sets one. Cached per domain.
  const RetryPolicy& RetryFor(const std::string& domain) {
    auto it = retry_by_domain_.find(domain);
    if (it != retry_by_domain_.end()) return it->second;
    if (retry_by_domain_.size() > 100000) retry_by_domain_.clear();
    config::EffectiveLimits limits = cfg_.LimitsFor(domain, {});
    RetryPolicy policy;
    policy.schedule = limits.retry_schedule.empty() ? cfg_.retry.schedule : limits.retry_schedule;
    if (limits.max_age != cfg_.retry.max_age) {
      policy.max_age = std::chrono::duration_cast<Clock::duration>(limits.max_age);
    }
    return retry_by_domain_.emplace(domain, std::move(policy)).first->second;
  }

  // The wait before attempt number attempts+2, from the schedule (the last
  // step repeats), with the configured jitter.
  Clock::duration RetryDelay(const std::vector<Nanos>& sched, int attempts) {
    Nanos base = sched.empty() ? Nanos(std::chrono::minutes(5))
                               : sched[std::min<size_t>(static_cast<size_t>(attempts), sched.size() - 1)];
    double jitter = cfg_.retry.jitter;
    std::uniform_real_distribution<double> dist(1.0 - jitter, 1.0 + jitter);
    auto d = std::chrono::duration<double, std::nano>(static_cast<double>(base.count()) * dist(rng_));
    return std::chrono::duration_cast<Clock::duration>(d);
  }

  void PushResults(std::vector<db::AttemptResult> results) {
    {
      std::lock_guard<std::mutex> lock(db_mu_);
      for (auto& r : results) results_.push_back(std::move(r));
    }
    WakeDb();
  }

  void Release(std::vector<int64_t> ids) {
    if (ids.empty()) return;
    {
      std::lock_guard<std::mutex> lock(db_mu_);
      releases_.insert(releases_.end(), ids.begin(), ids.end());
    }
    WakeDb();
  }

  void WakeDb() { db_cv_.notify_one(); }

  // ---- worker threads ----

  void WorkerMain() {
    while (std::optional<Job> job = jobs_.Pop()) {
      if (job->deliveries.empty()) continue;
      Ready r;
      for (const db::ClaimedDelivery& d : job->deliveries) {
        r.metas.push_back({d.id, d.campaign_id, d.email, d.domain, d.attempts, d.first_attempt_at,
                           job->max_age, d.message_id});
      }
      if (stopping_) {
        Release(DeliveryIds(r.metas));
        continue;
      }
      const db::ClaimedDelivery& first = job->deliveries.front();
      Result<RenderedMessage> m = Status::Internal("not rendered");
      if (job->campaign->recipients_per_message() > 1) {
        // One message for the group. A retry keeps a Message-ID stored by an
        // earlier attempt (the first the group has), so receivers see the
        // same message again.
        std::string message_id;
        for (const db::ClaimedDelivery& d : job->deliveries) {
          if (!d.message_id.empty()) {
            message_id = d.message_id;
            break;
          }
        }
        m = renderer_->RenderShared(*job->campaign, message_id);
      } else {
        m = renderer_->Render(*job->campaign, first.email, first.attributes, first.id,
                              first.message_id);
      }
      if (m.ok()) {
        r.message.mail_from = m->envelope_from;
        for (Meta& meta : r.metas) {
          meta.message_id = m->message_id;
          r.message.recipients.push_back(
              {static_cast<uint64_t>(meta.delivery_id), meta.email, meta.domain});
        }
        r.message.data = std::move(m->data);
        r.message.pool = job->pool.empty() ? cfg_.default_pool : job->pool;
      } else {
        r.failure = m.status().message();
      }
      ready_.Push(std::move(r));
      uv_async_send(&ready_async_);
    }
  }

  // ---- DB thread ----

  void RequestStop(int code) {
    stop_code_ = code;
    stop_requested_ = true;
    SendControl();
  }

  // uv_async_send from the DB thread, never after the handle was closed.
  void SendControl() {
    std::lock_guard<std::mutex> lock(async_mu_);
    if (async_open_) uv_async_send(&control_async_);
  }

  void DbThreadMain() {
    Result<std::unique_ptr<db::Database>> conn = db::Database::Connect(cfg_.database.url);
    if (!conn.ok()) {
      log::Error("{}", conn.status().message());
      RequestStop(kExitDatabase);
      // Still drain what the loop gives back.
    }
    std::unique_ptr<db::Database> db = conn.ok() ? std::move(conn).value() : nullptr;
    auto last_check = Clock::now() - seconds(10);
    auto last_renew = Clock::now();
    auto first_failure = Clock::time_point();
    auto last_flush = Clock::now();
    constexpr auto kFlushInterval = milliseconds(20);
    seconds lease(cfg_.node.lease_seconds);
    int64_t outstanding = 0;  // claimed, not yet recorded or released

    for (;;) {
      std::vector<db::AttemptResult> results;
      std::vector<int64_t> releases;
      std::vector<std::pair<int64_t, Clock::time_point>> postpones;
      {
        // Results are written within ~20 ms of their reply (the duplicate
        // window after a crash), batched as they come.
        std::unique_lock<std::mutex> lock(db_mu_);
        db_cv_.wait_for(lock, milliseconds(100), [&] {
          return loop_done_.load() || !results_.empty() || !releases_.empty() ||
                 !postpones_.empty();
        });
        auto since = Clock::now() - last_flush;
        if (!loop_done_ && since < kFlushInterval && results_.size() < 1000) {
          lock.unlock();
          std::this_thread::sleep_for(kFlushInterval - since);
          lock.lock();
        }
        results.swap(results_);
        releases.swap(releases_);
        postpones.swap(postpones_);
      }
      last_flush = Clock::now();
      // Jobs that no worker will render any more (shutdown) go back too.
      if (stopping_) {
        for (auto& j : jobs_.Drain()) {
          for (const auto& d : j.deliveries) releases.push_back(d.id);
        }
      }
      bool ok = true;
      if (db && !results.empty()) {
        Status st = db->RecordResults(node_, results);
        if (!st.ok() && st.code() != Status::Code::kIoError && results.size() > 1) {
          // Not the connection: one row is bad. Write them one by one so the
          // others are recorded; a row that still fails is logged and left to
          // its lease (it will be retried).
          log::Error("{}; writing the {} results one by one", st.message(), results.size());
          int64_t written = 0;
          for (auto& r : results) {
            Status one = db->RecordResults(node_, {r});
            if (!one.ok()) {
              log::Error("result of delivery {} not recorded: {}", r.delivery_id, one.message());
            }
            ++written;
          }
          outstanding -= written;
          st = Status::Ok();
        } else if (st.ok()) {
          outstanding -= static_cast<int64_t>(results.size());
        } else {
          ok = false;
          log::Error("{} (will retry)", st.message());
          std::lock_guard<std::mutex> lock(db_mu_);
          results_.insert(results_.begin(), std::make_move_iterator(results.begin()),
                          std::make_move_iterator(results.end()));
        }
      }
      std::vector<db::Database::EgressEvent> egress;
      {
        std::lock_guard<std::mutex> lock(db_mu_);
        egress.swap(egress_events_);
      }
      if (db && !egress.empty()) {
        Status st = db->RecordEgressEvents(node_, egress);
        if (!st.ok()) log::Error("{}", st.message());
      }
      if (db && !releases.empty()) {
        Status st = db->ReleaseLeases(node_, releases);
        if (st.ok()) {
          outstanding -= static_cast<int64_t>(releases.size());
        } else {
          ok = false;
          log::Error("{} (will retry)", st.message());
          std::lock_guard<std::mutex> lock(db_mu_);
          releases_.insert(releases_.end(), releases.begin(), releases.end());
        }
      }
      if (db && !postpones.empty()) {
        // One stall gives one time; group by it anyway.
        std::map<Clock::time_point, std::vector<int64_t>> by_time;
        for (const auto& [id, until] : postpones) by_time[until].push_back(id);
        for (const auto& [until, ids] : by_time) {
          Status st = db->PostponeLeases(node_, ids, until);
          if (st.ok()) {
            outstanding -= static_cast<int64_t>(ids.size());
          } else {
            ok = false;
            log::Error("{} (will retry)", st.message());
            std::lock_guard<std::mutex> lock(db_mu_);
            for (int64_t id : ids) postpones_.emplace_back(id, until);
          }
        }
      }
      if (!ok && db) {
        if (first_failure == Clock::time_point()) first_failure = Clock::now();
        if (Clock::now() - first_failure > seconds(60)) {
          log::Error("the database has been failing for 60 s; stopping");
          RequestStop(kExitDatabase);
          db.reset();
        } else {
          ReconnectIfBroken(db);
        }
      } else {
        first_failure = Clock::time_point();
      }
      if (loop_done_) {
        std::lock_guard<std::mutex> lock(db_mu_);
        if ((results_.empty() && releases_.empty() && postpones_.empty()) || !db) break;
        continue;
      }
      auto now = Clock::now();
      // Leases are renewed until the last transaction is over, stopping or
      // not: a slow end-of-data reply must not let another node take the row.
      if (db && now - last_renew >= lease / 3) {
        last_renew = now;
        Status st = db->RenewLeases(node_, lease);
        if (!st.ok()) log::Error("{}", st.message());
      }
      if (!db || stopping_ || stop_requested_) continue;

      if (now - last_check >= milliseconds(500)) {
        last_check = now;
        Housekeeping(*db);
      }
      int claimed = 0;
      if (held_back_) {
        // --until-idle after a stall: more claims would only meet the same
        // caps (and re-claim what was postponed once it is due again).
        if (outstanding == 0) {
          log::Info("postino run: ending; recipients held back by shaping wait for the next run");
          RequestStop(kExitOk);
        }
        continue;
      }
      if (outstanding < window_) {
        int want = static_cast<int>(std::min<int64_t>(cfg_.node.batch_size, window_ - outstanding));
        Result<std::vector<db::ClaimedDelivery>> batch = db->Claim(node_, want, lease);
        if (!batch.ok()) {
          log::Error("{}", batch.status().message());
        } else {
          claimed = static_cast<int>(batch->size());
          outstanding += claimed;
          Dispatch(*db, std::move(batch).value());
        }
      }
      if (until_idle_ && claimed == 0 && outstanding == 0) {
        Result<bool> due = db->HasDueWork();
        if (due.ok() && !*due) {
          RequestStop(kExitOk);
        } else if (!due.ok()) {
          log::Error("{}", due.status().message());
        }
      }
    }
    if (db) {
      // Campaigns this run completed are marked finished before exiting.
      Result<std::vector<std::string>> finished = db->FinishCampaigns();
      if (finished.ok()) {
        for (const auto& name : *finished) log::Info("campaign \"{}\" finished", name);
      }
    }
    std::lock_guard<std::mutex> lock(db_mu_);
    if (!results_.empty() || !releases_.empty() || !postpones_.empty()) {
      log::Error("{} results and {} leases could not be written; those recipients will be retried "
                 "when their leases expire",
                 results_.size(), releases_.size() + postpones_.size());
      exit_code_ = kExitDatabase;
    }
  }

  void ReconnectIfBroken(std::unique_ptr<db::Database>& db) {
    Result<std::unique_ptr<db::Database>> fresh = db::Database::Connect(cfg_.database.url);
    if (fresh.ok()) db = std::move(fresh).value();
  }

  void Housekeeping(db::Database& db) {
    Result<int> started = db.StartDueCampaigns();
    if (started.ok() && *started > 0) log::Info("started {} scheduled campaign(s)", *started);
    Result<std::vector<std::string>> finished = db.FinishCampaigns();
    if (finished.ok()) {
      for (const auto& name : *finished) log::Info("campaign \"{}\" finished", name);
    }
    if (campaigns_.empty() && ended_campaigns_.empty()) return;
    std::vector<int64_t> ids;
    for (const auto& [id, c] : campaigns_) ids.push_back(id);
    Result<std::vector<db::CampaignState>> states = db.CampaignStates(ids);
    if (!states.ok()) return;
    // Finished and cancelled campaigns stay blocked for good (they leave the
    // cache, so they would not be asked about again); paused ones until resumed.
    std::set<int64_t> blocked = ended_campaigns_;
    for (const auto& s : *states) {
      if (s.status != "running") blocked.insert(s.id);
      if (s.status == "finished" || s.status == "cancelled") {
        ended_campaigns_.insert(s.id);
        campaigns_.erase(s.id);
      }
    }
    bool changed;
    {
      std::lock_guard<std::mutex> lock(control_mu_);
      changed = blocked != blocked_campaigns_;
      blocked_campaigns_ = blocked;
    }
    if (changed) SendControl();
  }

  struct CampaignEntry {
    std::shared_ptr<const PreparedCampaign> prepared;  // null: cannot be rendered
    std::string error;
    std::string pool;
    seconds max_age{0};
  };

  // Turns a claimed batch into jobs, in claim order. Deliveries of a campaign
  // that shares messages are grouped by domain, up to its
  // recipients_per_message each (a group is queued where its first delivery
  // was claimed).
  void Dispatch(db::Database& db, std::vector<db::ClaimedDelivery> batch) {
    std::vector<int64_t> released;
    std::vector<Job> jobs;
    // (campaign, domain) -> index in `jobs` of the group still filling up.
    // A retry joins only recipients of its own earlier group (same stored
    // Message-ID), so a receiver can still tell a resent message by its ID.
    std::map<std::tuple<int64_t, std::string, std::string>, size_t> open_groups;
    for (auto& d : batch) {
      auto it = campaigns_.find(d.campaign_id);
      if (it == campaigns_.end()) {
        CampaignEntry entry = Load(db, d.campaign_id);
        if (!entry.prepared) {
          // Not cached: a database hiccup is retried with the next claim; a
          // campaign that cannot be rendered was paused by Load.
          released.push_back(d.id);
          continue;
        }
        it = campaigns_.emplace(d.campaign_id, std::move(entry)).first;
      }
      const CampaignEntry& c = it->second;
      const size_t per_message = static_cast<size_t>(c.prepared->recipients_per_message());
      if (per_message > 1) {
        auto key = std::make_tuple(d.campaign_id, d.domain, d.message_id);
        auto open = open_groups.find(key);
        if (open != open_groups.end()) {
          Job& job = jobs[open->second];
          job.deliveries.push_back(std::move(d));
          if (job.deliveries.size() >= per_message) open_groups.erase(open);
          continue;
        }
        open_groups.emplace(std::move(key), jobs.size());
      }
      Job job{{}, c.prepared, c.pool, c.max_age};
      job.deliveries.push_back(std::move(d));
      jobs.push_back(std::move(job));
    }
    for (Job& job : jobs) jobs_.Push(std::move(job));
    if (!released.empty()) {
      std::lock_guard<std::mutex> lock(db_mu_);
      releases_.insert(releases_.end(), released.begin(), released.end());
    }
  }

  CampaignEntry Load(db::Database& db, int64_t campaign_id) {
    CampaignEntry e;
    Result<db::CampaignRow> c = db.GetCampaignById(campaign_id);
    if (!c.ok()) {
      e.error = c.status().message();
      log::Error("{} (retrying with the next claim)", e.error);
      return e;
    }
    e.pool = c->pool;
    e.max_age = c->max_age;
    Result<db::TemplateRow> t = db.GetTemplateById(c->template_id);
    if (!t.ok()) {
      e.error = t.status().message();
      log::Error("{} (retrying with the next claim)", e.error);
      return e;
    }
    Result<std::shared_ptr<const PreparedCampaign>> p = renderer_->Prepare(*c, *t);
    if (!p.ok()) {
      // The same for every recipient: pause the campaign rather than fail
      // them all; fix the cause and `postino campaign resume`.
      e.error = fmt::format("campaign \"{}\" cannot be rendered, pausing it: {}", c->name,
                            p.status().message());
      log::Error("{}", e.error);
      Status st = db.PauseCampaign(c->name);
      if (!st.ok()) log::Error("{}", st.message());
      return e;
    }
    e.prepared = std::move(p).value();
    return e;
  }

  struct Pending {
    std::vector<Meta> metas;  // one per recipient of `message`
    delivery::OutboundMessage message;
  };

  delivery::EngineConfig engine_config_;  // moved into the engine at start
  std::vector<delivery::WarmupCount> warmup_seed_;
  const config::Config& cfg_;
  const std::string node_;
  const bool until_idle_;
  std::unique_ptr<MessageRenderer> renderer_;
  const int window_;
  std::mt19937_64 rng_;

  uv_loop_t loop_{};
  uv_async_t ready_async_{};
  uv_async_t control_async_{};
  uv_signal_t sigterm_{}, sigint_{}, sighup_{};
  uv_timer_t feed_timer_{};
  std::unique_ptr<delivery::Engine> engine_;
  std::deque<Pending> pending_;
  std::unordered_map<int64_t, Meta> in_engine_;
  Clock::time_point last_progress_ = Clock::now();  // last Outcome (CheckStalled)
  std::set<int64_t> blocked_;  // loop's copy of blocked_campaigns_
  std::unordered_map<std::string, RetryPolicy> retry_by_domain_;
  int64_t delivered_ = 0, deferred_ = 0, bounced_ = 0, failed_ = 0;

  std::vector<std::thread> workers_;
  std::thread db_thread_;
  BlockingQueue<Job> jobs_;
  BlockingQueue<Ready> ready_;

  std::mutex db_mu_;
  std::condition_variable db_cv_;
  std::vector<db::AttemptResult> results_;
  std::vector<int64_t> releases_;
  std::vector<std::pair<int64_t, Clock::time_point>> postpones_;  // id, not due before
  std::vector<db::Database::EgressEvent> egress_events_;

  std::mutex async_mu_;
  bool async_open_ = true;  // guarded by async_mu_
  std::mutex control_mu_;
  std::set<int64_t> blocked_campaigns_;
  std::unordered_map<int64_t, CampaignEntry> campaigns_;  // DB thread only
  std::set<int64_t> ended_campaigns_;                     // DB thread only

  std::atomic<bool> stopping_{false};
  std::atomic<bool> held_back_{false};  // --until-idle postponed what shaping held back
  std::atomic<bool> loop_done_{false};
  std::atomic<bool> stop_requested_{false};
  std::atomic<int> stop_code_{kExitOk};
  std::atomic<int> exit_code_{kExitOk};
};

std::string DefaultNodeId() {
  char host[256] = {0};
  gethostname(host, sizeof host - 1);
  return host[0] ? host : "postino";
}

}  // namespace

int RunEngine(Context& ctx, const RunOptions& options) {
  Result<const config::Config*> cfg = ctx.Config();
  if (!cfg.ok()) return ctx.SetupFailure(cfg.status());
  Result<db::Database*> db = ctx.Database();
  if (!db.ok()) return ctx.SetupFailure(db.status());
  Result<std::unique_ptr<MessageRenderer>> renderer = MessageRenderer::Create(**cfg);
  if (!renderer.ok()) {
    Fail(renderer.status());
    return kExitConfig;
  }
  // The lease owner is unique per process, so a restarted node never renews
  // (and so keeps) the leases of the process it replaces.
  std::string base = !options.node_id.empty() ? options.node_id
                     : !(*cfg)->node.id.empty() ? (*cfg)->node.id
                                                : DefaultNodeId();
  std::string node = fmt::format("{}/{}-{}", base, getpid(),
                                 std::chrono::duration_cast<seconds>(
                                     Clock::now().time_since_epoch()).count() % 100000);
  Result<delivery::EngineConfig> engine_config = MakeEngineConfig(**cfg, node);
  if (!engine_config.ok()) {
    Fail(engine_config.status());
    return kExitConfig;
  }
  // Warm-up counts survive restarts: today's deliveries per source address
  // and MX site (per-site caps match the site's MX host names).
  std::vector<delivery::WarmupCount> seed;
  Result<std::vector<db::Database::SentCount>> today = (*db)->DeliveredTodayBySourceAndSite();
  if (!today.ok()) return Fail(today.status());
  for (const db::Database::SentCount& c : *today) {
    for (const auto& s : (*cfg)->sources) {
      if (s.address == c.source_ip) {
        seed.push_back({s.name, c.site, static_cast<uint64_t>(c.count)});
      }
    }
  }
  Runner runner(**cfg, node, options.until_idle, std::move(renderer).value(),
                std::move(engine_config).value(), std::move(seed));
  return runner.Run();
}

}  // namespace postino::cli
