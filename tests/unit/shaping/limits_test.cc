// limits_test.cc: connection counters per path and per site.
#include <gtest/gtest.h>

#include "engine/shaping/connection_limits.h"

namespace postino::shaping {
namespace {

TEST(ConnectionLimitsTest, PerPathAndPerSite) {
  ConnectionLimits l;
  PathKey a{"ip1", "mx.example"}, b{"ip2", "mx.example"}, c{"ip1", "other"};
  EXPECT_TRUE(l.TryAcquire(a, 2, 3));
  EXPECT_TRUE(l.TryAcquire(a, 2, 3));
  EXPECT_FALSE(l.TryAcquire(a, 2, 3));  // path full
  EXPECT_TRUE(l.TryAcquire(b, 2, 3));
  EXPECT_FALSE(l.TryAcquire(b, 2, 3));  // site full (3 over all sources)
  EXPECT_TRUE(l.TryAcquire(c, 2, 3));   // another site
  EXPECT_EQ(l.PathConnections(a), 2);
  EXPECT_EQ(l.SiteConnections("mx.example"), 3);
  l.Release(a);
  EXPECT_TRUE(l.TryAcquire(b, 2, 3));
  EXPECT_EQ(l.PathConnections(b), 2);
}

TEST(ConnectionLimitsTest, ExtraReleaseIgnoredAndZeroIsUnlimited) {
  ConnectionLimits l;
  PathKey a{"ip1", "s"};
  l.Release(a);
  EXPECT_EQ(l.PathConnections(a), 0);
  for (int i = 0; i < 1000; ++i) EXPECT_TRUE(l.TryAcquire(a, 0, 0));
  EXPECT_EQ(l.SiteConnections("s"), 1000);
}

}  // namespace
}  // namespace postino::shaping
