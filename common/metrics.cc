// metrics.cc: the metrics registry, bounded (and recyclable) label sets and
// the Prometheus text exposition
// (https://prometheus.io/docs/instrumenting/exposition_formats/).
#include "common/metrics.h"

#include <fmt/format.h>
#include <time.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <limits>

#include "common/utf8.h"

namespace postino::metrics {
namespace {

constexpr size_t kMaxLabelValueBytes = 128;

[[noreturn]] void Fatal(const std::string& what) {
  std::fprintf(stderr, "postino metrics: %s\n", what.c_str());
  std::abort();
}

bool NameChar(char c, bool first, bool colon) {
  if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_') return true;
  if (colon && c == ':') return true;
  return !first && c >= '0' && c <= '9';
}

// A label value as exposed: valid UTF-8, at most kMaxLabelValueBytes.
std::string CleanValue(std::string_view v) {
  if (v.size() > kMaxLabelValueBytes) v = v.substr(0, kMaxLabelValueBytes);
  if (IsValidUtf8(v) && v.find('\0') == std::string_view::npos) return std::string(v);
  return SanitizeUtf8(v);
}

const char* TypeName(Type t) {
  switch (t) {
    case Type::kCounter: return "counter";
    case Type::kGauge: return "gauge";
    case Type::kHistogram: return "histogram";
  }
  return "untyped";
}

// " VALUE\n" after a sample's name and labels, appended piece by piece
// (no temporary strings).
void AppendSample(std::string& out, const std::string& value) {
  out += ' ';
  out += value;
  out += '\n';
}

void AppendLabels(std::string& out, const std::vector<LabelSpec>& names,
                  const std::vector<std::string>& values, std::string_view extra_name = {},
                  std::string_view extra_value = {}) {
  bool any = false;
  for (size_t i = 0; i < names.size(); ++i) {
    out += any ? ',' : '{';
    any = true;
    out += names[i].name;
    out += "=\"";
    out += EscapeLabelValue(values[i]);
    out += '"';
  }
  if (!extra_name.empty()) {
    out += any ? ',' : '{';
    any = true;
    out += extra_name;
    out += "=\"";
    out += extra_value;
    out += '"';
  }
  if (any) out += '}';
}

}  // namespace

bool ValidMetricName(std::string_view s) {
  if (s.empty()) return false;
  for (size_t i = 0; i < s.size(); ++i) {
    if (!NameChar(s[i], i == 0, true)) return false;
  }
  return true;
}

bool ValidLabelName(std::string_view s) {
  if (s.empty() || s.substr(0, 2) == "__") return false;
  for (size_t i = 0; i < s.size(); ++i) {
    if (!NameChar(s[i], i == 0, false)) return false;
  }
  return true;
}

std::string EscapeHelp(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (char c : s) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

std::string EscapeLabelValue(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (char c : s) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '"') {
      out += "\\\"";
    } else {
      out += c;
    }
  }
  return out;
}

std::string FormatValue(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  if (v == std::floor(v) && std::fabs(v) < 1e15) return fmt::format("{:.0f}", v);
  return fmt::format("{}", v);
}

std::vector<double> LatencyBuckets() {
  return {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};
}

int64_t StampClock::Seconds() const {
  if (clock_ != nullptr) {
    return std::chrono::duration_cast<std::chrono::seconds>(clock_->Now().time_since_epoch())
        .count();
  }
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
  return static_cast<int64_t>(ts.tv_sec);
}

HistogramSeries::HistogramSeries(const std::vector<double>* bounds, const StampClock* clock)
    : bounds_(bounds), buckets_(new std::atomic<uint64_t>[bounds->size() + 1]), stamp_(clock) {
  for (size_t i = 0; i <= bounds_->size(); ++i) buckets_[i].store(0, std::memory_order_relaxed);
}

void HistogramSeries::Observe(double v) {
  if (std::isnan(v)) return;
  size_t i = static_cast<size_t>(std::lower_bound(bounds_->begin(), bounds_->end(), v) -
                                 bounds_->begin());
  buckets_[i].fetch_add(1, std::memory_order_relaxed);
  sum_.fetch_add(v, std::memory_order_relaxed);
  stamp_.Touch();
}

void HistogramSeries::Reset() {
  for (size_t i = 0; i <= bounds_->size(); ++i) buckets_[i].store(0, std::memory_order_relaxed);
  sum_.store(0, std::memory_order_relaxed);
}

std::vector<uint64_t> HistogramSeries::Cumulative() const {
  std::vector<uint64_t> out(bounds_->size() + 1);
  uint64_t acc = 0;
  for (size_t i = 0; i < out.size(); ++i) {
    acc += buckets_[i].load(std::memory_order_relaxed);
    out[i] = acc;
  }
  return out;
}

template <typename Series>
Family<Series>::Family(std::string name, std::string help, Type type, std::vector<LabelSpec> labels,
                       std::vector<double> bounds, const Clock* clock)
    : name_(std::move(name)),
      help_(std::move(help)),
      type_(type),
      labels_(std::move(labels)),
      bounds_(std::move(bounds)),
      max_series_(1000),
      clock_(clock),
      seen_values_(labels_.size()),
      retire_not_before_(labels_.size(), std::numeric_limits<int64_t>::min()) {
  for (const LabelSpec& l : labels_) recyclable_ = recyclable_ || l.recyclable;
}

template <typename Series>
Series& Family<Series>::With(std::initializer_list<std::string_view> values) {
  Key key(labels_.size());
  size_t i = 0;
  for (std::string_view v : values) {
    if (i >= key.size()) break;
    key[i++] = CleanValue(v);
  }
  return Lookup(std::move(key));
}

template <typename Series>
Series& Family<Series>::With(const std::vector<std::string_view>& values) {
  Key key(labels_.size());
  for (size_t i = 0; i < key.size() && i < values.size(); ++i) key[i] = CleanValue(values[i]);
  return Lookup(std::move(key));
}

template <typename Series>
Series& Family<Series>::Lookup(Key key) {
  // A key that went to "other" because a recyclable label was full is looked
  // at again once a retirement may have become possible.
  auto usable = [this](const Indexed& found) {
    return found.recheck_at == kNever || clock_.Seconds() < found.recheck_at;
  };
  {
    std::shared_lock lock(mu_);
    auto it = index_.find(key);
    if (it != index_.end() && usable(it->second)) {
      it->second.series->stamp_.Touch();  // a lookup counts as use: see metrics.h
      return *it->second.series;
    }
  }
  std::unique_lock lock(mu_);
  auto it = index_.find(key);
  if (it != index_.end()) {
    if (usable(it->second)) {
      it->second.series->stamp_.Touch();
      return *it->second.series;
    }
    index_.erase(it);
  }
  int64_t now = recyclable_ ? clock_.Seconds() : 0;
  Key canonical = key;
  int64_t recheck_at = kNever;
  for (size_t i = 0; i < canonical.size(); ++i) {
    auto& seen = seen_values_[i];
    if (canonical[i] == kOverflowValue || seen.count(canonical[i]) != 0) continue;
    if (seen.size() >= labels_[i].max_values && !(labels_[i].recyclable && RetireIdlest(i, now))) {
      canonical[i] = std::string(kOverflowValue);
      if (labels_[i].recyclable) recheck_at = std::min(recheck_at, retire_not_before_[i]);
    } else {
      seen.emplace(canonical[i], now);
    }
  }
  Series* series = nullptr;
  auto found = series_.find(canonical);
  if (found == series_.end() && series_.size() >= max_series_) {
    for (auto& v : canonical) v = std::string(kOverflowValue);
    found = series_.find(canonical);
  }
  if (found != series_.end()) {
    series = found->second.get();
    series->stamp_.Touch();
  } else {
    series = &Create(canonical);
  }
  // Remember the collapsed key too, within a bound, so it is found under the
  // shared lock next time (a retirement forgets every collapsed key).
  if (key != canonical && index_.size() < 4 * max_series_ + 64) {
    index_.emplace(key, Indexed{series, recheck_at});
  }
  return *series;
}

template <typename Series>
Series& Family<Series>::Create(const Key& canonical) {
  std::unique_ptr<Series> made;
  if (!retired_.empty()) {
    made = std::move(retired_.back());
    retired_.pop_back();
    made->Reset();
  } else if constexpr (std::is_same_v<Series, HistogramSeries>) {
    made = std::make_unique<Series>(&bounds_, recyclable_ ? &clock_ : nullptr);
  } else {
    made = std::make_unique<Series>(recyclable_ ? &clock_ : nullptr);
  }
  made->stamp_.Touch();
  Series* series = made.get();
  series_.emplace(canonical, std::move(made));
  index_.emplace(canonical, Indexed{series, kNever});
  return *series;
}

template <typename Series>
bool Family<Series>::RetireIdlest(size_t label, int64_t now) {
  if (now < retire_not_before_[label]) return false;
  auto& seen = seen_values_[label];
  // Last update per value: when it got its slot, or its latest series update.
  std::map<std::string_view, int64_t, std::less<>> last;
  for (const auto& [value, added] : seen) last.emplace(value, added);
  for (const auto& [key, s] : series_) {
    auto it = last.find(key[label]);
    if (it != last.end()) it->second = std::max(it->second, s->stamp_.Last());
  }
  if (last.empty()) {  // max_values 0: "other" only, for good
    retire_not_before_[label] = kNever;
    return false;
  }
  auto idlest = std::min_element(last.begin(), last.end(), [](const auto& a, const auto& b) {
    return a.second < b.second;  // ties: the smallest value, the first in order
  });
  int64_t min_idle = labels_[label].min_idle.count();
  if (now - idlest->second < min_idle) {
    // Stamps only move forward: nothing can be retired before this.
    retire_not_before_[label] = idlest->second + min_idle;
    return false;
  }
  std::string value(idlest->first);
  for (auto it = series_.begin(); it != series_.end();) {
    if (it->first[label] == value) {
      retired_.push_back(std::move(it->second));
      it = series_.erase(it);
    } else {
      ++it;
    }
  }
  seen.erase(value);
  index_.clear();
  for (const auto& [key, s] : series_) index_.emplace(key, Indexed{s.get(), kNever});
  return true;
}

template <typename Series>
void Family<Series>::ExposeTo(std::string& out) const {
  out += "# HELP " + name_ + " " + EscapeHelp(help_) + "\n";
  out += "# TYPE " + name_ + " " + TypeName(type_) + "\n";
  // Under the shared lock throughout: series_ cannot change (no retirement,
  // no new series) while its keys and values are read.
  std::shared_lock lock(mu_);
  for (const auto& [key, s] : series_) {  // sorted by key
    if constexpr (std::is_same_v<Series, HistogramSeries>) {
      std::vector<uint64_t> cum = s->Cumulative();
      for (size_t i = 0; i < cum.size(); ++i) {
        out += name_ + "_bucket";
        std::string le = i < bounds_.size() ? FormatValue(bounds_[i]) : "+Inf";
        AppendLabels(out, labels_, key, "le", le);
        AppendSample(out, std::to_string(cum[i]));
      }
      out += name_ + "_sum";
      AppendLabels(out, labels_, key);
      AppendSample(out, FormatValue(s->Sum()));
      out += name_ + "_count";
      AppendLabels(out, labels_, key);
      AppendSample(out, std::to_string(cum.back()));
    } else if constexpr (std::is_same_v<Series, CounterSeries>) {
      out += name_;
      AppendLabels(out, labels_, key);
      AppendSample(out, std::to_string(s->Value()));
    } else {
      out += name_;
      AppendLabels(out, labels_, key);
      AppendSample(out, FormatValue(s->Value()));
    }
  }
}

template class Family<CounterSeries>;
template class Family<GaugeSeries>;
template class Family<HistogramSeries>;

Registry& Registry::Global() {
  static Registry* registry = new Registry();  // never destroyed: used until exit
  return *registry;
}

Registry::Entry& Registry::Register(std::string_view name, std::string_view help, Type type,
                                    std::vector<LabelSpec>& labels, std::vector<double> bounds,
                                    size_t max_series) {
  if (!ValidMetricName(name)) Fatal(fmt::format("invalid metric name '{}'", name));
  if (type == Type::kCounter && (name.size() < 6 || name.substr(name.size() - 6) != "_total")) {
    Fatal(fmt::format("counter '{}' must end in _total", name));
  }
  for (const LabelSpec& l : labels) {
    if (!ValidLabelName(l.name) || (type == Type::kHistogram && l.name == "le")) {
      Fatal(fmt::format("metric '{}': invalid label name '{}'", name, l.name));
    }
  }
  if (type == Type::kHistogram) {
    if (bounds.empty() || !std::is_sorted(bounds.begin(), bounds.end()) ||
        std::adjacent_find(bounds.begin(), bounds.end()) != bounds.end()) {
      Fatal(fmt::format("histogram '{}': bucket bounds must be strictly increasing", name));
    }
  }
  std::lock_guard lock(mu_);
  auto it = families_.find(name);
  if (it != families_.end()) {
    auto same_labels = [&](const std::vector<LabelSpec>& have) {
      if (have.size() != labels.size()) return false;
      for (size_t i = 0; i < have.size(); ++i) {
        if (have[i].name != labels[i].name || have[i].recyclable != labels[i].recyclable) {
          return false;
        }
      }
      return true;
    };
    const Entry& e = it->second;
    bool same = e.type == type &&
                ((e.counter && same_labels(e.counter->labels_)) ||
                 (e.gauge && same_labels(e.gauge->labels_)) ||
                 (e.histogram && same_labels(e.histogram->labels_) && e.histogram->bounds_ == bounds));
    if (!same) Fatal(fmt::format("metric '{}' registered twice with different shapes", name));
    return it->second;
  }
  Entry e{type, nullptr, nullptr, nullptr};
  std::string n(name), h(help);
  switch (type) {
    case Type::kCounter:
      e.counter.reset(new CounterFamily(n, h, type, labels, {}, clock_));
      e.counter->max_series_ = max_series;
      break;
    case Type::kGauge:
      e.gauge.reset(new GaugeFamily(n, h, type, labels, {}, clock_));
      e.gauge->max_series_ = max_series;
      break;
    case Type::kHistogram:
      e.histogram.reset(new HistogramFamily(n, h, type, labels, std::move(bounds), clock_));
      e.histogram->max_series_ = max_series;
      break;
  }
  return families_.emplace(n, std::move(e)).first->second;
}

CounterFamily& Registry::Counter(std::string_view name, std::string_view help,
                                 std::vector<LabelSpec> labels, size_t max_series) {
  return *Register(name, help, Type::kCounter, labels, {}, max_series).counter;
}

GaugeFamily& Registry::Gauge(std::string_view name, std::string_view help,
                             std::vector<LabelSpec> labels, size_t max_series) {
  return *Register(name, help, Type::kGauge, labels, {}, max_series).gauge;
}

HistogramFamily& Registry::Histogram(std::string_view name, std::string_view help,
                                     std::vector<double> bounds, std::vector<LabelSpec> labels,
                                     size_t max_series) {
  return *Register(name, help, Type::kHistogram, labels, std::move(bounds), max_series).histogram;
}

int Registry::AddCollector(std::function<void()> collect) {
  std::lock_guard lock(collectors_mu_);
  int id = next_collector_++;
  collectors_.emplace(id, std::move(collect));
  return id;
}

void Registry::RemoveCollector(int id) {
  std::lock_guard lock(collectors_mu_);
  collectors_.erase(id);
}

std::string Registry::Expose() {
  {
    // Held while collecting, so RemoveCollector waits for a running one.
    std::lock_guard lock(collectors_mu_);
    for (auto& [id, collect] : collectors_) collect();
  }
  std::vector<const Entry*> entries;
  {
    std::lock_guard lock(mu_);
    for (const auto& [name, e] : families_) entries.push_back(&e);  // sorted by name
  }
  std::string out;
  for (const Entry* e : entries) {
    if (e->counter) e->counter->ExposeTo(out);
    if (e->gauge) e->gauge->ExposeTo(out);
    if (e->histogram) e->histogram->ExposeTo(out);
  }
  return out;
}

}  // namespace postino::metrics
