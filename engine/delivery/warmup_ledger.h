// warmup_ledger.h: the engine's warm-up book-keeping: the WarmupTracker of
// the configured plans (caps per source and site) and today's (UTC) count of
// messages handed to each site per source, which survives a plan change
// (Reconfigure) and can be seeded after a restart. Uses the injected Clock.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "common/clock.h"
#include "engine/delivery/engine.h"
#include "engine/shaping/warmup.h"

namespace postino::delivery {

class WarmupLedger {
 public:
  explicit WarmupLedger(const Clock& clock) : clock_(clock) {}

  // New plans; today's counts carry over to them.
  void SetPlans(std::vector<shaping::WarmupPlan> plans);
  // `recipients` messages from `source` handed to `site` now.
  void Count(const std::string& source, const std::string& site, uint64_t recipients);
  // Adds counts read back after a restart (today's only).
  void Seed(const std::vector<WarmupCount>& counts);
  std::vector<WarmupCount> Counts() const;
  // Messages handed to any site by each source today.
  std::map<std::string, uint64_t> SentTodayBySource() const;

  // The tracker's answers (see shaping::WarmupTracker).
  bool MaySend(const std::string& source, const std::string& site) {
    return tracker_->MaySend(source, site);
  }
  std::optional<uint64_t> Remaining(const std::string& source, const std::string& site) {
    return tracker_->Remaining(source, site);
  }
  shaping::SourceState State(const std::string& source) const { return tracker_->State(source); }

 private:
  int64_t TodayUtc() const;
  void RollDay();

  const Clock& clock_;
  std::unique_ptr<shaping::WarmupTracker> tracker_ =
      std::make_unique<shaping::WarmupTracker>(clock_, std::vector<shaping::WarmupPlan>{});
  // Today's (UTC) messages per source name and site key.
  std::map<std::pair<std::string, std::string>, uint64_t> counts_;
  int64_t counts_day_ = 0;
};

}  // namespace postino::delivery
