// warmup.cc: daily caps per source and per site during IP warm-up.
#include "engine/shaping/warmup.h"

#include <algorithm>

#include "engine/shaping/site.h"

namespace postino::shaping {
namespace {

int64_t FloorDiv(int64_t a, int64_t b) { return a / b - ((a % b != 0) && ((a < 0) != (b < 0))); }

}  // namespace

const char* WarmupStatusName(WarmupStatus s) {
  switch (s) {
    case WarmupStatus::kNotWarming:
      return "not-warming";
    case WarmupStatus::kPending:
      return "pending";
    case WarmupStatus::kWarming:
      return "warming";
    case WarmupStatus::kCapped:
      return "capped";
    case WarmupStatus::kDone:
      return "done";
  }
  return "?";
}

WarmupTracker::WarmupTracker(const Clock& clock, std::vector<WarmupPlan> plans) : clock_(clock) {
  for (WarmupPlan& p : plans) {
    index_[p.source] = tracked_.size();
    Tracked t;
    t.site_sent.assign(p.sites.size(), 0);
    t.plan = std::move(p);
    tracked_.push_back(std::move(t));
  }
}

WarmupTracker::Tracked* WarmupTracker::Find(std::string_view source) {
  auto it = index_.find(std::string(source));
  return it == index_.end() ? nullptr : &tracked_[it->second];
}

int64_t WarmupTracker::Today(const Tracked& t) const {
  using namespace std::chrono;
  int64_t since = duration_cast<seconds>(clock_.WallNow() - sys_seconds(t.plan.start)).count();
  return FloorDiv(since, 86400);
}

void WarmupTracker::Roll(Tracked& t) {
  int64_t today = Today(t);
  if (today != t.counted_day) {
    t.counted_day = today;
    t.sent = 0;
    std::fill(t.site_sent.begin(), t.site_sent.end(), 0);
  }
}

std::optional<uint64_t> WarmupTracker::CapFor(const std::vector<uint64_t>& caps, int64_t day) {
  if (day < 0) return 0;
  if (static_cast<uint64_t>(day) >= caps.size()) return std::nullopt;
  return caps[static_cast<size_t>(day)];
}

std::optional<uint64_t> WarmupTracker::Remaining(std::string_view source,
                                                 std::string_view site_key) {
  Tracked* t = Find(source);
  if (t == nullptr) return std::nullopt;
  Roll(*t);
  std::optional<uint64_t> left;
  auto limit = [&](std::optional<uint64_t> cap, uint64_t sent) {
    if (!cap) return;
    uint64_t l = sent >= *cap ? 0 : *cap - sent;
    left = left ? std::min(*left, l) : l;
  };
  limit(CapFor(t->plan.caps, t->counted_day), t->sent);
  for (size_t i = 0; i < t->plan.sites.size(); ++i) {
    if (SiteMatches(t->plan.sites[i].site, site_key)) {
      limit(CapFor(t->plan.sites[i].caps, t->counted_day), t->site_sent[i]);
    }
  }
  return left;
}

bool WarmupTracker::MaySend(std::string_view source, std::string_view site_key) {
  Tracked* t = Find(source);
  if (t == nullptr) return true;
  Roll(*t);
  std::optional<uint64_t> cap = CapFor(t->plan.caps, t->counted_day);
  if (cap && t->sent >= *cap) return false;
  for (size_t i = 0; i < t->plan.sites.size(); ++i) {
    if (!SiteMatches(t->plan.sites[i].site, site_key)) continue;
    std::optional<uint64_t> site_cap = CapFor(t->plan.sites[i].caps, t->counted_day);
    if (site_cap && t->site_sent[i] >= *site_cap) return false;
  }
  return true;
}

void WarmupTracker::RecordSent(std::string_view source, std::string_view site_key) {
  Tracked* t = Find(source);
  if (t == nullptr) return;
  Roll(*t);
  ++t->sent;
  for (size_t i = 0; i < t->plan.sites.size(); ++i) {
    if (SiteMatches(t->plan.sites[i].site, site_key)) ++t->site_sent[i];
  }
}

SourceState WarmupTracker::State(std::string_view source) {
  SourceState s;
  s.source = std::string(source);
  Tracked* t = Find(source);
  if (t == nullptr) return s;
  Roll(*t);
  s.day = t->counted_day;
  s.sent_today = t->sent;
  s.cap = CapFor(t->plan.caps, s.day);
  using namespace std::chrono;
  s.next_day = sys_seconds(t->plan.start) + seconds((s.day + 1) * 86400);
  if (s.day < 0)
    s.status = WarmupStatus::kPending;
  else if (!s.cap)
    s.status = WarmupStatus::kDone;
  else if (s.sent_today >= *s.cap)
    s.status = WarmupStatus::kCapped;
  else
    s.status = WarmupStatus::kWarming;
  return s;
}

std::vector<SourceState> WarmupTracker::States() {
  std::vector<SourceState> out;
  for (Tracked& t : tracked_) out.push_back(State(t.plan.source));
  return out;
}

}  // namespace postino::shaping
