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
