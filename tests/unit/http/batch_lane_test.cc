// batch_lane_test.cc: the HTTP side's group commit (http/batch_lane.h) with a
// run function that takes time, as a database statement does: concurrent
// keys share batches, each caller gets its own answer exactly once, a failed
// batch fails all of its callers, and stopping answers what is queued.
#include "http/batch_lane.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <future>
#include <mutex>
#include <thread>
#include <vector>

namespace postino::http {
namespace {

using Lane = BatchLane<int, int>;

TEST(BatchLaneTest, ConcurrentKeysShareBatchesAndGetTheirOwnAnswers) {
  constexpr int kCallers = 200;
  std::atomic<int> statements{0};
  std::atomic<int> posted{0};
  std::atomic<size_t> largest{0};
  Lane lane(
      "squares",
      [&](const std::vector<int>& keys) -> Result<std::vector<int>> {
        ++statements;
        if (keys.size() > largest) largest = keys.size();
        // A statement still running while every other caller posts: they
        // all queue behind it (deterministic, however slow the machine).
        while (posted.load() < kCallers) std::this_thread::sleep_for(std::chrono::milliseconds(1));
        std::vector<int> out;
        for (int k : keys) out.push_back(k * k);
        return out;
      },
      64);
  std::vector<std::promise<int>> answers(kCallers);
  std::vector<std::thread> callers;
  for (int i = 0; i < kCallers; ++i) {
    callers.emplace_back([&, i] {
      lane.Post(i, [&, i](Result<int> r) { answers[i].set_value(r.ok() ? r.value() : -1); });
      ++posted;
    });
  }
  for (std::thread& t : callers) t.join();
  for (int i = 0; i < kCallers; ++i) {
    std::future<int> f = answers[i].get_future();
    ASSERT_EQ(f.wait_for(std::chrono::seconds(10)), std::future_status::ready) << i;
    EXPECT_EQ(f.get(), i * i);
  }
  auto [batches, keys] = lane.Counts();
  EXPECT_EQ(keys, static_cast<uint64_t>(kCallers));
  EXPECT_EQ(batches, static_cast<uint64_t>(statements.load()));
  // The first key alone (or a few), then the other keys queued behind it in
  // batches of at most 64: ceil(199 / 64) = 4 more.
  EXPECT_LE(statements.load(), 1 + 4 + 1) << "keys queued during a batch share the next one";
  EXPECT_EQ(largest.load(), 64u) << "a batch holds at most max_batch keys";
}

TEST(BatchLaneTest, AFailedBatchFailsEachOfItsCallers) {
  Lane lane(
      "broken", [](const std::vector<int>&) -> Result<std::vector<int>> {
        return Status::IoError("connection lost");
      },
      8);
  std::promise<Status> p;
  lane.Post(1, [&](Result<int> r) { p.set_value(r.status()); });
  Status st = p.get_future().get();
  EXPECT_EQ(st.code(), Status::Code::kIoError);
  EXPECT_EQ(st.message(), "connection lost");
}

TEST(BatchLaneTest, TheWrongNumberOfAnswersIsAnError) {
  Lane lane(
      "short", [](const std::vector<int>&) -> Result<std::vector<int>> {
        return std::vector<int>{};
      },
      8);
  std::promise<bool> p;
  lane.Post(1, [&](Result<int> r) { p.set_value(r.ok()); });
  EXPECT_FALSE(p.get_future().get());
}

TEST(BatchLaneTest, StopAnswersWhatIsQueuedAndLaterPosts) {
  std::promise<void> release;
  std::shared_future<void> go = release.get_future().share();
  std::atomic<bool> running{false};
  Lane lane(
      "slow",
      [&](const std::vector<int>& keys) -> Result<std::vector<int>> {
        running = true;
        go.wait();
        return std::vector<int>(keys.size(), 7);
      },
      1);
  std::promise<int> first, second, third;
  lane.Post(1, [&](Result<int> r) { first.set_value(r.ok() ? r.value() : -1); });
  while (!running) std::this_thread::yield();
  lane.Post(2, [&](Result<int> r) { second.set_value(r.ok() ? r.value() : -1); });
  std::thread stopper([&] { lane.Stop(); });
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  release.set_value();
  stopper.join();
  EXPECT_EQ(first.get_future().get(), 7) << "the batch in flight finishes";
  EXPECT_EQ(second.get_future().get(), -1) << "queued behind a stop: answered with an error";
  lane.Post(3, [&](Result<int> r) { third.set_value(r.ok() ? r.value() : -1); });
  EXPECT_EQ(third.get_future().get(), -1);
}

TEST(BatchLaneTest, AnIdleLaneLingersForCompanyUntilEnoughAreQueued) {
  using std::chrono::milliseconds;
  std::mutex mu;
  std::vector<size_t> sizes;
  auto record = [&](const std::vector<int>& keys) -> Result<std::vector<int>> {
    std::lock_guard lock(mu);
    sizes.push_back(keys.size());
    return keys;
  };
  {
    // A long linger (1 s): three keys posted 5 ms apart share one batch.
    Lane lane("linger", record, 64, std::chrono::microseconds(1'000'000), 64);
    std::vector<std::promise<int>> p(3);
    auto start = std::chrono::steady_clock::now();
    for (int i = 0; i < 3; ++i) {
      lane.Post(i, [&, i](Result<int> r) { p[i].set_value(r.ok() ? r.value() : -1); });
      std::this_thread::sleep_for(milliseconds(5));
    }
    for (int i = 0; i < 3; ++i) EXPECT_EQ(p[i].get_future().get(), i);
    EXPECT_GE(std::chrono::steady_clock::now() - start, milliseconds(900))
        << "the lane waited for company";
    std::lock_guard lock(mu);
    EXPECT_EQ(sizes, std::vector<size_t>({3}));
    sizes.clear();
  }
  {
    // `enough` keys end the linger at once.
    Lane lane("enough", record, 64, std::chrono::microseconds(10'000'000), 4);
    std::vector<std::promise<int>> p(4);
    auto start = std::chrono::steady_clock::now();
    for (int i = 0; i < 4; ++i) {
      lane.Post(i, [&, i](Result<int> r) { p[i].set_value(r.ok() ? r.value() : -1); });
    }
    for (int i = 0; i < 4; ++i) {
      std::future<int> f = p[i].get_future();
      ASSERT_EQ(f.wait_for(std::chrono::seconds(5)), std::future_status::ready)
          << "four keys are enough: no 10 s wait";
      EXPECT_EQ(f.get(), i);
    }
    EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(5));
  }
}

TEST(BatchLaneTest, KeysQueuedDuringABatchDoNotLinger) {
  // Two keys (enough) start a batch that takes a while; a key queued
  // meanwhile runs as soon as it ends, although it is alone and the linger
  // is 10 s: the lane was never idle.
  std::promise<void> release;
  std::shared_future<void> go = release.get_future().share();
  std::atomic<int> calls{0};
  Lane lane(
      "busy",
      [&](const std::vector<int>& keys) -> Result<std::vector<int>> {
        if (calls++ == 0) go.wait();
        return keys;
      },
      64, std::chrono::microseconds(10'000'000), 2);
  std::promise<int> a, b, c;
  lane.Post(1, [&](Result<int> r) { a.set_value(r.ok() ? r.value() : -1); });
  lane.Post(2, [&](Result<int> r) { b.set_value(r.ok() ? r.value() : -1); });
  while (calls.load() == 0) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  lane.Post(3, [&](Result<int> r) { c.set_value(r.ok() ? r.value() : -1); });
  release.set_value();
  std::future<int> f = c.get_future();
  ASSERT_EQ(f.wait_for(std::chrono::seconds(5)), std::future_status::ready);
  EXPECT_EQ(f.get(), 3);
  EXPECT_EQ(a.get_future().get(), 1);
  EXPECT_EQ(b.get_future().get(), 2);
}

// A callback that Posts on the lane thread (a lookup asking for its write)
// gets the very next batch, alone, before keys queued from outside.
TEST(BatchLaneTest, FollowUpsPostedByCallbacksRunNextAndAlone) {
  std::mutex mu;
  std::vector<std::vector<int>> batches;  // keys of each batch, in order
  std::atomic<bool> outsider_posted{false};
  Lane lane(
      "follow",
      [&](const std::vector<int>& keys) -> Result<std::vector<int>> {
        {
          std::lock_guard lock(mu);
          batches.push_back(keys);
        }
        // The first batch waits until an outside key is queued behind it.
        if (keys == std::vector<int>{1}) {
          while (!outsider_posted.load()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
        }
        return keys;
      },
      64);
  std::promise<int> follow_up, outsider;
  lane.Post(1, [&](Result<int> r) {
    ASSERT_TRUE(r.ok());
    lane.Post(100, [&](Result<int> f) { follow_up.set_value(f.ok() ? f.value() : -1); });
  });
  // Posted from this thread while key 1's batch runs.
  while (true) {
    {
      std::lock_guard lock(mu);
      if (!batches.empty()) break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  lane.Post(2, [&](Result<int> r) { outsider.set_value(r.ok() ? r.value() : -1); });
  outsider_posted = true;
  std::future<int> f1 = follow_up.get_future(), f2 = outsider.get_future();
  ASSERT_EQ(f1.wait_for(std::chrono::seconds(10)), std::future_status::ready);
  ASSERT_EQ(f2.wait_for(std::chrono::seconds(10)), std::future_status::ready);
  EXPECT_EQ(f1.get(), 100);
  EXPECT_EQ(f2.get(), 2);
  std::lock_guard lock(mu);
  ASSERT_EQ(batches.size(), 3u);
  EXPECT_EQ(batches[0], std::vector<int>{1});
  EXPECT_EQ(batches[1], std::vector<int>{100}) << "the follow-up goes before the outside key";
  EXPECT_EQ(batches[2], std::vector<int>{2});
}

// Stopping answers a follow-up that is still waiting, once.
TEST(BatchLaneTest, StopAnswersFollowUps) {
  std::promise<bool> follow_up;
  std::atomic<int> answered{0};
  {
    Lane lane(
        "follow-stop", [&](const std::vector<int>& keys) -> Result<std::vector<int>> { return keys; },
        8);
    std::promise<void> first;
    lane.Post(1, [&](Result<int>) {
      lane.Post(2, [&](Result<int> r) {
        ++answered;
        follow_up.set_value(r.ok());
      });
      first.set_value();
    });
    first.get_future().wait();
    lane.Stop();
  }
  std::future<bool> f = follow_up.get_future();
  ASSERT_EQ(f.wait_for(std::chrono::seconds(10)), std::future_status::ready);
  f.get();  // ran (ok) or was refused at the stop: either way exactly once
  EXPECT_EQ(answered.load(), 1);
}

}  // namespace
}  // namespace postino::http
