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
#pragma once

#include <atomic>
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

namespace postino::metrics {

// The label value that stands for every value past a label's bound.
inline constexpr std::string_view kOverflowValue = "other";

struct LabelSpec {
  std::string name;
  size_t max_values = 64;  // distinct values before the rest become "other"
};

class CounterSeries {
 public:
  void Inc(uint64_t n = 1) { value_.fetch_add(n, std::memory_order_relaxed); }
  uint64_t Value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<uint64_t> value_{0};
};

class GaugeSeries {
 public:
  void Set(double v) { value_.store(v, std::memory_order_relaxed); }
  void Add(double d) { value_.fetch_add(d, std::memory_order_relaxed); }
  void Sub(double d) { value_.fetch_sub(d, std::memory_order_relaxed); }
  double Value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<double> value_{0};
};

class HistogramSeries {
 public:
  explicit HistogramSeries(const std::vector<double>* bounds);
  void Observe(double v);
  // Cumulative counts per bound, then +Inf (== count) last.
  std::vector<uint64_t> Cumulative() const;
  double Sum() const { return sum_.load(std::memory_order_relaxed); }

 private:
  const std::vector<double>* bounds_;  // owned by the family
  std::unique_ptr<std::atomic<uint64_t>[]> buckets_;  // bounds + 1 (+Inf)
  std::atomic<double> sum_{0};
};

enum class Type { kCounter, kGauge, kHistogram };

// A named family of series sharing label names. Series are created on first
// use and never removed.
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
  Family(std::string name, std::string help, Type type, std::vector<LabelSpec> labels,
         std::vector<double> bounds);
  Series& Lookup(std::vector<std::string> key);
  void ExposeTo(std::string& out) const;

  std::string name_, help_;
  Type type_;
  std::vector<LabelSpec> labels_;
  std::vector<double> bounds_;  // histograms only
  size_t max_series_;
  mutable std::shared_mutex mu_;
  std::vector<std::map<std::string, bool, std::less<>>> seen_values_;  // per label
  // Every key looked up so far (canonical or collapsed), bounded, so that a
  // collapsed key is found under the shared lock too.
  std::map<std::vector<std::string>, Series*> index_;
  std::vector<std::pair<std::vector<std::string>, std::unique_ptr<Series>>> series_;
};

using CounterFamily = Family<CounterSeries>;
using GaugeFamily = Family<GaugeSeries>;
using HistogramFamily = Family<HistogramSeries>;

// Bucket bounds 0.0005 … 10 s, for latencies in seconds.
std::vector<double> LatencyBuckets();

class Registry {
 public:
  Registry() = default;
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
