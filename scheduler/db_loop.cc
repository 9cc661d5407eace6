// db_loop.cc: the DB thread's rounds, outage handling and final journal.
#include "scheduler/db_loop.h"

#include <fmt/format.h>

#include <map>
#include <thread>

#include "common/log.h"
#include "scheduler/journal.h"

namespace postino::scheduler {

using std::chrono::duration_cast;
using std::chrono::milliseconds;

namespace {

constexpr Nanos kFirstBackoff = milliseconds(500);
constexpr Nanos kMaxBackoff = std::chrono::seconds(30);

double Secs(Nanos d) { return std::chrono::duration<double>(d).count(); }

// libpq's messages span lines; a log line per try stays one line.
std::string OneLine(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (c == '\n' || c == '\r' || c == '\t') {
      if (!out.empty() && out.back() != ' ') out += ' ';
    } else {
      out += c;
    }
  }
  return out;
}

}  // namespace

DbLoop::DbLoop(WorkStore& store, const Clock& clock, DbLoopOptions options, Outbox& outbox,
               PipelineStats& stats, Dispatcher& dispatcher, Hooks hooks)
    : store_(store),
      clock_(clock),
      opt_(std::move(options)),
      outbox_(outbox),
      stats_(stats),
      dispatcher_(dispatcher),
      hooks_(std::move(hooks)) {}

Status DbLoop::Start() {
  // Lifts written just before this start are already absent from the path
  // states the scheduler read; a few seconds of overlap are harmless (an
  // open path is not lifted twice).
  resumes_since_ = clock_.WallNow() - std::chrono::seconds(10);
  Status st = store_.LockNode(opt_.node);
  if (!st.ok()) return st;
  Result<std::vector<db::AttemptResult>> journal = ReadJournal(opt_.journal_path);
  if (!journal.ok()) return journal.status();
  if (!journal->empty()) {
    // The run that kept them may have lost its connection while a write of
    // some of them was committing.
    for (db::AttemptResult& r : *journal) r.replay = true;
    st = store_.RecordResults(opt_.node, *journal);
    if (!st.ok()) {
      return Status::IoError(fmt::format(
          "the journal {} holds {} results of an earlier run that could not be written yet ({}); "
          "nothing is claimed before they are",
          opt_.journal_path, journal->size(), st.message()));
    }
    st = RemoveJournal(opt_.journal_path);
    if (!st.ok()) return st;
    log::Info("postino run: wrote {} results kept in the journal {} by an earlier run",
              journal->size(), opt_.journal_path);
  }
  Result<int64_t> taken = store_.ReclaimLeases(opt_.node);
  if (!taken.ok()) return taken.status();
  if (*taken > 0) {
    log::Info("postino run: took back {} leases of an earlier process of node {}", *taken,
              opt_.node);
  }
  return Status::Ok();
}

void DbLoop::SetLoopDone() {
  done_at_ = clock_.Now();
  loop_done_ = true;
  outbox_.Wake();
}

void DbLoop::SetHeldBack() {
  held_back_ = true;
  outbox_.Wake();
}

void DbLoop::RequestStop(int code, const std::string& why) {
  if (stop_requested_) return;
  stop_requested_ = true;
  hooks_.request_stop(code, why);
}

void DbLoop::Down(MonoTime now, const Status& why) {
  down_ = true;
  down_since_ = now;
  backoff_ = kFirstBackoff;
  next_try_ = now + backoff_;
  stats_.SetDbDown(true);
  hooks_.db_state(false);
  log::Error("database unreachable: {}; results are kept and no new message is sent; "
             "reconnecting in {:.1f} s (stopping after {:.0f} s)",
             OneLine(why.message()), Secs(backoff_), Secs(opt_.give_up));
}

void DbLoop::StillDown(MonoTime now, const Status& why) {
  backoff_ = std::min(backoff_ * 2, kMaxBackoff);
  next_try_ = now + backoff_;
  log::Warn("database still unreachable after {:.1f} s ({}); next try in {:.1f} s",
            Secs(now - down_since_), OneLine(why.message()), Secs(backoff_));
  if (!gave_up_ && now - down_since_ >= opt_.give_up) {
    gave_up_ = true;
    log::Error("database unreachable for {:.0f} s: stopping; results not written go to the "
               "journal {}",
               Secs(now - down_since_), opt_.journal_path);
    RequestStop(kExitDatabase, "database unreachable");
  }
}

void DbLoop::Up(MonoTime now) {
  down_ = false;
  stats_.SetDbDown(false);
  hooks_.db_state(true);
  last_renew_.reset();  // renew at once: leases may be close to expiry
  log::Info("database reachable again after {:.1f} s", Secs(now - down_since_));
}

void DbLoop::Failed(MonoTime now, const Status& st) {
  if (st.code() == Status::Code::kIoError) {
    if (!down_) Down(now, st);
  } else {
    log::Error("{}", st.message());
  }
}

bool DbLoop::Write(Outbox::Batch& b, MonoTime now) {
  if (!b.results.empty()) {
    MonoTime t0 = clock_.Now();
    Status st = store_.RecordResults(opt_.node, b.results);
    stats_.RecordWrite(b.results.size(), clock_.Now() - t0, st.ok());
    if (!st.ok() && st.code() == Status::Code::kIoError) {
      // The server may have committed before the connection went (a
      // commit in doubt): the next write skips what it finds recorded.
      for (db::AttemptResult& r : b.results) r.replay = true;
      Failed(now, st);
      return false;
    }
    if (!st.ok() && b.results.size() > 1) {
      // Not the connection: one row is bad. Write them one by one so the
      // others are recorded; a row that still fails is logged and left to
      // its lease (it will be retried).
      log::Error("{}; writing the {} results one by one", st.message(), b.results.size());
      for (size_t i = 0; i < b.results.size(); ++i) {
        const auto& r = b.results[i];
        Status one = store_.RecordResults(opt_.node, {r});
        if (!one.ok() && one.code() == Status::Code::kIoError) {
          // The connection is what failed after all (a server shutting
          // down ends the session with an SQL error first): the results not
          // written yet stay in the batch for when it is back, or for the
          // journal, exactly as when the batch write itself loses it.
          for (size_t k = 0; k < i; ++k) stats_.Leave(Stage::kResultsQueue, t0 - b.results_at[k]);
          outstanding_ -= static_cast<int64_t>(i);
          b.results.erase(b.results.begin(), b.results.begin() + static_cast<std::ptrdiff_t>(i));
          b.results_at.erase(b.results_at.begin(),
                             b.results_at.begin() + static_cast<std::ptrdiff_t>(i));
          b.results.front().replay = true;  // its write may have committed
          Failed(now, one);
          return false;
        }
        if (!one.ok()) log::Error("result of delivery {} not recorded: {}", r.delivery_id, one.message());
      }
    } else if (!st.ok()) {
      log::Error("result of delivery {} not recorded: {}", b.results.front().delivery_id,
                 st.message());
    }
    for (MonoTime at : b.results_at) stats_.Leave(Stage::kResultsQueue, t0 - at);
    outstanding_ -= static_cast<int64_t>(b.results.size());
    b.results.clear();
    b.results_at.clear();
  }
  if (!b.egress.empty()) {
    Status st = store_.RecordEgressEvents(opt_.node, b.egress);
    if (!st.ok()) {
      Failed(now, st);
      if (down_) return false;
    }
    b.egress.clear();
  }
  if (!b.releases.empty()) {
    Status st = store_.ReleaseLeases(opt_.node, b.releases);
    if (!st.ok()) {
      Failed(now, st);
      if (down_) return false;
    }
    stats_.Released(b.releases.size());
    outstanding_ -= static_cast<int64_t>(b.releases.size());
    b.releases.clear();
  }
  if (!b.postpones.empty()) {
    // One stall gives one time; group by it anyway.
    std::map<WallTime, std::vector<int64_t>> by_time;
    for (const auto& [id, until] : b.postpones) by_time[until].push_back(id);
    for (const auto& [until, ids] : by_time) {
      Status st = store_.PostponeLeases(opt_.node, ids, until);
      if (!st.ok()) {
        Failed(now, st);
        if (down_) {
          // Keep only the groups not written yet.
          std::vector<std::pair<int64_t, WallTime>> rest;
          for (const auto& p : b.postpones) {
            if (p.second >= until) rest.push_back(p);
          }
          b.postpones.swap(rest);
          return false;
        }
      }
      stats_.Postponed(ids.size());
      outstanding_ -= static_cast<int64_t>(ids.size());
    }
    b.postpones.clear();
  }
  return true;
}

milliseconds DbLoop::Step() {
  MonoTime now = clock_.Now();
  Outbox::Batch b = outbox_.Take();
  if (stopping_ && hooks_.take_unrendered) {
    std::vector<int64_t> ids = hooks_.take_unrendered();
    b.releases.insert(b.releases.end(), ids.begin(), ids.end());
  }
  if (down_) {
    if (now < next_try_) {
      outbox_.PutBack(std::move(b));
      return std::min(milliseconds(100), duration_cast<milliseconds>(next_try_ - now) + milliseconds(1));
    }
    Status st = store_.Reconnect();
    if (!st.ok()) {
      StillDown(now, st);
      outbox_.PutBack(std::move(b));
      return milliseconds(100);
    }
    Up(now);
  }
  last_flush_ = now;
  if (!Write(b, now)) {
    outbox_.PutBack(std::move(b));
    return milliseconds(100);
  }
  if (loop_done_) return milliseconds(0);
  // Leases are renewed until the last transaction is over, stopping or not:
  // a slow end-of-data reply must not let another node take the row.
  if (!last_renew_ || now - *last_renew_ >= Nanos(opt_.lease) / 3) {
    last_renew_ = now;
    Status st = store_.RenewLeases(opt_.node, opt_.lease);
    if (!st.ok()) Failed(now, st);
  }
  if (down_ || stopping_ || stop_requested_) return milliseconds(100);
  if (!last_housekeeping_ || now - *last_housekeeping_ >= opt_.housekeeping_interval) {
    last_housekeeping_ = now;
    Housekeeping(now);
    if (down_) return milliseconds(100);
  }
  if (held_back_) {
    // --until-idle after a stall: more claims would only meet the same caps
    // (and re-claim what was postponed once it is due again).
    if (outstanding_ == 0) {
      log::Info("postino run: ending; recipients held back by shaping wait for the next run");
      RequestStop(kExitOk, "held back by shaping");
    }
    return milliseconds(100);
  }
  ClaimMore(now);
  return milliseconds(100);
}

void DbLoop::Housekeeping(MonoTime now) {
  EnsurePartitions(now);
  if (down_) return;
  Result<int> started = store_.StartDueCampaigns();
  if (!started.ok()) return Failed(now, started.status());
  if (*started > 0) log::Info("started {} scheduled campaign(s)", *started);
  Result<std::vector<std::string>> finished = store_.FinishCampaigns();
  if (!finished.ok()) return Failed(now, finished.status());
  for (const auto& name : *finished) log::Info("campaign \"{}\" finished", name);
  if (hooks_.dsn_round) {
    bool delays = !last_delay_check_ || now - *last_delay_check_ >= std::chrono::seconds(60);
    if (delays) last_delay_check_ = now;
    Status st = hooks_.dsn_round(delays);
    if (!st.ok()) return Failed(now, st);
  }
  if (hooks_.path_lifts) {
    Result<std::vector<db::Database::EgressEvent>> lifts = store_.OperatorResumes(resumes_since_);
    if (!lifts.ok()) return Failed(now, lifts.status());
    if (!lifts->empty()) {
      for (const auto& e : *lifts) resumes_since_ = std::max(resumes_since_, e.at);
      hooks_.path_lifts(std::move(lifts).value());
    }
  }
  std::optional<std::set<int64_t>> blocked = dispatcher_.Blocked(store_);
  if (blocked && *blocked != blocked_) {
    blocked_ = *blocked;
    hooks_.set_blocked(blocked_);
  }
}

// At the first housekeeping and then daily: the partitions of
// delivery_events for this month and the next ones (issue 15). A refusal
// (say, a lock wait timed out behind a long report) is retried in an hour;
// a lost connection is an outage like any other.
void DbLoop::EnsurePartitions(MonoTime now) {
  if (next_partitions_ && now < *next_partitions_) return;
  Result<std::vector<std::string>> created = store_.EnsureEventPartitions();
  if (!created.ok()) {
    if (created.status().code() == Status::Code::kIoError) return Failed(now, created.status());
    log::Warn("could not create delivery_events partitions ahead ({}); retrying in an hour",
              OneLine(created.status().message()));
    next_partitions_ = now + std::chrono::hours(1);
    return;
  }
  for (const auto& name : *created) log::Info("created partition {}", name);
  next_partitions_ = now + std::chrono::hours(24);
}

void DbLoop::ClaimMore(MonoTime now) {
  int claimed = 0;
  if (outstanding_ < opt_.window) {
    int want = static_cast<int>(std::min<int64_t>(opt_.batch_size, opt_.window - outstanding_));
    MonoTime t0 = clock_.Now();
    Result<std::vector<db::ClaimedDelivery>> batch = store_.Claim(opt_.node, want, opt_.lease);
    stats_.RecordClaim(batch.ok() ? batch->size() : 0, clock_.Now() - t0, batch.ok());
    if (!batch.ok()) return Failed(now, batch.status());
    claimed = static_cast<int>(batch->size());
    outstanding_ += claimed;
    std::vector<int64_t> released;
    std::vector<Job> jobs = dispatcher_.Group(store_, std::move(batch).value(), now, &released);
    outbox_.Release(released);
    size_t recipients = 0;
    for (const Job& j : jobs) recipients += j.deliveries.size();
    stats_.Enter(Stage::kRenderQueue, recipients);
    if (!jobs.empty()) hooks_.dispatch(std::move(jobs));
  }
  if (opt_.until_idle && claimed == 0 && outstanding_ == 0) {
    Result<bool> due = store_.HasDueWork();
    if (!due.ok()) return Failed(now, due.status());
    if (!*due) RequestStop(kExitOk, "nothing left to send now");
  }
}

void DbLoop::Run() {
  for (;;) {
    milliseconds wait = Step();
    if (loop_done_) {
      if (outbox_.Empty()) break;
      if (down_ && (gave_up_ || clock_.Now() - done_at_ >= opt_.final_grace)) break;
    }
    if (wait.count() > 0) {
      outbox_.Wait(wait, !down_);
      // Results are written within ~flush_interval of their reply (the
      // duplicate window after a crash), batched as they come.
      Nanos since = clock_.Now() - last_flush_;
      if (!down_ && !loop_done_ && since < opt_.flush_interval) {
        std::this_thread::sleep_for(opt_.flush_interval - since);
      }
    }
  }
}

int DbLoop::Finish() {
  int code = kExitOk;
  Outbox::Batch left = outbox_.Take();
  if (hooks_.take_unrendered) {
    std::vector<int64_t> ids = hooks_.take_unrendered();
    left.releases.insert(left.releases.end(), ids.begin(), ids.end());
  }
  if (!down_ && !left.empty() && Write(left, clock_.Now())) left = Outbox::Batch();
  if (!left.results.empty()) {
    code = kExitDatabase;
    Status st = AppendJournal(opt_.journal_path, left.results);
    if (st.ok()) {
      log::Error("{} results could not be written to the database: they are kept in the journal "
                 "{}, which the next `postino run` of node {} writes before it claims anything",
                 left.results.size(), opt_.journal_path, opt_.node);
    } else {
      log::Error("{} results could not be written to the database nor kept in the journal ({}): "
                 "those recipients will be tried again when their leases expire",
                 left.results.size(), st.message());
    }
  }
  size_t leases = left.releases.size() + left.postpones.size();
  if (leases > 0) {
    code = kExitDatabase;
    log::Warn("{} leases could not be given back: the next `postino run` of node {} takes them "
              "back at start (other nodes after {} s)",
              leases, opt_.node, opt_.lease.count());
  }
  if (!down_) {
    // Campaigns this run completed are marked finished before exiting.
    Result<std::vector<std::string>> finished = store_.FinishCampaigns();
    if (finished.ok()) {
      for (const auto& name : *finished) log::Info("campaign \"{}\" finished", name);
    }
    if (opt_.until_idle) {
      Result<db::Database::LeaseReport> others = store_.OtherNodesLeases(opt_.node);
      if (others.ok() && others->rows > 0 && others->expires_by) {
        std::time_t t = std::chrono::system_clock::to_time_t(*others->expires_by);
        std::tm tm{};
        gmtime_r(&t, &tm);
        log::Info("postino run: {} recipients are leased by other nodes; those leases expire by "
                  "{:04}-{:02}-{:02} {:02}:{:02}:{:02} UTC",
                  others->rows, tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
                  tm.tm_min, tm.tm_sec);
      }
    }
  }
  return code;
}

}  // namespace postino::scheduler
