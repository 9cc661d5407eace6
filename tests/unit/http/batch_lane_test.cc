// batch_lane_test.cc: the HTTP side's group commit (http/batch_lane.h) with a
// run function that takes time, as a database statement does: concurrent
// keys share batches, each caller gets its own answer exactly once, a failed
// batch fails all of its callers, and stopping answers what is queued.
#include "http/batch_lane.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <future>
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

}  // namespace
}  // namespace postino::http
