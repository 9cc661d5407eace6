// warmup_ledger.cc: warm-up plans and today's counts per source and site.
#include "engine/delivery/warmup_ledger.h"

#include <set>

namespace postino::delivery {

int64_t WarmupLedger::TodayUtc() const {
  using namespace std::chrono;
  return duration_cast<seconds>(clock_.WallNow().time_since_epoch()).count() / 86400;
}

void WarmupLedger::RollDay() {
  int64_t today = TodayUtc();
  if (today != counts_day_) {
    counts_.clear();
    counts_day_ = today;
  }
}

void WarmupLedger::SetPlans(std::vector<shaping::WarmupPlan> plans) {
  std::set<std::string> planned;
  for (const auto& p : plans) planned.insert(p.source);
  tracker_ = std::make_unique<shaping::WarmupTracker>(clock_, std::move(plans));
  RollDay();
  // Today's counts carry over to the new plans.
  for (const auto& [key, n] : counts_) {
    if (planned.count(key.first) == 0) continue;
    for (uint64_t i = 0; i < n; ++i) tracker_->RecordSent(key.first, key.second);
  }
}

void WarmupLedger::Count(const std::string& source, const std::string& site, uint64_t recipients) {
  RollDay();
  counts_[{source, site}] += recipients;
  for (uint64_t i = 0; i < recipients; ++i) tracker_->RecordSent(source, site);
}

void WarmupLedger::Seed(const std::vector<WarmupCount>& counts) {
  RollDay();
  for (const WarmupCount& c : counts) {
    counts_[{c.source, c.site}] += c.count;
    if (tracker_->State(c.source).status == shaping::WarmupStatus::kNotWarming) continue;
    for (uint64_t i = 0; i < c.count; ++i) tracker_->RecordSent(c.source, c.site);
  }
}

std::vector<WarmupCount> WarmupLedger::Counts() const {
  std::vector<WarmupCount> out;
  if (TodayUtc() != counts_day_) return out;
  for (const auto& [key, n] : counts_) out.push_back({key.first, key.second, n});
  return out;
}

std::map<std::string, uint64_t> WarmupLedger::SentTodayBySource() const {
  std::map<std::string, uint64_t> sent;
  if (TodayUtc() != counts_day_) return sent;
  for (const auto& [key, n] : counts_) sent[key.first] += n;
  return sent;
}

}  // namespace postino::delivery
