// stats_test.cc: pipeline counters: depths, waits, SQL batches, summary line.
#include "scheduler/stats.h"

#include <gtest/gtest.h>

namespace postino::scheduler {
namespace {

using std::chrono::milliseconds;

TEST(StatsTest, DepthWaitAndMaxPerStage) {
  FakeClock clock;
  PipelineStats s;
  PipelineSnapshot start = s.Snapshot(clock);
  s.Enter(Stage::kEngine, 10);
  s.Leave(Stage::kEngine, milliseconds(30), 4);
  s.Leave(Stage::kEngine, milliseconds(90), 1);
  s.RecordClaim(500, milliseconds(8), true);
  s.RecordWrite(40, milliseconds(3), true);
  s.RecordWrite(40, milliseconds(1), false);
  PipelineSnapshot now = s.Snapshot(clock, true);
  const StageSnapshot& e = now.stage(Stage::kEngine);
  EXPECT_EQ(e.depth(), 5);
  EXPECT_EQ(e.wait_ns, static_cast<uint64_t>(milliseconds(210).count() * 1'000'000));
  EXPECT_EQ(e.max_wait_ns, static_cast<uint64_t>(90'000'000));
  EXPECT_EQ(now.claim.rows, 500u);
  EXPECT_EQ(now.record.batches, 2u);
  EXPECT_EQ(now.record.rows, 40u);
  EXPECT_EQ(now.record.failures, 1u);
  // The maxima start again after a resetting snapshot.
  EXPECT_EQ(s.Snapshot(clock).stage(Stage::kEngine).max_wait_ns, 0u);

  std::string line = FormatStats(now, start);
  EXPECT_NE(line.find("engine 5 (+5, 42.0ms/90.0ms)"), std::string::npos) << line;
  EXPECT_NE(line.find("claim 1x500 rows"), std::string::npos) << line;
  EXPECT_NE(line.find("write 2x20 rows"), std::string::npos) << line;
  EXPECT_NE(line.find("(1 failed)"), std::string::npos) << line;
}

TEST(StatsTest, OutagesAreCountedOnce) {
  FakeClock clock;
  PipelineStats s;
  s.SetDbDown(true);
  s.SetDbDown(true);
  EXPECT_TRUE(s.Snapshot(clock).db_down);
  s.SetDbDown(false);
  s.SetDbDown(true);
  PipelineSnapshot n = s.Snapshot(clock);
  EXPECT_EQ(n.db_outages, 2u);
  EXPECT_NE(FormatStats(n, PipelineSnapshot()).find("database DOWN"), std::string::npos);
}

}  // namespace
}  // namespace postino::scheduler
