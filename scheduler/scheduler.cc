// scheduler.cc: the loop-thread side of the scheduler (feeding the engine,
// recording outcomes, pause/cancel, --until-idle stalls), the render
// workers, and start/stop of the DB thread.
#include "scheduler/scheduler.h"

#include <fmt/format.h>

#include <random>

#include "common/log.h"
#include "common/utf8.h"
#include "scheduler/dsn_generator.h"
#include "scheduler/engine_config.h"
#include "scheduler/journal.h"
#include "scheduler/outcome.h"
#include "scheduler/path_states.h"

namespace postino::scheduler {

using std::chrono::seconds;

namespace {

uint64_t Seed(uint64_t s) { return s ? s : std::random_device{}(); }

}  // namespace

Scheduler::Scheduler(uv_loop_t* loop, const config::Config& config, SchedulerOptions options,
                     std::unique_ptr<WorkStore> store, std::unique_ptr<MessageRenderer> renderer)
    : loop_(loop),
      cfg_(config),
      opt_(std::move(options)),
      clock_(SystemClock::Instance()),
      store_(std::move(store)),
      renderer_(std::move(renderer)),
      window_(std::max(2 * config.node.batch_size, 100)),
      outbox_(clock_, stats_),
      dispatcher_(*renderer_),
      retry_(config, Seed(opt_.retry_seed)) {
  DbLoopOptions o;
  o.node = opt_.node;
  o.batch_size = cfg_.node.batch_size;
  o.window = window_;
  o.lease = seconds(cfg_.node.lease_seconds);
  o.until_idle = opt_.until_idle;
  o.journal_path = JournalPath(cfg_.node.journal_dir, opt_.node);
  o.give_up = seconds(cfg_.node.db_give_up_seconds);
  DbLoop::Hooks h;
  h.request_stop = [this](int code, const std::string& why) {
    {
      std::lock_guard<std::mutex> lock(control_mu_);
      stop_why_ = why;
    }
    RequestStop(code, why);
  };
  h.set_blocked = [this](const std::set<int64_t>& blocked) {
    {
      std::lock_guard<std::mutex> lock(control_mu_);
      blocked_campaigns_ = blocked;
    }
    SendControl();
  };
  h.dispatch = [this](std::vector<Job> jobs) {
    for (Job& j : jobs) jobs_.Push(std::move(j));
  };
  h.take_unrendered = [this] {
    std::vector<int64_t> ids;
    MonoTime now = clock_.Now();
    for (auto& j : jobs_.Drain()) {
      stats_.Leave(Stage::kRenderQueue, now - j.queued_at, j.deliveries.size());
      for (const auto& d : j.deliveries) ids.push_back(d.id);
    }
    return ids;
  };
  h.db_state = [this](bool up) { db_up_ = up; };
  dispatcher_.SetSubmittedOptions(
      {cfg_.submission.pool, std::chrono::duration_cast<seconds>(cfg_.submission.max_queue_time),
       static_cast<size_t>(std::max(1, cfg_.submission.recipients_per_message))});
  h.dsn_round = [this, dsn = MakeDsnOptions(cfg_)](bool with_delays) -> Status {
    Result<DsnRoundResult> r = RunDsnRound(*store_, dsn, with_delays, clock_.WallNow());
    return r.ok() ? Status::Ok() : r.status();
  };
  h.path_lifts = [this](std::vector<db::Database::EgressEvent> lifts) {
    {
      std::lock_guard<std::mutex> lock(control_mu_);
      for (auto& e : lifts) path_lifts_.push_back(std::move(e));
    }
    SendControl();
  };
  db_loop_ = std::make_unique<DbLoop>(*store_, clock_, std::move(o), outbox_, stats_, dispatcher_,
                                      std::move(h));
}

Scheduler::~Scheduler() = default;

Status Scheduler::Start(delivery::EngineConfig engine_config, std::function<void()> stopped) {
  stopped_ = std::move(stopped);
  Status st = db_loop_->Start();
  if (!st.ok()) return st;
  // Warm-up counts survive restarts: today's deliveries per source address
  // and MX site (per-site caps match the site's MX host names).
  Result<std::vector<db::Database::SentCount>> today = store_->WarmupCounts();
  if (!today.ok()) return today.status();
  std::vector<delivery::WarmupCount> seed;
  for (const db::Database::SentCount& c : *today) {
    for (const auto& s : cfg_.sources) {
      if (s.address == c.source_ip) seed.push_back({s.name, c.site, static_cast<uint64_t>(c.count)});
    }
  }
  // Suspensions and slow-downs recorded by earlier runs stay in force.
  Result<std::vector<db::Database::EgressEvent>> active = store_->ActivePathStates();
  if (!active.ok()) return active.status();
  std::vector<delivery::PathEvent> paths = ToPathEvents(*active);

  uv_async_init(loop_, &ready_async_, [](uv_async_t* a) { static_cast<Scheduler*>(a->data)->OnReady(); });
  ready_async_.data = this;
  uv_async_init(loop_, &control_async_,
                [](uv_async_t* a) { static_cast<Scheduler*>(a->data)->OnControl(); });
  control_async_.data = this;
  {
    std::lock_guard<std::mutex> lock(async_mu_);
    async_open_ = true;
  }
  uv_timer_init(loop_, &feed_timer_);
  feed_timer_.data = this;
  uv_timer_start(&feed_timer_,
                 [](uv_timer_t* t) {
                   auto* s = static_cast<Scheduler*>(t->data);
                   s->FeedEngine();
                   s->CheckStalled();
                   if (s->engine_) ExportLoopTick(s->engine_->Counts());
                 },
                 200, 200);
  uv_timer_init(loop_, &stats_timer_);
  stats_timer_.data = this;
  if (opt_.stats_interval.count() > 0) {
    uint64_t ms = static_cast<uint64_t>(opt_.stats_interval.count()) * 1000;
    uv_timer_start(&stats_timer_, [](uv_timer_t* t) { static_cast<Scheduler*>(t->data)->LogStats(); },
                   ms, ms);
  }
  last_stats_ = stats_.Snapshot(clock_);
  last_progress_ = clock_.Now();
  stats_export_ = std::make_unique<PipelineStatsExport>(stats_);

  engine_ = std::make_unique<delivery::Engine>(loop_, std::move(engine_config),
                                               [this](delivery::Outcome o) { OnOutcome(std::move(o)); });
  engine_->SetPathEventHandler([this](delivery::PathEvent e) { OnPathEvent(std::move(e)); });
  engine_->SeedWarmupCounts(seed);
  if (!paths.empty()) {
    engine_->SeedPathStates(paths);
    log::Info("postino run: {} path suspension(s) or slow-down(s) recorded earlier are still in "
              "force",
              paths.size());
  }

  unsigned workers = std::max(1u, std::thread::hardware_concurrency());
  for (unsigned i = 0; i < workers; ++i) workers_.emplace_back([this] { WorkerMain(); });
  db_thread_ = std::thread([this] { db_loop_->Run(); });
  started_ = true;
  log::Info("postino run: node {} started ({} render workers, window {}){}", opt_.node, workers,
            window_, opt_.until_idle ? ", until idle" : "");
  return Status::Ok();
}

void Scheduler::LogStats() {
  PipelineSnapshot now = stats_.Snapshot(clock_, true);
  log::Info("{}", FormatStats(now, last_stats_));
  last_stats_ = now;
}

Status Scheduler::Reload(const config::Config& fresh) {
  Result<delivery::EngineConfig> ec = MakeEngineConfig(fresh, opt_.node);
  if (!ec.ok()) return ec.status();
  return engine_->Reconfigure(std::move(ec).value());
}

void Scheduler::OnPathEvent(delivery::PathEvent e) {
  ExportPathEvent(e);
  const bool limited = e.action == delivery::PathEvent::Action::kSuspended ||
                       e.action == delivery::PathEvent::Action::kSlowed;
  log::WarnF({.site = e.site}, "path {} -> {} {}{}{}: {}", e.source_name, e.site,
             delivery::PathEventActionName(e.action),
             e.rate ? " to " + e.rate->ToString() : std::string(),
             limited && e.until.time_since_epoch().count() != 0 ? " until " + log::IsoTime(e.until)
                                                               : std::string(),
             e.reply);
  db::Database::EgressEvent ev;
  ev.at = e.at.time_since_epoch().count() ? e.at : clock_.WallNow();
  ev.source_name = e.source_name;
  ev.source_ip = e.source_address;
  ev.site = e.site;
  ev.domain = e.domain;
  ev.action = delivery::PathEventActionName(e.action);
  ev.reply = SanitizeUtf8(e.rule.empty() ? e.reply : e.reply + " [rule " + e.rule + "]");
  ev.rate = e.rate ? e.rate->ToString() : "";
  if (e.until.time_since_epoch().count()) ev.until = e.until;
  outbox_.PushEgress(std::move(ev));
}

void Scheduler::Stop(int code, const std::string& why) {
  if (!started_ || stopping_.exchange(true)) return;
  exit_code_ = code;
  log::Info("postino run: stopping ({}): finishing transactions in flight", why);
  db_loop_->SetStopping();
  jobs_.Close();
  // Messages not handed to the engine go back to the database untouched.
  MonoTime now = clock_.Now();
  std::vector<int64_t> released;
  for (auto& p : pending_) {
    for (const Meta& m : p.metas) {
      stats_.Leave(Stage::kFeedQueue, now - m.since);
      released.push_back(m.delivery_id);
    }
  }
  pending_.clear();
  for (auto& r : ready_.Drain()) {
    stats_.Leave(Stage::kReadyQueue, now - r.queued_at, r.metas.size());
    for (const Meta& m : r.metas) released.push_back(m.delivery_id);
  }
  Release(released);
  uv_timer_stop(&feed_timer_);
  engine_->Shutdown([this] { OnEngineStopped(); });
}

void Scheduler::OnEngineStopped() {
  // Workers skip (release) what is left once stopping_ is set; after they
  // are joined nothing can touch the async handles any more.
  jobs_.Close();
  for (auto& w : workers_) w.join();
  workers_.clear();
  MonoTime now = clock_.Now();
  std::vector<int64_t> released;
  for (auto& r : ready_.Drain()) {
    stats_.Leave(Stage::kReadyQueue, now - r.queued_at, r.metas.size());
    for (const Meta& m : r.metas) released.push_back(m.delivery_id);
  }
  Release(released);
  {
    std::lock_guard<std::mutex> lock(async_mu_);
    async_open_ = false;
  }
  db_loop_->SetLoopDone();
  uv_close(reinterpret_cast<uv_handle_t*>(&ready_async_), nullptr);
  uv_close(reinterpret_cast<uv_handle_t*>(&control_async_), nullptr);
  uv_close(reinterpret_cast<uv_handle_t*>(&feed_timer_), nullptr);
  uv_close(reinterpret_cast<uv_handle_t*>(&stats_timer_), nullptr);
  if (stopped_) stopped_();
}

int Scheduler::Finish() {
  if (!started_) return exit_code_;
  jobs_.Close();
  for (auto& w : workers_) w.join();
  workers_.clear();
  if (db_thread_.joinable()) db_thread_.join();
  int db_code = db_loop_->Finish();
  engine_.reset();
  stats_export_.reset();
  log::Info("{} (totals)", FormatStats(stats_.Snapshot(clock_), PipelineSnapshot()));
  log::Info("postino run: node {} stopped: {} delivered, {} deferred, {} bounced, {} failed",
            opt_.node, delivered_, deferred_, bounced_, failed_);
  return exit_code_ != kExitOk ? exit_code_.load() : db_code;
}

void Scheduler::OnReady() {
  std::vector<Ready> batch = ready_.Drain();
  MonoTime now = clock_.Now();
  std::vector<int64_t> released;
  std::vector<db::AttemptResult> failures;
  for (auto& r : batch) {
    stats_.Leave(Stage::kReadyQueue, now - r.queued_at, r.metas.size());
    if (r.metas.empty()) continue;
    if (stopping_ || blocked_.count(r.metas.front().campaign_id)) {  // paused or cancelled meanwhile
      for (const Meta& m : r.metas) released.push_back(m.delivery_id);
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
        a.at = clock_.WallNow();
        failures.push_back(std::move(a));
      }
      continue;
    }
    for (Meta& m : r.metas) m.since = now;
    stats_.Enter(Stage::kFeedQueue, r.metas.size());
    pending_.push_back({std::move(r.metas), std::move(r.message)});
  }
  outbox_.PushResults(std::move(failures));
  Release(released);
  FeedEngine();
}

void Scheduler::OnControl() {
  if (stop_requested_.load() && !stopping_) {
    std::string why;
    {
      std::lock_guard<std::mutex> lock(control_mu_);
      why = stop_why_;
    }
    Stop(stop_code_.load(), why.empty() ? "requested" : why);
    return;
  }
  std::vector<db::Database::EgressEvent> lifts;
  {
    std::lock_guard<std::mutex> lock(control_mu_);
    blocked_ = blocked_campaigns_;
    lifts.swap(path_lifts_);
  }
  // `postino sources resume`: the operator lifted these paths.
  for (const auto& e : lifts) {
    size_t n = engine_ ? engine_->LiftPathStates(e.source_name, e.site) : 0;
    log::Info("path {} -> {}: resumed by the operator ({} path(s) lifted)", e.source_name,
              e.site.empty() ? "every site" : e.site, n);
  }
  const std::set<int64_t>& blocked = blocked_;
  if (blocked.empty() || stopping_) return;
  MonoTime now = clock_.Now();
  std::vector<int64_t> released;
  std::deque<Pending> keep;
  for (auto& p : pending_) {
    if (!p.metas.empty() && blocked.count(p.metas.front().campaign_id)) {
      for (const Meta& m : p.metas) {
        stats_.Leave(Stage::kFeedQueue, now - m.since);
        released.push_back(m.delivery_id);
      }
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
    auto it = in_engine_.find(static_cast<int64_t>(id));
    if (it == in_engine_.end()) continue;
    stats_.Leave(Stage::kEngine, now - it->second.since);
    in_engine_.erase(it);
    released.push_back(static_cast<int64_t>(id));
  }
  if (!released.empty()) {
    log::Info("released {} queued messages of paused or cancelled campaigns", released.size());
    Release(released);
  }
}

// Hands queued messages to the engine while it has room (counted in
// recipients: in_flight() counts recipients, in_engine_ has one entry each).
// Nothing new starts while the database is unreachable: its results could
// not be written.
void Scheduler::FeedEngine() {
  if (stopping_ || !db_up_) return;
  size_t limit = static_cast<size_t>(window_);
  MonoTime now = clock_.Now();
  while (!pending_.empty() && engine_->in_flight() < limit) {
    Pending p = std::move(pending_.front());
    pending_.pop_front();
    last_progress_ = now;  // a new message gets its own grace period
    for (Meta& meta : p.metas) {
      stats_.Leave(Stage::kFeedQueue, now - meta.since);
      meta.since = now;
      int64_t id = meta.delivery_id;
      in_engine_.emplace(id, std::move(meta));
    }
    stats_.Enter(Stage::kEngine, p.message.recipients.size());
    ExportEngineMessage();
    engine_->Submit(std::move(p.message));
  }
}

// --until-idle: recipients the engine holds back for a long time (a warm-up
// cap reached until the next UTC day, a suspended path, a rate whose next
// message is more than kNearWake away) would keep the run going that long.
// Once the engine has held them for kStallGrace with no outcome, no
// connection open or opening and no DNS lookup pending, they go back to the
// database, not due again for kPostpone (no attempt is counted); the run
// then claims nothing more and ends when what it holds is recorded.
void Scheduler::CheckStalled() {
  static constexpr auto kStallGrace = seconds(10);
  static constexpr auto kNearWake = seconds(60);
  static constexpr auto kPostpone = std::chrono::minutes(15);
  if (!opt_.until_idle || stopping_) return;
  MonoTime now = clock_.Now();
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
  std::vector<int64_t> postponed;
  for (uint64_t id : ids) {
    auto it = in_engine_.find(static_cast<int64_t>(id));
    if (it != in_engine_.end()) {
      stats_.Leave(Stage::kEngine, now - it->second.since);
      in_engine_.erase(it);
    }
    postponed.push_back(static_cast<int64_t>(id));
  }
  outbox_.Postpone(postponed, clock_.WallNow() + kPostpone);
  log::Warn("{} recipients cannot be sent now (warm-up caps, suspended or rate-limited paths): "
            "they go back to the database for {} minutes, and this --until-idle run ends; the "
            "next run picks up what is left",
            ids.size(), std::chrono::duration_cast<std::chrono::minutes>(kPostpone).count());
  db_loop_->SetHeldBack();
}

void Scheduler::OnOutcome(delivery::Outcome o) {
  MonoTime now = clock_.Now();
  last_progress_ = now;
  auto it = in_engine_.find(static_cast<int64_t>(o.id));
  if (it == in_engine_.end()) {
    log::Error("outcome for unknown delivery {}", o.id);
    return;
  }
  Meta meta = std::move(it->second);
  in_engine_.erase(it);
  stats_.Leave(Stage::kEngine, now - meta.since);
  if (stopping_ && o.disposition == delivery::Disposition::kDeferred && o.source_address.empty() &&
      o.reply.local) {
    // Never attempted: the engine was shutting down.
    Release({meta.delivery_id});
    return;
  }
  db::AttemptResult a = RecordOutcome(o, meta, retry_, cfg_.suppression.auto_suppress_hard_bounces,
                                      clock_.WallNow());
  ExportOutcome(a, o.source_address, o.site);
  if (log::GetLevel() <= log::Level::kDebug) {
    log::DebugF({.campaign = meta.campaign_id, .delivery = meta.delivery_id, .site = a.site,
                 .host = a.mx_host},
                "delivery {} to {}: {} ({})", meta.delivery_id, meta.email, a.status,
                o.reply.ToString());
  }
  if (a.status == "delivered") {
    ++delivered_;
  } else if (a.status == "deferred") {
    ++deferred_;
  } else {
    ++bounced_;  // bounced or expired
  }
  outbox_.PushResults({std::move(a)});
  FeedEngine();
}

void Scheduler::WorkerMain() {
  while (std::optional<Job> job = jobs_.Pop()) {
    if (job->deliveries.empty()) continue;
    MonoTime start = clock_.Now();
    stats_.Leave(Stage::kRenderQueue, start - job->queued_at, job->deliveries.size());
    Ready r;
    for (const db::ClaimedDelivery& d : job->deliveries) {
      r.metas.push_back({d.id, d.campaign_id, d.email, d.domain, d.attempts, d.first_attempt_at,
                         job->max_age, d.message_id, {}, d.submission_id});
    }
    if (stopping_) {
      Release(DeliveryIds(r.metas));
      continue;
    }
    stats_.Enter(Stage::kRender, r.metas.size());
    const db::ClaimedDelivery& first = job->deliveries.front();
    Result<RenderedMessage> m = Status::Internal("not rendered");
    if (job->submission) {
      m = SubmittedMessageFor(*job->submission);
    } else if (job->campaign->recipients_per_message() > 1) {
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
        r.message.recipients.push_back({static_cast<uint64_t>(meta.delivery_id), meta.email, meta.domain});
      }
      r.message.data = std::move(m->data);
      r.message.pool = job->pool.empty() ? cfg_.default_pool : job->pool;
    } else {
      r.failure = m.status().message();
    }
    r.queued_at = clock_.Now();
    stats_.Leave(Stage::kRender, r.queued_at - start, r.metas.size());
    stats_.Enter(Stage::kReadyQueue, r.metas.size());
    ready_.Push(std::move(r));
    // Workers are joined before the handle is closed (OnEngineStopped).
    uv_async_send(&ready_async_);
  }
}

// The stored bytes, signed once per message (the first worker to send it).
Result<RenderedMessage> Scheduler::SubmittedMessageFor(LoadedSubmission& m) {
  std::call_once(m.sign_once, [&] {
    bool is_signed = false;
    m.data = renderer_->SignSubmitted(std::move(m.bytes), &is_signed);
    m.bytes.clear();
    if (!is_signed && !cfg_.dkim.keys.empty()) {
      log::Warn("submitted message {}: no DKIM key for its From domain; sent unsigned", m.id);
    }
  });
  RenderedMessage out;
  out.data = m.data;
  out.message_id = m.message_id;
  out.envelope_from = m.mail_from;
  return out;
}

void Scheduler::RequestStop(int code, const std::string& why) {
  stop_code_ = code;
  stop_requested_ = true;
  SendControl();
}

// uv_async_send from the DB thread, never after the handle was closed.
void Scheduler::SendControl() {
  std::lock_guard<std::mutex> lock(async_mu_);
  if (async_open_) uv_async_send(&control_async_);
}

}  // namespace postino::scheduler
