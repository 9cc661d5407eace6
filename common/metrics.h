// metrics.h: the process-wide metrics registry (counters, gauges, histograms)
// and its Prometheus text exposition (format 0.0.4), served by http/ at
// /metrics and documented family by family in docs/metrics.md.
//
// Use:
//   static auto& sent = metrics::Registry::Global().Counter(
//       "postino_messages_total", "Messages by final outcome.",
//       {{"outcome", 8}, {"source", 32}});
//   metrics::CounterSeries& s = sent.With({"delivered", "mx1"});  // cache it
//   s.Inc();                                                     // lock-free
//
// Families are registered once by name (a second registration with the same
// name, type and labels returns the same family, so any module may register
// what it increments). Each label has a bound on its distinct values; a value
// past the bound is recorded under "other", and the family as a whole has a
// bound on its series (past it, every label becomes "other"), so untrusted or
// unbounded inputs (campaigns, sites) cannot grow memory or the scrape.
// Looking a series up takes a shared lock; keep the returned reference (it
// stays valid for the life of the process) and increments are relaxed atomics.
//
// Recyclable labels (LabelSpec::recyclable: campaigns, MX sites). The bound of
// an ordinary label is per process lifetime; a recyclable label instead makes
// room for a new value when it is full: the value whose series were least
// recently updated (Inc/Set/Add/Sub/Observe, or a With() lookup) is retired if
// it has been idle for at least LabelSpec::min_idle, its series leave the
// exposition and the new value takes its slot. Only when no value has been
// idle that long does the new value go to "other". A retired value that comes
// back starts again from zero. Retirement happens under the family's
// exclusive lock, and the exposition reads a family under its shared lock, so
// a scrape never shows a half-retired value.
//
// References into a recyclable family: the memory rule above still holds (a
// retired series object is never freed: it is zeroed and kept for the next
// series the family creates, so the family's objects stay within its series
// bound and no reference dangles). But a reference only counts for its value
// while that value is live: after retirement its increments are lost or
// counted for whichever value reuses the object (and keep that value from
// being retired, as any update does). So for a recyclable family,
// look the series up at each increment
//   families::RecipientsByCampaign().With({campaign, outcome}).Inc();
// and never cache the reference; the lookup marks the value used, and since a
// value must stay idle for min_idle (1 h by default) before it is retired, a
// lookup followed at once by its increment is always counted where it belongs.
// Increments stay lock-free; only the lookup takes the shared lock.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <initializer_list>
#include <map>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <vector>

#include "common/clock.h"

namespace postino::metrics {

// The label value that stands for every value past a label's bound.
inline constexpr std::string_view kOverflowValue = "other";

struct LabelSpec {
  std::string name;
  size_t max_values = 64;  // distinct values before the rest become "other"
  // When full, retire the least recently updated value idle for at least
  // `min_idle` to make room for a new one (see the top of this file).
  bool recyclable = false;
  std::chrono::seconds min_idle = std::chrono::hours(1);
};

// Whole seconds for last-update stamps: CLOCK_MONOTONIC_COARSE (a few ns, no
// system call), or an injected Clock's Now() in tests.
class StampClock {
 public:
  explicit StampClock(const Clock* clock = nullptr) : clock_(clock) {}
  int64_t Seconds() const;

 private:
  const Clock* clock_;
};

// The time a series was last updated, kept only in recyclable families
// (clock == nullptr elsewhere: Touch() is then one predictable branch). It
// never moves back (a thread that read the clock and was then descheduled
// cannot undo a later stamp), and within the same second Touch() only reads
// it, so busy series do not bounce a written cache line between threads.
class UpdateStamp {
 public:
  explicit UpdateStamp(const StampClock* clock = nullptr) : clock_(clock) {}
  void Touch() {
    if (clock_ == nullptr) return;
    int64_t now = clock_->Seconds();
    int64_t last = last_.load(std::memory_order_relaxed);
    while (now > last && !last_.compare_exchange_weak(last, now, std::memory_order_relaxed)) {
    }
  }
  int64_t Last() const { return last_.load(std::memory_order_relaxed); }

 private:
  const StampClock* clock_;
  std::atomic<int64_t> last_{0};
};

class CounterSeries {
 public:
  explicit CounterSeries(const StampClock* clock = nullptr) : stamp_(clock) {}
  void Inc(uint64_t n = 1) {
    value_.fetch_add(n, std::memory_order_relaxed);
    stamp_.Touch();
  }
  uint64_t Value() const { return value_.load(std::memory_order_relaxed); }

 private:
  template <typename>
  friend class Family;
  void Reset() { value_.store(0, std::memory_order_relaxed); }

  std::atomic<uint64_t> value_{0};
  UpdateStamp stamp_;
};

class GaugeSeries {
 public:
  explicit GaugeSeries(const StampClock* clock = nullptr) : stamp_(clock) {}
  void Set(double v) {
    value_.store(v, std::memory_order_relaxed);
    stamp_.Touch();
  }
  void Add(double d) {
    value_.fetch_add(d, std::memory_order_relaxed);
    stamp_.Touch();
  }
  void Sub(double d) {
    value_.fetch_sub(d, std::memory_order_relaxed);
    stamp_.Touch();
  }
  double Value() const { return value_.load(std::memory_order_relaxed); }

 private:
  template <typename>
  friend class Family;
  void Reset() { value_.store(0, std::memory_order_relaxed); }

  std::atomic<double> value_{0};
  UpdateStamp stamp_;
};

class HistogramSeries {
 public:
  explicit HistogramSeries(const std::vector<double>* bounds, const StampClock* clock = nullptr);
  void Observe(double v);
  // Cumulative counts per bound, then +Inf (== count) last.
  std::vector<uint64_t> Cumulative() const;
  double Sum() const { return sum_.load(std::memory_order_relaxed); }

 private:
  template <typename>
  friend class Family;
  void Reset();

  const std::vector<double>* bounds_;  // owned by the family
  std::unique_ptr<std::atomic<uint64_t>[]> buckets_;  // bounds + 1 (+Inf)
  std::atomic<double> sum_{0};
  UpdateStamp stamp_;
};

enum class Type { kCounter, kGauge, kHistogram };

// A named family of series sharing label names. Series are created on first
// use; they are removed only by the retirement of a recyclable label's value.
template <typename Series>
class Family {
 public:
  // The series for these label values (as many as label names, in order;
  // missing values are "", extra ones ignored). Never fails.
  Series& With(std::initializer_list<std::string_view> values);
  Series& With(const std::vector<std::string_view>& values);
  // The series without labels (or with every label "").
  Series& Get() { return With({}); }

  const std::string& name() const { return name_; }

 private:
  friend class Registry;
  using Key = std::vector<std::string>;

  Family(std::string name, std::string help, Type type, std::vector<LabelSpec> labels,
         std::vector<double> bounds, const Clock* clock);
  Series& Lookup(Key key);
  // Under the exclusive lock. Label `label` is full and recyclable: retires
  // its idlest value if idle long enough; true when a slot was freed.
  bool RetireIdlest(size_t label, int64_t now);
  Series& Create(const Key& canonical);  // from the pool of retired objects first
  void ExposeTo(std::string& out) const;

  std::string name_, help_;
  Type type_;
  std::vector<LabelSpec> labels_;
  std::vector<double> bounds_;  // histograms only
  size_t max_series_;
  bool recyclable_ = false;  // any label is
  StampClock clock_;
  mutable std::shared_mutex mu_;
  // Per label: the values that have a slot, with the time each got it.
  std::vector<std::map<std::string, int64_t, std::less<>>> seen_values_;
  // Per recyclable label: no value can be idle long enough before this time
  // (saves scanning on every new value while the label is full of busy values).
  std::vector<int64_t> retire_not_before_;
  static constexpr int64_t kNever = INT64_MAX;
  struct Indexed {
    Series* series;
    // A key collapsed to "other" because a recyclable label was full is
    // looked at again from this time on (when a retirement may be possible).
    int64_t recheck_at;
  };
  // Every key looked up so far (canonical or collapsed), bounded, so that a
  // collapsed key is found under the shared lock too.
  std::map<Key, Indexed> index_;
  std::map<Key, std::unique_ptr<Series>> series_;  // exposed, by canonical key
  std::vector<std::unique_ptr<Series>> retired_;   // zeroed, for reuse
};

using CounterFamily = Family<CounterSeries>;
using GaugeFamily = Family<GaugeSeries>;
using HistogramFamily = Family<HistogramSeries>;

// Bucket bounds 0.0005 … 10 s, for latencies in seconds.
std::vector<double> LatencyBuckets();

class Registry {
 public:
  Registry() = default;
  // `clock` (which must outlive the registry) times the last updates of
  // recyclable labels; the default is the coarse monotonic clock.
  explicit Registry(const Clock& clock) : clock_(&clock) {}
  Registry(const Registry&) = delete;
  Registry& operator=(const Registry&) = delete;

  // The registry every module of the process uses.
  static Registry& Global();

  // Names must be valid Prometheus names (counters end in "_total"); an
  // invalid name, or a second registration of a name with another type or
  // other labels, is a programming error and aborts with a message.
  // `max_series` bounds the family's series in all.
  CounterFamily& Counter(std::string_view name, std::string_view help,
                         std::vector<LabelSpec> labels = {}, size_t max_series = 1000);
  GaugeFamily& Gauge(std::string_view name, std::string_view help,
                     std::vector<LabelSpec> labels = {}, size_t max_series = 1000);
  HistogramFamily& Histogram(std::string_view name, std::string_view help,
                             std::vector<double> bounds, std::vector<LabelSpec> labels = {},
                             size_t max_series = 200);

  // `collect` runs (on the scraping thread) before every exposition; it sets
  // gauges or counters from state kept elsewhere (snapshots). Returns an id
  // for RemoveCollector, which the owner must call before it goes away.
  int AddCollector(std::function<void()> collect);
  void RemoveCollector(int id);

  // The text exposition format 0.0.4 of every family, sorted by name.
  std::string Expose();

 private:
  struct Entry {
    Type type;
    std::unique_ptr<CounterFamily> counter;
    std::unique_ptr<GaugeFamily> gauge;
    std::unique_ptr<HistogramFamily> histogram;
  };
  Entry& Register(std::string_view name, std::string_view help, Type type,
                  std::vector<LabelSpec>& labels, std::vector<double> bounds, size_t max_series);

  const Clock* clock_ = nullptr;
  std::mutex mu_;
  std::map<std::string, Entry, std::less<>> families_;
  std::mutex collectors_mu_;
  std::map<int, std::function<void()>> collectors_;
  int next_collector_ = 1;
};

// Exposition helpers, public for tests.
std::string EscapeHelp(std::string_view s);        // \ and newline
std::string EscapeLabelValue(std::string_view s);  // \ " and newline
std::string FormatValue(double v);                 // shortest form, +Inf/-Inf/NaN
bool ValidMetricName(std::string_view s);
bool ValidLabelName(std::string_view s);

}  // namespace postino::metrics
