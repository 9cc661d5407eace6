// source_pool_test.cc: smooth weighted round-robin — exact proportions,
// interleaving, skipping unusable sources, validation.
#include "engine/shaping/source_pool.h"

#include <gtest/gtest.h>

#include <map>

namespace postino::shaping {
namespace {

SourcePool Pool(std::vector<PoolEntry> e) { return std::move(SourcePool::Create("p", e)).value(); }

TEST(SourcePoolTest, ExactProportionsOverEachWindow) {
  SourcePool pool = Pool({{"a", 5}, {"b", 3}, {"c", 2}});
  for (int window = 0; window < 10; ++window) {
    std::map<std::string, int> n;
    for (int i = 0; i < 10; ++i) n[pool.entry(*pool.Choose()).source]++;
    EXPECT_EQ(n["a"], 5);
    EXPECT_EQ(n["b"], 3);
    EXPECT_EQ(n["c"], 2);
  }
}

TEST(SourcePoolTest, InterleavesLikeNginx) {
  SourcePool pool = Pool({{"a", 5}, {"b", 1}, {"c", 1}});
  std::string seq;
  for (int i = 0; i < 7; ++i) seq += pool.entry(*pool.Choose()).source;
  EXPECT_EQ(seq, "aabacaa");
}

TEST(SourcePoolTest, SkipsUnusableAndKeepsRatioAmongOthers) {
  SourcePool pool = Pool({{"a", 3}, {"b", 1}, {"c", 1}});
  std::map<size_t, int> n;
  for (int i = 0; i < 400; ++i) {
    std::optional<size_t> k = pool.Choose([](size_t i) { return i != 0; });  // "a" throttled
    ASSERT_TRUE(k.has_value());
    n[*k]++;
  }
  EXPECT_EQ(n[0], 0);
  EXPECT_EQ(n[1], 200);
  EXPECT_EQ(n[2], 200);
  EXPECT_FALSE(pool.Choose([](size_t) { return false; }).has_value());
}

TEST(SourcePoolTest, ZeroWeightNeverChosen) {
  SourcePool pool = Pool({{"a", 0}, {"b", 1}});
  for (int i = 0; i < 10; ++i) EXPECT_EQ(*pool.Choose(), 1u);
}

TEST(SourcePoolTest, Validation) {
  EXPECT_FALSE(SourcePool::Create("empty", {}).ok());
  Result<SourcePool> r = SourcePool::Create("zero", {{"a", 0}, {"b", 0}});
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("every weight is zero"), std::string::npos);
}

}  // namespace
}  // namespace postino::shaping
