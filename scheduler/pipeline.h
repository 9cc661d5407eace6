// pipeline.h: what travels between the scheduler's threads, and the queue
// that carries results, released leases and path events to the DB thread.
//
//   DB thread ── Job ──► render workers ── Ready ──► loop thread (engine)
//        ▲                                               │
//        └────────────── Outbox (results, releases) ◄────┘
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "common/clock.h"
#include "db/database.h"
#include "engine/delivery/engine.h"
#include "scheduler/message_renderer.h"
#include "scheduler/stats.h"

namespace postino::scheduler {

// Exit codes of `postino run` the scheduler decides (README.md "Exit codes").
inline constexpr int kExitOk = 0;
inline constexpr int kExitDatabase = 4;
inline constexpr int kExitState = 7;

// What the loop keeps about one recipient while its message is in flight.
struct Meta {
  int64_t delivery_id = 0;
  int64_t campaign_id = 0;
  std::string email;
  std::string domain;
  int attempts = 0;  // before this one
  WallTime first_attempt_at;
  std::chrono::seconds max_age{0};  // the campaign's
  std::string message_id;
  MonoTime since{};  // entered its current stage (stats)
  int64_t submission_id = 0;  // a submitted message's recipient (campaign_id 0)
};

// A submitted message while its recipients are in flight: loaded once per
// claim round that needs it (Dispatcher), signed once (by the first worker).
struct LoadedSubmission {
  int64_t id = 0;
  std::string mail_from;  // "" = null sender (DSNs)
  std::string message_id;
  std::string bytes;      // as stored
  std::once_flag sign_once;
  std::shared_ptr<const std::string> data;  // what is sent (signed when a key fits)
};

// One message to render: one delivery, or several of one campaign and one
// domain when the campaign shares a message (recipients_per_message > 1), or
// up to [submission] recipients_per_message recipients of one submitted
// message and one domain.
struct Job {
  std::vector<db::ClaimedDelivery> deliveries;  // at least one
  std::shared_ptr<const PreparedCampaign> campaign;
  std::string pool;
  std::chrono::seconds max_age{0};
  MonoTime queued_at{};
  std::shared_ptr<LoadedSubmission> submission;  // set for submitted mail (campaign null)
};

// A rendered message (or why it could not be rendered), for the loop thread.
struct Ready {
  std::vector<Meta> metas;            // one per delivery of the job, same campaign
  delivery::OutboundMessage message;  // data null when rendering failed
  std::string failure;
  MonoTime queued_at{};
};

std::vector<int64_t> DeliveryIds(const std::vector<Meta>& metas);

// Everything the other threads hand to the DB thread. Thread-safe.
class Outbox {
 public:
  explicit Outbox(const Clock& clock, PipelineStats& stats) : clock_(clock), stats_(stats) {}

  void PushResults(std::vector<db::AttemptResult> results);
  void Release(const std::vector<int64_t>& ids);
  void Postpone(const std::vector<int64_t>& ids, WallTime not_before);
  void PushEgress(db::Database::EgressEvent e);

  struct Batch {
    std::vector<db::AttemptResult> results;
    std::vector<MonoTime> results_at;  // when each result was queued
    std::vector<int64_t> releases;
    std::vector<std::pair<int64_t, WallTime>> postpones;
    std::vector<db::Database::EgressEvent> egress;
    bool empty() const {
      return results.empty() && releases.empty() && postpones.empty() && egress.empty();
    }
  };
  // Takes everything queued now.
  Batch Take();
  // Puts back what could not be written, ahead of anything queued since.
  void PutBack(Batch b);
  // True when nothing waits to be written.
  bool Empty() const;
  // Waits until something is queued, Wake() is called, or `timeout`.
  // `any`: false waits for Wake() or the timeout only (the database is down).
  void Wait(std::chrono::milliseconds timeout, bool any);
  void Wake();

 private:
  const Clock& clock_;
  PipelineStats& stats_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  Batch q_;
  bool woken_ = false;
};

}  // namespace postino::scheduler
