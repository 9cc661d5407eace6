// shaping_bench.cc: decisions per second of the shaping hot path — GCRA
// throttle decisions, smooth weighted source choice (plain, and skipping
// sources whose egress path is throttled or suspended), and the reply
// policy's classification of a failure reply. Results: bench/shaping/RESULTS-shaping.md.
#include <benchmark/benchmark.h>

#include <string>
#include <vector>

#include "engine/policy/policy.h"
#include "engine/shaping/egress_path.h"
#include "engine/shaping/source_pool.h"
#include "engine/shaping/throttle.h"

namespace postino::shaping {
namespace {

// Throttle decisions at a time that moves 10 µs per call, so about half are
// allowed at 50000/s.
void BM_ThrottleTryAcquire(benchmark::State& state) {
  Throttle t(*ParseRate("50000/s"), 10);
  MonoTime now{};
  int64_t allowed = 0;
  for (auto _ : state) {
    now += std::chrono::microseconds(10);
    ThrottleDecision d = t.TryAcquire(now);
    allowed += d.allowed;
    benchmark::DoNotOptimize(d);
  }
  state.counters["allowed"] = static_cast<double>(allowed);
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_ThrottleTryAcquire);

SourcePool MakePool(int n) {
  std::vector<PoolEntry> entries;
  for (int i = 0; i < n; ++i) entries.push_back({"ip" + std::to_string(i), uint32_t(1 + i % 5)});
  return std::move(SourcePool::Create("bench", std::move(entries))).value();
}

void BM_SourcePoolChoose(benchmark::State& state) {
  SourcePool pool = MakePool(static_cast<int>(state.range(0)));
  for (auto _ : state) benchmark::DoNotOptimize(pool.Choose());
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_SourcePoolChoose)->Arg(4)->Arg(16)->Arg(64);

// The realistic decision: choose a source whose path towards the site is
// neither suspended nor throttled (EgressPath::Check per candidate), then
// take the throttle slot. One path in four is suspended.
void BM_ChooseSourceWithPathChecks(benchmark::State& state) {
  int n = static_cast<int>(state.range(0));
  SourcePool pool = MakePool(n);
  std::vector<EgressPath> paths;
  for (int i = 0; i < n; ++i) paths.emplace_back(*ParseRate("100000/s"), 100);
  MonoTime now{};
  for (int i = 0; i < n; i += 4) paths[i].Suspend(now + std::chrono::hours(1));
  int64_t chosen = 0;
  for (auto _ : state) {
    now += std::chrono::microseconds(1);
    auto k = pool.Choose([&](size_t i) { return paths[i].Check(now).allowed; });
    if (k) {
      chosen += paths[*k].TryAcquire(now).allowed;
    }
    benchmark::DoNotOptimize(k);
  }
  state.counters["chosen"] = static_cast<double>(chosen);
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_ChooseSourceWithPathChecks)->Arg(4)->Arg(16);

// The policy runs on every non-2xx reply; this classifies one that no
// provider rule matches (every rule tried, then the principled steps).
void BM_PolicyClassifyNoRuleHit(benchmark::State& state) {
  const policy::Policy& p = policy::DefaultPolicy();
  smtp::Reply reply;
  reply.code = 550;
  reply.enhanced = "5.1.1";
  reply.lines = {"5.1.1 <someone@example.com>: Recipient address rejected: User unknown"};
  for (auto _ : state) {
    benchmark::DoNotOptimize(p.Classify(smtp::Phase::kRcpt, reply, "mx.example.com"));
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_PolicyClassifyNoRuleHit);

}  // namespace
}  // namespace postino::shaping
