// dispatch.h: the DB thread's campaign cache and grouping. A claimed batch
// becomes render jobs in claim order: one per recipient, or, for a campaign
// created with --recipients-per-message N > 1, one per group of up to N
// recipients of one domain sharing one message (a retry joins only
// recipients of its own earlier group, by stored Message-ID). Campaigns are
// loaded and prepared once; one that cannot be rendered is paused.
// Recipients of a submitted message become jobs of up to [submission]
// recipients_per_message recipients of one domain, sharing the stored bytes.
#pragma once

#include <chrono>
#include <memory>
#include <set>
#include <string>
#include <unordered_map>
#include <vector>

#include "scheduler/message_renderer.h"
#include "scheduler/pipeline.h"
#include "scheduler/work_store.h"

namespace postino::scheduler {

// Submitted message bytes one claim round loads at most (the first message
// always): memory stays bounded whatever the messages' sizes.
inline constexpr int64_t kClaimBytes = 64 << 20;

// How submitted messages are sent ([submission] in postino.toml).
struct SubmittedOptions {
  std::string pool;                   // "" = default pool
  std::chrono::seconds max_age{5 * 24 * 3600};  // max_queue_time
  size_t recipients_per_message = 50;
};

class Dispatcher {
 public:
  explicit Dispatcher(const MessageRenderer& renderer) : renderer_(renderer) {}

  void SetSubmittedOptions(SubmittedOptions o) { submitted_ = std::move(o); }

  // Jobs for `batch`; deliveries whose campaign could not be loaded (a
  // database error, retried with the next claim, or a campaign that cannot
  // be rendered, which is paused) are added to `released`.
  std::vector<Job> Group(WorkStore& store, std::vector<db::ClaimedDelivery> batch, MonoTime now,
                         std::vector<int64_t>* released);

  // Campaigns not running any more (paused, cancelled, finished) among
  // those this node has seen; nullopt when the states could not be read.
  // Finished and cancelled ones stay blocked for good.
  std::optional<std::set<int64_t>> Blocked(WorkStore& store);

 private:
  struct Entry {
    std::shared_ptr<const PreparedCampaign> prepared;  // null: cannot be rendered
    std::string pool;
    std::chrono::seconds max_age{0};
  };
  Entry Load(WorkStore& store, int64_t campaign_id);
  // The submitted message from the cache (filled by LoadSubmissions; kept
  // while some of its recipients are in flight); null when not loaded.
  std::shared_ptr<LoadedSubmission> LoadSubmission(int64_t id);
  // Reads the submitted messages of `batch` not in the cache, in one query,
  // up to kClaimBytes of them.
  std::vector<std::shared_ptr<LoadedSubmission>> LoadSubmissions(
      WorkStore& store, const std::vector<db::ClaimedDelivery>& batch);

  const MessageRenderer& renderer_;
  std::unordered_map<int64_t, Entry> campaigns_;
  std::set<int64_t> ended_;
  SubmittedOptions submitted_;
  std::unordered_map<int64_t, std::weak_ptr<LoadedSubmission>> submissions_;
};

}  // namespace postino::scheduler
