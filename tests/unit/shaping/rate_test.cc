// rate_test.cc: parsing rates, durations and site patterns.
#include "common/rate.h"

#include <gtest/gtest.h>

#include "engine/shaping/site.h"

namespace postino::shaping {
namespace {

using std::chrono::hours;
using std::chrono::minutes;
using std::chrono::seconds;

TEST(RateTest, ParsesEveryUnitSpelling) {
  struct Case {
    const char* text;
    uint64_t count;
    Nanos period;
  } cases[] = {{"600/min", 600, minutes(1)},
               {"50000/hour", 50000, hours(1)},
               {"200000/day", 200000, hours(24)},
               {"10/s", 10, seconds(1)},
               {"10/sec", 10, seconds(1)},
               {"7/minute", 7, minutes(1)},
               {"3/h", 3, hours(1)},
               {"2/d", 2, hours(24)},
               {" 5 / MIN ", 5, minutes(1)},
               {"1/second", 1, seconds(1)}};
  for (const Case& c : cases) {
    Result<Rate> r = ParseRate(c.text);
    ASSERT_TRUE(r.ok()) << c.text << ": " << r.status().ToString();
    EXPECT_EQ(r->count, c.count) << c.text;
    EXPECT_EQ(r->period, c.period) << c.text;
  }
  EXPECT_EQ(ParseRate("600/min")->EmissionInterval(), std::chrono::milliseconds(100));
  EXPECT_DOUBLE_EQ(ParseRate("10/s")->PerSecond(), 10.0);
  EXPECT_EQ(ParseRate("600/minute")->ToString(), "600/min");
  EXPECT_EQ(ParseRate("3/h")->ToString(), "3/hour");
}

TEST(RateTest, ErrorsNameTheBadText) {
  for (const char* bad : {"600", "fast", "0/min", "-5/min", "5/fortnight", "5.5/s", "/min", "5/"}) {
    Result<Rate> r = ParseRate(bad);
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_NE(r.status().message().find(std::string("\"") + bad + "\""), std::string::npos)
        << r.status().message();
    EXPECT_NE(r.status().message().find("expected COUNT/UNIT"), std::string::npos);
  }
}

TEST(DurationTest, ParsesAndFormats) {
  EXPECT_EQ(*ParseDuration("30m"), minutes(30));
  EXPECT_EQ(*ParseDuration("1h30m"), minutes(90));
  EXPECT_EQ(*ParseDuration("3d"), hours(72));
  EXPECT_EQ(*ParseDuration("250ms"), std::chrono::milliseconds(250));
  EXPECT_EQ(*ParseDuration("1w"), hours(168));
  EXPECT_EQ(*ParseDuration("0s", true), Nanos(0));
  EXPECT_FALSE(ParseDuration("0s").ok());
  EXPECT_FALSE(ParseDuration("").ok());
  EXPECT_FALSE(ParseDuration("5").ok());
  EXPECT_FALSE(ParseDuration("m").ok());
  EXPECT_FALSE(ParseDuration("3 days").ok());
  EXPECT_FALSE(ParseDuration("99999999999999999999d").ok());
  EXPECT_EQ(FormatDuration(minutes(90)), "1h30m");
  EXPECT_EQ(FormatDuration(hours(72)), "3d");
  EXPECT_EQ(FormatDuration(Nanos(0)), "0s");
}

TEST(SiteTest, KeysAndPatterns) {
  EXPECT_EQ(MakeSiteKey({"B.example.", "a.example", "b.example"}), "a.example,b.example");
  EXPECT_TRUE(HostMatches("*.google.com", "gmail-smtp-in.l.google.com"));
  EXPECT_TRUE(HostMatches("*.google.com", "google.com"));
  EXPECT_FALSE(HostMatches("*.google.com", "notgoogle.com"));
  EXPECT_TRUE(HostMatches("gmail.com", "GMAIL.com."));
  EXPECT_FALSE(HostMatches("gmail.com", "x.gmail.com"));
  EXPECT_TRUE(HostMatches("*", "anything"));
  std::string site = MakeSiteKey({"alt1.gmail-smtp-in.l.google.com", "gmail-smtp-in.l.google.com"});
  EXPECT_TRUE(SiteMatches("*.google.com", site));
  EXPECT_TRUE(SiteMatches(site, site));
  EXPECT_FALSE(SiteMatches("*.yahoodns.net", site));
  EXPECT_GT(PatternSpecificity("gmail.com"), PatternSpecificity("*.l.google.com"));
  EXPECT_GT(PatternSpecificity("*.l.google.com"), PatternSpecificity("*.google.com"));
  EXPECT_GT(PatternSpecificity("*.google.com"), PatternSpecificity("*"));
}

// Issue 14: a static route's site is host and port; patterns naming the host
// still match it, and the IPv6 form keeps its brackets.
TEST(SiteTest, StaticRouteSitesIncludeThePort) {
  EXPECT_EQ(MakeStaticSiteKey("Relay.Example.com.", 2525), "relay.example.com:2525");
  EXPECT_EQ(MakeStaticSiteKey("::1", 25), "[::1]:25");
  EXPECT_NE(MakeStaticSiteKey("relay.example.com", 25), MakeStaticSiteKey("relay.example.com", 587));
  EXPECT_TRUE(SiteMatches("relay.example.com", "relay.example.com:2525"));
  EXPECT_TRUE(SiteMatches("*.example.com", "relay.example.com:2525"));
  EXPECT_TRUE(SiteMatches("relay.example.com:2525", "relay.example.com:2525"));
  EXPECT_FALSE(SiteMatches("relay.example.com:25", "relay.example.com:2525"));
  EXPECT_TRUE(SiteMatches("::1", "[::1]:25"));
  EXPECT_TRUE(SiteMatches("127.0.0.1", "127.0.0.1:2525"));
  EXPECT_FALSE(SiteMatches("127.0.0.2", "127.0.0.1:2525"));
}

}  // namespace
}  // namespace postino::shaping
