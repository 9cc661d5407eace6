// db_loop_test.cc: the scheduler's DB loop on an in-memory WorkStore and a
// FakeClock: the claim window, blocking paused campaigns, postponing on an
// --until-idle stall, the node identity and its leases, and what happens to
// results while the database is unreachable (kept, retried with backoff,
// journaled at give-up, replayed at the next start).
#include "scheduler/db_loop.h"

#include <gtest/gtest.h>

#include "scheduler/journal.h"
#include "tests/support/process.h"
#include "tests/unit/scheduler/fake_work_store.h"

namespace postino::scheduler {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;
using testing::FakeWorkStore;

class DbLoopTest : public ::testing::Test {
 protected:
  void SetUp() override {
    Result<config::Config> c = config::ParseConfig(
        "[database]\nurl = \"x\"\n[[sources]]\nname = \"a\"\naddress = \"127.0.0.1\"\n", "t.toml");
    ASSERT_TRUE(c.ok()) << c.status().ToString();
    config_ = *c;
    Result<std::unique_ptr<MessageRenderer>> r = MessageRenderer::Create(config_);
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    renderer_ = std::move(r).value();
    journal_ = JournalPath(::postino::testing::MakeTempDir("dbloop"), "n1");
  }

  std::unique_ptr<DbLoop> Make(FakeWorkStore& store, DbLoopOptions o = {}) {
    if (o.node.empty()) o.node = "n1";
    if (o.journal_path.empty()) o.journal_path = journal_;
    dispatchers_.push_back(std::make_unique<Dispatcher>(*renderer_));
    DbLoop::Hooks h;
    h.request_stop = [this](int code, const std::string& why) { stops_.emplace_back(code, why); };
    h.set_blocked = [this](const std::set<int64_t>& b) { blocked_ = b; };
    h.dispatch = [this](std::vector<Job> jobs) {
      for (auto& j : jobs) jobs_.push_back(std::move(j));
    };
    h.take_unrendered = [] { return std::vector<int64_t>{}; };
    h.db_state = [this](bool up) { db_states_.push_back(up); };
    return std::make_unique<DbLoop>(store, clock_, std::move(o), outbox_, stats_,
                                    *dispatchers_.back(), std::move(h));
  }

  // Results for every claimed job so far, as the loop thread would queue them.
  std::vector<db::AttemptResult> Results(const std::string& status = "delivered") {
    std::vector<db::AttemptResult> out;
    for (const Job& j : jobs_) {
      for (const auto& d : j.deliveries) {
        db::AttemptResult a;
        a.delivery_id = d.id;
        a.campaign_id = d.campaign_id;
        a.status = status;
        a.at = clock_.WallNow();
        out.push_back(a);
      }
    }
    jobs_.clear();
    return out;
  }

  // The database comes back; the next step writes what waited, and each of
  // deliveries 1..n ends delivered with exactly one result recorded.
  void ReconnectAndExpectEachRecordedOnce(FakeWorkStore& store, DbLoop& loop, int64_t n) {
    store.SetDown(false);
    clock_.Advance(seconds(1));
    loop.Step();
    EXPECT_FALSE(loop.db_down());
    for (int64_t id = 1; id <= n; ++id) {
      EXPECT_EQ(store.rows().at(id).status, "delivered") << id;
      EXPECT_EQ(store.rows().at(id).results, 1) << id;
    }
  }

  size_t Claimed() const {
    size_t n = 0;
    for (const Job& j : jobs_) n += j.deliveries.size();
    return n;
  }

  config::Config config_;
  std::unique_ptr<MessageRenderer> renderer_;
  FakeClock clock_;
  PipelineStats stats_;
  Outbox outbox_{clock_, stats_};
  std::vector<std::unique_ptr<Dispatcher>> dispatchers_;
  std::string journal_;
  std::vector<Job> jobs_;
  std::vector<std::pair<int, std::string>> stops_;
  std::set<int64_t> blocked_;
  std::vector<bool> db_states_;
};

TEST_F(DbLoopTest, ClaimsUpToTheWindowAndMoreAsResultsAreWritten) {
  FakeWorkStore store(clock_);
  int64_t c = store.AddCampaign("c");
  store.AddDeliveries(c, 30);
  DbLoopOptions o;
  o.batch_size = 4;
  o.window = 10;
  auto loop = Make(store, o);
  ASSERT_TRUE(loop->Start().ok());
  loop->Step();
  EXPECT_EQ(Claimed(), 4u);
  loop->Step();
  loop->Step();
  EXPECT_EQ(Claimed(), 10u);  // 4 + 4 + 2: the window is full
  loop->Step();
  EXPECT_EQ(Claimed(), 10u);
  EXPECT_EQ(loop->outstanding(), 10);
  std::vector<db::AttemptResult> r = Results();
  r.resize(3);
  outbox_.PushResults(r);
  loop->Step();  // writes 3, claims 3
  EXPECT_EQ(loop->outstanding(), 10);
  EXPECT_EQ(Claimed(), 3u);
  EXPECT_EQ(store.rows().at(1).status, "delivered");
  EXPECT_EQ(stats_.Snapshot(clock_).stage(Stage::kResultsQueue).depth(), 0);
}

TEST_F(DbLoopTest, APausedCampaignIsBlockedAndItsReleasedRowsFreed) {
  FakeWorkStore store(clock_);
  int64_t c = store.AddCampaign("c");
  store.AddDeliveries(c, 5);
  auto loop = Make(store);
  ASSERT_TRUE(loop->Start().ok());
  loop->Step();
  ASSERT_EQ(Claimed(), 5u);
  EXPECT_TRUE(blocked_.empty());
  store.SetCampaignStatus(c, "paused");
  clock_.Advance(seconds(1));
  loop->Step();
  EXPECT_EQ(blocked_, std::set<int64_t>{c});
  // The loop thread gives the messages it still holds back.
  outbox_.Release({1, 2, 3, 4, 5});
  loop->Step();
  EXPECT_EQ(store.released.size(), 5u);
  EXPECT_EQ(loop->outstanding(), 0);
  EXPECT_TRUE(store.rows().at(1).lease_owner.empty());
  // Nothing of a paused campaign is claimed again.
  jobs_.clear();
  clock_.Advance(seconds(1));
  loop->Step();
  EXPECT_EQ(Claimed(), 0u);
}

TEST_F(DbLoopTest, UntilIdleStallPostponesThenStops) {
  FakeWorkStore store(clock_);
  int64_t c = store.AddCampaign("c");
  store.AddDeliveries(c, 3);
  DbLoopOptions o;
  o.until_idle = true;
  auto loop = Make(store, o);
  ASSERT_TRUE(loop->Start().ok());
  loop->Step();
  ASSERT_EQ(Claimed(), 3u);
  WallTime until = clock_.WallNow() + std::chrono::minutes(15);
  outbox_.Postpone({1, 2, 3}, until);
  loop->SetHeldBack();
  loop->Step();
  ASSERT_EQ(store.postponed.size(), 3u);
  EXPECT_EQ(store.rows().at(2).next_attempt_at, until);
  EXPECT_TRUE(store.rows().at(2).lease_owner.empty());
  ASSERT_EQ(stops_.size(), 1u);
  EXPECT_EQ(stops_[0].first, kExitOk);
  EXPECT_EQ(store.rows().at(2).results, 0);  // no attempt counted
}

TEST_F(DbLoopTest, UntilIdleStopsWhenNothingIsDue) {
  FakeWorkStore store(clock_);
  store.AddCampaign("c");
  DbLoopOptions o;
  o.until_idle = true;
  auto loop = Make(store, o);
  ASSERT_TRUE(loop->Start().ok());
  loop->Step();
  ASSERT_EQ(stops_.size(), 1u);
  EXPECT_EQ(stops_[0].second, "nothing left to send now");
}

TEST_F(DbLoopTest, ResultsAreKeptWhileTheDatabaseIsDownAndNothingIsClaimed) {
  FakeWorkStore store(clock_);
  int64_t c = store.AddCampaign("c");
  store.AddDeliveries(c, 20);
  DbLoopOptions o;
  o.batch_size = 5;
  o.window = 5;
  auto loop = Make(store, o);
  ASSERT_TRUE(loop->Start().ok());
  loop->Step();
  ASSERT_EQ(Claimed(), 5u);
  int claims = store.claims();
  store.SetDown(true);
  outbox_.PushResults(Results());
  loop->Step();
  EXPECT_TRUE(loop->db_down());
  EXPECT_EQ(db_states_, std::vector<bool>{false});
  EXPECT_FALSE(outbox_.Empty());
  // Reconnection backs off: 0.5 s, then 1, 2, 4, ... up to 30 s.
  std::vector<int> tries_at;
  for (int ms = 0; ms <= 64000; ms += 100) {
    int before = store.reconnects();
    loop->Step();
    if (store.reconnects() != before) tries_at.push_back(ms);
    clock_.Advance(milliseconds(100));
  }
  std::vector<int> want = {500, 1500, 3500, 7500, 15500, 31500, 61500};
  EXPECT_EQ(tries_at, want);
  EXPECT_EQ(store.claims(), claims);  // nothing claimed while down
  EXPECT_EQ(store.rows().at(1).status, "pending");
  EXPECT_TRUE(stops_.empty());  // give-up is 300 s by default
  store.SetDown(false);
  clock_.Advance(seconds(30));
  loop->Step();
  EXPECT_FALSE(loop->db_down());
  EXPECT_EQ(db_states_, (std::vector<bool>{false, true}));
  for (int64_t id = 1; id <= 5; ++id) EXPECT_EQ(store.rows().at(id).status, "delivered") << id;
  EXPECT_EQ(store.claims(), claims + 1);  // claims again
  EXPECT_EQ(stats_.Snapshot(clock_).db_outages, 1u);
}

TEST_F(DbLoopTest, GivingUpStopsTheRunJournalsResultsAndTheNextStartReplaysThem) {
  FakeWorkStore store(clock_);
  int64_t c = store.AddCampaign("c");
  store.AddDeliveries(c, 4);
  DbLoopOptions o;
  o.give_up = seconds(5);
  {
    auto loop = Make(store, o);
    ASSERT_TRUE(loop->Start().ok());
    loop->Step();
    ASSERT_EQ(Claimed(), 4u);
    store.SetDown(true);
    outbox_.PushResults(Results());
    for (int i = 0; i < 100 && stops_.empty(); ++i) {
      loop->Step();
      clock_.Advance(milliseconds(100));
    }
    ASSERT_EQ(stops_.size(), 1u);
    EXPECT_EQ(stops_[0].first, kExitDatabase);
    loop->SetLoopDone();
    EXPECT_EQ(loop->Finish(), kExitDatabase);
  }
  Result<std::vector<db::AttemptResult>> j = ReadJournal(journal_);
  ASSERT_TRUE(j.ok());
  EXPECT_EQ(j->size(), 4u);
  EXPECT_EQ(store.rows().at(1).status, "pending");

  // The next start: nothing claimed before the journal is written.
  store.locked.clear();  // the old process is gone
  store.SetDown(false);
  auto next = Make(store, o);
  ASSERT_TRUE(next->Start().ok());
  for (int64_t id = 1; id <= 4; ++id) {
    EXPECT_EQ(store.rows().at(id).status, "delivered");
    EXPECT_EQ(store.rows().at(id).results, 1);
  }
  EXPECT_TRUE(ReadJournal(journal_)->empty());
}

TEST_F(DbLoopTest, AStartWithAnUnreachableDatabaseKeepsTheJournal) {
  ASSERT_TRUE(AppendJournal(journal_, {db::AttemptResult{}}).ok());
  FakeWorkStore store(clock_);
  auto loop = Make(store);
  store.SetDown(true);
  EXPECT_FALSE(loop->Start().ok());
  EXPECT_EQ(ReadJournal(journal_)->size(), 1u);
}

TEST_F(DbLoopTest, ANodeTakesBackItsOwnLeasesAndItsIdentityIsExclusive) {
  FakeWorkStore store(clock_);
  int64_t c = store.AddCampaign("c");
  store.AddDeliveries(c, 6);
  // A dead process of node n1 left 6 rows leased for 5 minutes.
  ASSERT_TRUE(store.Claim("n1", 6, seconds(300)).ok());
  std::set<std::string> locks;
  store.shared_locks = &locks;
  auto loop = Make(store);
  ASSERT_TRUE(loop->Start().ok());
  loop->Step();
  EXPECT_EQ(Claimed(), 6u);  // at once, no lease wait

  auto second = Make(store);
  Status st = second->Start();
  EXPECT_EQ(st.code(), Status::Code::kFailedPrecondition) << st.ToString();
}

TEST_F(DbLoopTest, ASqlErrorFallsBackToOneByOne) {
  FakeWorkStore store(clock_);
  int64_t c = store.AddCampaign("c");
  store.AddDeliveries(c, 3);
  auto loop = Make(store);
  ASSERT_TRUE(loop->Start().ok());
  loop->Step();
  store.FailNextRecordWithSqlError();
  outbox_.PushResults(Results());
  loop->Step();
  EXPECT_FALSE(loop->db_down());
  for (int64_t id = 1; id <= 3; ++id) EXPECT_EQ(store.rows().at(id).status, "delivered");
}

// A server shutting down ends the batch's session with an SQL error; the
// one-by-one writes then find no database. The results are kept (for the
// reconnection or the journal), not dropped as bad rows: dropped, their
// recipients would be sent again when their leases expire.
TEST_F(DbLoopTest, AConnectionLostDuringOneByOneKeepsTheResults) {
  FakeWorkStore store(clock_);
  int64_t c = store.AddCampaign("c");
  store.AddDeliveries(c, 3);
  auto loop = Make(store);
  ASSERT_TRUE(loop->Start().ok());
  loop->Step();
  store.FailNextRecordWithSqlErrorThenGoDown();
  outbox_.PushResults(Results());
  loop->Step();
  EXPECT_TRUE(loop->db_down());
  EXPECT_FALSE(outbox_.Empty()) << "the results wait for the database";
  for (int64_t id = 1; id <= 3; ++id) EXPECT_EQ(store.rows().at(id).status, "pending");
  ReconnectAndExpectEachRecordedOnce(store, *loop, 3);
}

}  // namespace
}  // namespace postino::scheduler

namespace postino::scheduler {
namespace {

TEST_F(DbLoopTest, UntilIdleSaysWhatOtherNodesStillHold) {
  FakeWorkStore store(clock_);
  int64_t c = store.AddCampaign("c");
  store.AddDeliveries(c, 3);
  ASSERT_TRUE(store.Claim("other", 3, seconds(300)).ok());  // a live node holds them
  DbLoopOptions o;
  o.until_idle = true;
  auto loop = Make(store, o);
  ASSERT_TRUE(loop->Start().ok());
  loop->Step();
  ASSERT_EQ(stops_.size(), 1u);  // nothing due for this node
  loop->SetLoopDone();
  ::testing::internal::CaptureStderr();
  EXPECT_EQ(loop->Finish(), kExitOk);
  std::string err = ::testing::internal::GetCapturedStderr();
  EXPECT_NE(err.find("3 recipients are leased by other nodes; those leases expire by"),
            std::string::npos)
      << err;
}

}  // namespace
}  // namespace postino::scheduler

namespace postino::scheduler {
namespace {

// A commit in doubt: the server committed the batch but the connection broke
// before its answer. The results are written again once the database is
// back, and must not count a second attempt of the same delivery.
TEST_F(DbLoopTest, ACommitInDoubtIsWrittenAgainWithoutCountingTwice) {
  FakeWorkStore store(clock_);
  int64_t c = store.AddCampaign("c");
  store.AddDeliveries(c, 3);
  auto loop = Make(store);
  ASSERT_TRUE(loop->Start().ok());
  loop->Step();
  store.CommitNextRecordThenGoDown();
  outbox_.PushResults(Results());
  loop->Step();
  EXPECT_TRUE(loop->db_down());
  EXPECT_FALSE(outbox_.Empty()) << "the results wait for the database";
  ReconnectAndExpectEachRecordedOnce(store, *loop, 3);
  EXPECT_TRUE(outbox_.Empty());
  for (int64_t id = 1; id <= 3; ++id) EXPECT_EQ(store.rows().at(id).d.attempts, 1) << id;
}

// The same, when the run gives up and keeps the results in its journal: the
// next start writes them and skips what the in-doubt commit did record.
TEST_F(DbLoopTest, AJournalAfterACommitInDoubtDoesNotCountTwice) {
  FakeWorkStore store(clock_);
  int64_t c = store.AddCampaign("c");
  store.AddDeliveries(c, 4);
  DbLoopOptions o;
  o.give_up = seconds(5);
  {
    auto loop = Make(store, o);
    ASSERT_TRUE(loop->Start().ok());
    loop->Step();
    ASSERT_EQ(Claimed(), 4u);
    std::vector<db::AttemptResult> results = Results();
    // Two results go in the batch that commits in doubt, two after it.
    outbox_.PushResults({results[0], results[1]});
    store.CommitNextRecordThenGoDown();
    loop->Step();
    ASSERT_TRUE(loop->db_down());
    outbox_.PushResults({results[2], results[3]});
    for (int i = 0; i < 100 && stops_.empty(); ++i) {
      loop->Step();
      clock_.Advance(milliseconds(100));
    }
    ASSERT_EQ(stops_.size(), 1u);
    loop->SetLoopDone();
    EXPECT_EQ(loop->Finish(), kExitDatabase);
  }
  ASSERT_EQ(ReadJournal(journal_)->size(), 4u);
  store.locked.clear();
  store.SetDown(false);
  auto next = Make(store, o);
  ASSERT_TRUE(next->Start().ok());
  for (int64_t id = 1; id <= 4; ++id) {
    EXPECT_EQ(store.rows().at(id).status, "delivered") << id;
    EXPECT_EQ(store.rows().at(id).results, 1) << id;
  }
  EXPECT_TRUE(ReadJournal(journal_)->empty());
}

}  // namespace
}  // namespace postino::scheduler
