// metrics_test.cc: the metrics registry — series, bounded labels, histogram
// buckets, escaping and the text exposition format.
#include "common/metrics.h"

#include <gtest/gtest.h>

#include <thread>
#include <vector>

namespace postino::metrics {
namespace {

TEST(MetricsTest, CounterWithoutLabelsExposesOneLine) {
  Registry r;
  auto& c = r.Counter("postino_things_total", "Things done.");
  c.Get().Inc();
  c.Get().Inc(4);
  EXPECT_EQ(r.Expose(),
            "# HELP postino_things_total Things done.\n"
            "# TYPE postino_things_total counter\n"
            "postino_things_total 5\n");
}

TEST(MetricsTest, SeriesAreSortedAndLabelled) {
  Registry r;
  auto& c = r.Counter("postino_sent_total", "Sent.", {{"outcome", 8}, {"source", 8}});
  c.With({"delivered", "b"}).Inc(2);
  c.With({"bounced", "a"}).Inc();
  c.With({"delivered", "b"}).Inc();
  EXPECT_EQ(r.Expose(),
            "# HELP postino_sent_total Sent.\n"
            "# TYPE postino_sent_total counter\n"
            "postino_sent_total{outcome=\"bounced\",source=\"a\"} 1\n"
            "postino_sent_total{outcome=\"delivered\",source=\"b\"} 3\n");
}

TEST(MetricsTest, SameSeriesReferenceIsStable) {
  Registry r;
  auto& c = r.Counter("postino_a_total", "A.", {{"x", 4}});
  CounterSeries& s1 = c.With({"v"});
  for (int i = 0; i < 100; ++i) c.With({std::to_string(i)});
  EXPECT_EQ(&s1, &c.With({"v"}));
}

TEST(MetricsTest, LabelValuesPastTheBoundBecomeOther) {
  Registry r;
  auto& c = r.Counter("postino_campaign_total", "Per campaign.", {{"campaign", 2}});
  c.With({"1"}).Inc();
  c.With({"2"}).Inc();
  c.With({"3"}).Inc();
  c.With({"4"}).Inc(2);
  c.With({"3"}).Inc();  // found again, still collapsed
  EXPECT_EQ(c.With({"other"}).Value(), 4u);
  std::string text = r.Expose();
  EXPECT_NE(text.find("postino_campaign_total{campaign=\"other\"} 4\n"), std::string::npos) << text;
  EXPECT_EQ(text.find("campaign=\"3\""), std::string::npos);
}

TEST(MetricsTest, FamilySeriesBoundCollapsesEveryLabel) {
  Registry r;
  auto& c = r.Counter("postino_pairs_total", "Pairs.", {{"a", 100}, {"b", 100}}, 3);
  for (int i = 0; i < 10; ++i) c.With({std::to_string(i), std::to_string(i)}).Inc();
  std::string text = r.Expose();
  EXPECT_NE(text.find("postino_pairs_total{a=\"other\",b=\"other\"} 7\n"), std::string::npos) << text;
}

TEST(MetricsTest, GaugeValues) {
  Registry r;
  auto& g = r.Gauge("postino_queue_depth", "Depth.", {{"stage", 8}});
  g.With({"render"}).Set(3);
  g.With({"render"}).Add(0.5);
  g.With({"send"}).Set(-2);
  std::string text = r.Expose();
  EXPECT_NE(text.find("postino_queue_depth{stage=\"render\"} 3.5\n"), std::string::npos) << text;
  EXPECT_NE(text.find("postino_queue_depth{stage=\"send\"} -2\n"), std::string::npos) << text;
  EXPECT_NE(text.find("# TYPE postino_queue_depth gauge\n"), std::string::npos);
}

TEST(MetricsTest, HistogramBucketsAreCumulativeWithInf) {
  Registry r;
  auto& h = r.Histogram("postino_batch_seconds", "Batch time.", {0.1, 1}, {{"op", 4}});
  auto& s = h.With({"claim"});
  s.Observe(0.05);
  s.Observe(0.1);  // le is inclusive
  s.Observe(0.5);
  s.Observe(7);
  EXPECT_EQ(r.Expose(),
            "# HELP postino_batch_seconds Batch time.\n"
            "# TYPE postino_batch_seconds histogram\n"
            "postino_batch_seconds_bucket{op=\"claim\",le=\"0.1\"} 2\n"
            "postino_batch_seconds_bucket{op=\"claim\",le=\"1\"} 3\n"
            "postino_batch_seconds_bucket{op=\"claim\",le=\"+Inf\"} 4\n"
            "postino_batch_seconds_sum{op=\"claim\"} 7.65\n"
            "postino_batch_seconds_count{op=\"claim\"} 4\n");
}

TEST(MetricsTest, EscapesHelpAndLabelValues) {
  Registry r;
  auto& c = r.Counter("postino_esc_total", "Back\\slash and\nnewline.", {{"v", 4}});
  c.With({"a\"b\\c\nd"}).Inc();
  std::string text = r.Expose();
  EXPECT_NE(text.find("# HELP postino_esc_total Back\\\\slash and\\nnewline.\n"), std::string::npos)
      << text;
  EXPECT_NE(text.find("postino_esc_total{v=\"a\\\"b\\\\c\\nd\"} 1\n"), std::string::npos) << text;
}

TEST(MetricsTest, InvalidUtf8AndLongValuesAreCleaned) {
  Registry r;
  auto& c = r.Counter("postino_utf_total", "U.", {{"v", 4}});
  c.With({std::string_view("\xff\xfe", 2)}).Inc();
  c.With({std::string(1000, 'x')}).Inc();
  std::string text = r.Expose();
  EXPECT_EQ(text.find('\xff'), std::string::npos);
  EXPECT_NE(text.find("v=\"" + std::string(128, 'x') + "\""), std::string::npos);
}

TEST(MetricsTest, ReRegistrationReturnsTheSameFamily) {
  Registry r;
  auto& a = r.Counter("postino_x_total", "X.", {{"l", 4}});
  auto& b = r.Counter("postino_x_total", "X again.", {{"l", 9}});
  EXPECT_EQ(&a, &b);
}

TEST(MetricsDeathTest, BadNamesAbort) {
  Registry r;
  EXPECT_DEATH(r.Counter("postino_no_suffix", "x"), "must end in _total");
  EXPECT_DEATH(r.Gauge("bad name", "x"), "invalid metric name");
  EXPECT_DEATH(r.Histogram("postino_h_seconds", "x", {0.1}, {{"le", 2}}), "invalid label name");
  EXPECT_DEATH(r.Histogram("postino_h2_seconds", "x", {1, 0.1}), "strictly increasing");
  r.Counter("postino_twice_total", "x");
  EXPECT_DEATH(r.Gauge("postino_twice_total", "x"), "registered twice");
}

TEST(MetricsTest, FormatValue) {
  EXPECT_EQ(FormatValue(0), "0");
  EXPECT_EQ(FormatValue(12), "12");
  EXPECT_EQ(FormatValue(0.25), "0.25");
  EXPECT_EQ(FormatValue(1.0 / 0.0), "+Inf");
  EXPECT_EQ(FormatValue(-1.0 / 0.0), "-Inf");
  EXPECT_EQ(FormatValue(0.0 / 0.0), "NaN");
}

TEST(MetricsTest, CollectorsRunBeforeExposition) {
  Registry r;
  auto& g = r.Gauge("postino_depth", "D.");
  int calls = 0;
  int id = r.AddCollector([&] { g.Get().Set(++calls); });
  EXPECT_NE(r.Expose().find("postino_depth 1\n"), std::string::npos);
  EXPECT_NE(r.Expose().find("postino_depth 2\n"), std::string::npos);
  r.RemoveCollector(id);
  EXPECT_NE(r.Expose().find("postino_depth 2\n"), std::string::npos);
}

TEST(MetricsTest, ConcurrentIncrementsAreAllCounted) {
  Registry r;
  auto& c = r.Counter("postino_threads_total", "T.", {{"t", 4}});
  auto& h = r.Histogram("postino_threads_seconds", "T.", LatencyBuckets());
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 10000; ++i) {
        c.With({t % 2 == 0 ? "even" : "odd"}).Inc();
        h.Get().Observe(0.001);
      }
    });
  }
  std::thread scraper([&] {
    for (int i = 0; i < 20; ++i) r.Expose();
  });
  for (auto& th : threads) th.join();
  scraper.join();
  EXPECT_EQ(c.With({"even"}).Value() + c.With({"odd"}).Value(), 40000u);
  EXPECT_EQ(h.Get().Cumulative().back(), 40000u);
}

}  // namespace
}  // namespace postino::metrics

// Appended: the named families of metric_families.h.
#include "common/metric_families.h"

namespace postino::metrics {
namespace {

TEST(MetricFamiliesTest, RegisterAllExposesEveryFamilyWithHelpAndType) {
  families::RegisterAll();
  std::string text = Registry::Global().Expose();
  for (const char* name :
       {"postino_recipients_total", "postino_unsubscribes_total", "postino_http_connections",
        "postino_db_batch_duration_seconds", "postino_submission_auth_failures_total",
        "postino_bounces_total", "postino_complaints_total", "postino_path_events_total"}) {
    EXPECT_NE(text.find(std::string("# TYPE ") + name + " "), std::string::npos) << name;
    EXPECT_NE(text.find(std::string("# HELP ") + name + " "), std::string::npos) << name;
  }
  EXPECT_EQ(&families::Bounces(), &families::Bounces());
}

}  // namespace
}  // namespace postino::metrics

// Appended: recyclable labels (campaigns, sites) — the idlest value gives its
// slot to a new one once it has been idle for the label's minimum age.
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <mutex>
#include <set>

#include "common/clock.h"

namespace postino::metrics {
namespace {

using std::chrono::seconds;

LabelSpec Recycled(const char* name, size_t max_values, seconds min_idle) {
  return {name, max_values, true, min_idle};
}

// The distinct values of `label` in the exposition of `name`.
std::set<std::string> ExposedValues(const std::string& text, const std::string& name,
                                    const std::string& label) {
  std::set<std::string> out;
  std::string needle = name + "{" + label + "=\"";
  for (size_t at = text.find(needle); at != std::string::npos; at = text.find(needle, at + 1)) {
    size_t start = at + needle.size();
    out.insert(text.substr(start, text.find('"', start) - start));
  }
  return out;
}

TEST(MetricsRecycleTest, RetiresTheIdlestValueAndDropsItsSeries) {
  FakeClock clock;
  Registry r(clock);
  auto& c = r.Counter("postino_by_campaign_total", "Per campaign.",
                      {Recycled("campaign", 3, seconds(60)), {"outcome", 4}});
  c.With({"1", "delivered"}).Inc();
  c.With({"2", "delivered"}).Inc(2);
  c.With({"2", "bounced"}).Inc();
  c.With({"3", "delivered"}).Inc(3);
  clock.Advance(seconds(100));
  c.With({"1", "delivered"}).Inc();
  clock.Advance(seconds(100));
  c.With({"3", "bounced"}).Inc();  // another series of the same value counts as its use
  clock.Advance(seconds(100));
  c.With({"4", "delivered"}).Inc(7);  // full: "2" (idle 300 s) is retired, both its series
  EXPECT_EQ(r.Expose(),
            "# HELP postino_by_campaign_total Per campaign.\n"
            "# TYPE postino_by_campaign_total counter\n"
            "postino_by_campaign_total{campaign=\"1\",outcome=\"delivered\"} 2\n"
            "postino_by_campaign_total{campaign=\"3\",outcome=\"bounced\"} 1\n"
            "postino_by_campaign_total{campaign=\"3\",outcome=\"delivered\"} 3\n"
            "postino_by_campaign_total{campaign=\"4\",outcome=\"delivered\"} 7\n");
}

TEST(MetricsRecycleTest, RespectsTheMinimumIdleAgeElseOther) {
  FakeClock clock;
  Registry r(clock);
  auto& c = r.Counter("postino_age_total", "A.", {Recycled("campaign", 2, seconds(3600))});
  c.With({"1"}).Inc();
  c.With({"2"}).Inc();
  clock.Advance(seconds(1800));
  c.With({"3"}).Inc();  // nothing idle for an hour yet
  clock.Advance(seconds(1799));
  c.With({"4"}).Inc(2);  // 3599 s: still not
  EXPECT_EQ(ExposedValues(r.Expose(), "postino_age_total", "campaign"),
            (std::set<std::string>{"1", "2", "other"}));
  EXPECT_EQ(c.With({"other"}).Value(), 3u);
  clock.Advance(seconds(1));
  c.With({"5"}).Inc(5);  // 3600 s: "1" and "2" tie; the first in order goes
  EXPECT_EQ(ExposedValues(r.Expose(), "postino_age_total", "campaign"),
            (std::set<std::string>{"2", "5", "other"}));
  // A value sent to "other" earlier gets a slot of its own once one is free;
  // what it counted meanwhile stays in "other".
  c.With({"3"}).Inc();
  std::string text = r.Expose();
  EXPECT_EQ(ExposedValues(text, "postino_age_total", "campaign"),
            (std::set<std::string>{"3", "5", "other"}));
  EXPECT_NE(text.find("postino_age_total{campaign=\"3\"} 1\n"), std::string::npos) << text;
  EXPECT_NE(text.find("postino_age_total{campaign=\"other\"} 3\n"), std::string::npos) << text;
}

TEST(MetricsRecycleTest, AValueSentToOtherGetsItsSlotAtItsNextUpdateOnceOneIsIdle) {
  FakeClock clock;
  Registry r(clock);
  auto& c = r.Counter("postino_late_total", "L.", {Recycled("campaign", 1, seconds(60))});
  c.With({"a"}).Inc();
  clock.Advance(seconds(10));
  c.With({"b"}).Inc();  // "a" idle for 10 s only
  clock.Advance(seconds(49));
  c.With({"b"}).Inc();  // 59 s: still "other", found under the shared lock
  EXPECT_EQ(c.With({"other"}).Value(), 2u);
  clock.Advance(seconds(1));
  c.With({"b"}).Inc();  // 60 s: "a" is retired, no other new value needed
  std::string text = r.Expose();
  EXPECT_EQ(text,
            "# HELP postino_late_total L.\n"
            "# TYPE postino_late_total counter\n"
            "postino_late_total{campaign=\"b\"} 1\n"
            "postino_late_total{campaign=\"other\"} 2\n");
}

TEST(MetricsRecycleTest, ALookupWithoutIncrementKeepsAValueInUse) {
  FakeClock clock;
  Registry r(clock);
  auto& c = r.Counter("postino_touch_total", "T.", {Recycled("site", 2, seconds(10))});
  c.With({"a"}).Inc();
  c.With({"b"}).Inc();
  clock.Advance(seconds(20));
  c.With({"a"});  // looked up, about to be incremented
  c.With({"c"}).Inc();
  EXPECT_EQ(ExposedValues(r.Expose(), "postino_touch_total", "site"),
            (std::set<std::string>{"a", "c"}));
}

TEST(MetricsRecycleTest, ARetiredValueComingBackStartsFromZero) {
  FakeClock clock;
  Registry r(clock);
  auto& c = r.Counter("postino_back_total", "B.", {Recycled("campaign", 2, seconds(0))});
  c.With({"a"}).Inc(5);
  clock.Advance(seconds(1));
  c.With({"b"}).Inc(6);
  clock.Advance(seconds(1));
  c.With({"c"}).Inc(7);  // retires "a"
  clock.Advance(seconds(1));
  EXPECT_EQ(c.With({"a"}).Value(), 0u);  // back, retiring "b"; from zero
  c.With({"a"}).Inc();
  std::string text = r.Expose();
  EXPECT_NE(text.find("postino_back_total{campaign=\"a\"} 1\n"), std::string::npos) << text;
  EXPECT_NE(text.find("postino_back_total{campaign=\"c\"} 7\n"), std::string::npos) << text;
  EXPECT_EQ(text.find("campaign=\"b\""), std::string::npos) << text;
  EXPECT_EQ(text.find("other"), std::string::npos) << text;
}

TEST(MetricsRecycleTest, HistogramsAndGaugesRecycleToo) {
  FakeClock clock;
  Registry r(clock);
  auto& h = r.Histogram("postino_site_seconds", "S.", {1}, {Recycled("site", 1, seconds(0))});
  auto& g = r.Gauge("postino_site_open", "O.", {Recycled("site", 1, seconds(0))});
  h.With({"a"}).Observe(0.5);
  g.With({"a"}).Set(4);
  clock.Advance(seconds(1));
  h.With({"b"}).Observe(2);  // reuses the object of "a": buckets and sum zeroed
  g.With({"b"}).Add(1);
  EXPECT_EQ(r.Expose(),
            "# HELP postino_site_open O.\n"
            "# TYPE postino_site_open gauge\n"
            "postino_site_open{site=\"b\"} 1\n"
            "# HELP postino_site_seconds S.\n"
            "# TYPE postino_site_seconds histogram\n"
            "postino_site_seconds_bucket{site=\"b\",le=\"1\"} 0\n"
            "postino_site_seconds_bucket{site=\"b\",le=\"+Inf\"} 1\n"
            "postino_site_seconds_sum{site=\"b\"} 2\n"
            "postino_site_seconds_count{site=\"b\"} 1\n");
}

TEST(MetricsRecycleTest, CachedReferencesStayValidAfterRetirement) {
  FakeClock clock;
  Registry r(clock);
  auto& c = r.Counter("postino_cached_total", "C.",
                      {Recycled("campaign", 4, seconds(0)), {"outcome", 2}});
  std::vector<CounterSeries*> held;
  for (int i = 0; i < 200; ++i) {
    clock.Advance(seconds(1));
    CounterSeries& s = c.With({std::to_string(i), i % 2 == 0 ? "a" : "b"});
    s.Inc();
    held.push_back(&s);
  }
  // Every object ever handed out is still alive (ASan checks): increments
  // through a reference whose value was retired are lost or counted for the
  // value that reuses its object, never a crash.
  for (CounterSeries* s : held) s->Inc();
  std::string text = r.Expose();
  EXPECT_EQ(ExposedValues(text, "postino_cached_total", "campaign"),
            (std::set<std::string>{"196", "197", "198", "199"}));
  EXPECT_EQ(text.find("other"), std::string::npos) << text;
  // Memory stays within the bound: each new value reused the object of the
  // value it retired.
  EXPECT_EQ(std::set<CounterSeries*>(held.begin(), held.end()).size(), 4u);
}

TEST(MetricsDeathTest, RecyclingMustAgreeAtRegistration) {
  Registry r;
  r.Counter("postino_shape_total", "S.", {{"campaign", 4}});
  EXPECT_DEATH(r.Counter("postino_shape_total", "S.", {{"campaign", 4, true}}), "registered twice");
}

// Threads increment hot values (looking them up each time, and through cached
// references) while others add new values that retire old ones, and a scraper
// checks every exposition: never more values than the bound, hot values always
// there, and in the end not one hot increment lost. Adders take turns (a
// mutex) so that hot values are provably never the idlest; everything else
// runs at once.
TEST(MetricsRecycleTest, ConcurrentIncrementsRetirementsAndScrapes) {
  FakeClock clock;
  Registry r(clock);
  constexpr size_t kMax = 8;
  constexpr int kHot = 3, kPerThread = 20000, kAdds = 300;
  auto& c = r.Counter("postino_race_total", "R.", {Recycled("campaign", kMax, seconds(1))});
  for (int h = 0; h < kHot; ++h) c.With({"hot" + std::to_string(h)});

  std::atomic<bool> adding{true};
  std::vector<std::thread> threads;
  for (int t = 0; t < 2; ++t) {
    threads.emplace_back([&, t] {
      CounterSeries& cached = c.With({"hot" + std::to_string(t)});
      for (int i = 0; i < kPerThread; ++i) {
        c.With({"hot" + std::to_string(i % kHot)}).Inc();
        cached.Inc();
      }
    });
  }
  std::mutex adders;
  for (int t = 0; t < 2; ++t) {
    threads.emplace_back([&, t] {
      std::vector<CounterSeries*> stale;
      uint64_t sink = 0;
      for (int i = 0; i < kAdds; ++i) {
        {
          std::lock_guard lock(adders);
          clock.Advance(seconds(1));
          for (int h = 0; h < kHot; ++h) c.With({"hot" + std::to_string(h)}).Inc(0);
          CounterSeries& s = c.With({"new" + std::to_string(t) + "-" + std::to_string(i)});
          s.Inc();
          stale.push_back(&s);
        }
        // Objects of retired values stay alive (ASan checks). Only read: an
        // update through a stale reference would count as use of whichever
        // value now owns the object, and keep that value from retirement.
        for (CounterSeries* old : stale) sink += old->Value();
      }
      EXPECT_GT(sink, 0u);
    });
  }
  std::atomic<int> scrapes{0};
  std::string failure;
  std::thread scraper([&] {
    while (adding.load() || scrapes.load() < 5) {
      std::string text = r.Expose();
      std::set<std::string> values = ExposedValues(text, "postino_race_total", "campaign");
      if (values.size() > kMax) failure = "too many values: " + text;
      for (int h = 0; h < kHot; ++h) {
        if (values.count("hot" + std::to_string(h)) == 0) failure = "hot value missing: " + text;
      }
      if (values.count("other") != 0) failure = "a new value went to other: " + text;
      ++scrapes;
    }
  });
  for (auto& th : threads) th.join();
  adding = false;
  scraper.join();
  EXPECT_EQ(failure, "");
  uint64_t hot = 0;
  for (int h = 0; h < kHot; ++h) hot += c.With({"hot" + std::to_string(h)}).Value();
  EXPECT_EQ(hot, 2u * 2 * kPerThread);
  EXPECT_EQ(ExposedValues(r.Expose(), "postino_race_total", "campaign").size(), kMax);
}

// The exposition after retirements is still valid for Prometheus.
TEST(MetricsRecycleTest, ExpositionAfterRetirementPassesPromtool) {
  if (std::system("command -v promtool >/dev/null 2>&1") != 0) {
    GTEST_SKIP() << "promtool is not installed (Debian package prometheus)";
  }
  FakeClock clock;
  Registry r(clock);
  auto& c = r.Counter("postino_recipients_by_campaign_total", "Per campaign.",
                      {Recycled("campaign", 3, seconds(0)), {"outcome", 8}});
  for (int i = 0; i < 10; ++i) {
    clock.Advance(seconds(1));
    c.With({std::to_string(i), "delivered"}).Inc(static_cast<uint64_t>(i));
  }
  std::string path = ::testing::TempDir() + "metrics_recycle.prom";
  std::ofstream(path) << r.Expose();
  EXPECT_EQ(std::system(("promtool check metrics < " + path).c_str()), 0);
  std::remove(path.c_str());
}

}  // namespace
}  // namespace postino::metrics
