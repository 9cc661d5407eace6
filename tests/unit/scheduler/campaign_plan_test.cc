// campaign_plan_test.cc: the run estimate of `campaign plan`: rates from
// connections or max_message_rate, the site connection limit, warm-up caps
// spilling into the next UTC days (shared by a source's sites), today's
// counts, suspensions and slow-downs, and a pool without sources.
#include "scheduler/campaign_plan.h"

#include <gtest/gtest.h>

namespace postino::scheduler {
namespace {

using namespace std::chrono;

// 2027-01-05 10:00:00 UTC
const PlanTime kNow = sys_days(year(2027) / 1 / 5) + hours(10);

double SecondsAfter(const std::optional<PlanTime>& t, PlanTime from) {
  return t ? duration<double>(*t - from).count() : -1;
}

PlanInput OneSite(int64_t recipients, int connections) {
  PlanInput in;
  in.now = in.start = kNow;
  in.per_connection_rate = 5;
  PlanSite s;
  s.key = "mx.example.com";
  s.domains = {"example.com"};
  s.recipients = recipients;
  s.limits.max_connections = connections;
  in.sites.push_back(s);
  in.sources.push_back({"ip1", "127.0.0.1", "a", 1, ""});
  return in;
}

TEST(CampaignPlan, ConnectionsTimesTheAssumedRate) {
  PlanInput in = OneSite(1000, 2);  // 2 connections x 5/s = 10/s
  PlanResult r = EstimatePlan(in);
  ASSERT_EQ(r.sites.size(), 1u);
  EXPECT_NEAR(r.sites[0].rate, 10, 1e-9);
  EXPECT_NEAR(SecondsAfter(r.finish, kNow), 100, 0.5);
  EXPECT_NE(r.sites[0].bound.find("connections"), std::string::npos) << r.sites[0].bound;
  in.sources.push_back({"ip2", "127.0.0.2", "b", 1, ""});  // two sources: twice the rate
  EXPECT_NEAR(SecondsAfter(EstimatePlan(in).finish, kNow), 50, 0.5);
  in.sites[0].limits.max_site_connections = 2;  // ...unless the site allows 2 connections in all
  EXPECT_NEAR(SecondsAfter(EstimatePlan(in).finish, kNow), 100, 0.5);
}

TEST(CampaignPlan, MessageRateAndScheduledStart) {
  PlanInput in = OneSite(600, 20);
  in.sites[0].limits.max_message_rate = Rate{60, minutes(1)};
  in.start = kNow + hours(1);
  PlanResult r = EstimatePlan(in);
  EXPECT_NEAR(SecondsAfter(r.finish, kNow), 3600 + 600, 0.5);
  EXPECT_NE(r.sites[0].bound.find("max_message_rate"), std::string::npos) << r.sites[0].bound;
}

TEST(CampaignPlan, WarmupCapsSpillIntoNextDaysAndCountToday) {
  PlanInput in = OneSite(250, 10);
  shaping::WarmupPlan w;
  w.source = "ip1";
  w.start = floor<days>(kNow);  // today is day 0
  w.caps = {100, 100, 100};
  in.warmup.push_back(w);
  in.sent_today.push_back({"ip1", "mx.example.com", 40});  // 60 left today
  PlanResult r = EstimatePlan(in);
  ASSERT_TRUE(r.sites[0].cap_today.has_value());
  EXPECT_EQ(*r.sites[0].cap_today, 60u);
  EXPECT_EQ(*r.sites[0].cap_tomorrow, 100u);
  // 60 today, 100 tomorrow, 90 the day after: done on day 3, at 00:00 + 90/50 s.
  EXPECT_EQ(r.sites[0].days, 3);
  PlanTime day3 = floor<days>(kNow) + days(2);
  EXPECT_NEAR(SecondsAfter(r.finish, day3), 1.8, 0.1);
  EXPECT_EQ(r.sites[0].bound, "warm-up cap");
}

TEST(CampaignPlan, SharedSourceCapGoesToTheLargestSiteFirst) {
  PlanInput in = OneSite(80, 10);
  PlanSite small = in.sites[0];
  small.key = "mx.small.example";
  small.recipients = 30;
  in.sites.push_back(small);
  shaping::WarmupPlan w;
  w.source = "ip1";
  w.start = floor<days>(kNow);
  w.caps = {100};  // then unlimited
  in.warmup.push_back(w);
  PlanResult r = EstimatePlan(in);
  EXPECT_EQ(r.sites[0].days, 1);
  EXPECT_EQ(r.sites[1].days, 2);  // 20 of 30 fit today
  EXPECT_EQ(r.last_site, 1u);
}

TEST(CampaignPlan, SuspendedAndSlowedPaths) {
  PlanInput in = OneSite(100, 2);
  delivery::PathEvent e;
  e.source_name = "ip1";
  e.site = "mx.example.com";
  e.action = delivery::PathEvent::Action::kSuspended;
  e.until = kNow + hours(2);
  in.active.push_back(e);
  PlanResult r = EstimatePlan(in);
  ASSERT_TRUE(r.sites[0].held_until.has_value());
  EXPECT_EQ(r.sites[0].rate, 0);
  EXPECT_NEAR(SecondsAfter(r.finish, kNow), 7200 + 10, 0.5);
  EXPECT_NE(r.sites[0].bound.find("suspended until"), std::string::npos) << r.sites[0].bound;

  in.active[0].action = delivery::PathEvent::Action::kSlowed;
  in.active[0].rate = Rate{1, seconds(1)};
  in.active[0].until = kNow + seconds(50);
  r = EstimatePlan(in);  // 50 at 1/s, then 50 at 10/s
  EXPECT_NEAR(SecondsAfter(r.finish, kNow), 55, 0.5);
}

TEST(CampaignPlan, NoSourceNeverFinishesAndPoolsPickSources) {
  PlanInput in = OneSite(10, 2);
  in.sources.clear();
  PlanResult r = EstimatePlan(in);
  EXPECT_FALSE(r.finish.has_value());
  EXPECT_NE(r.sites[0].bound.find("no source"), std::string::npos);
  std::vector<delivery::Source> all = {{"a", "127.0.0.1", "x", 1, "p1"},
                                       {"b", "127.0.0.2", "x", 1, "p2"},
                                       {"a", "127.0.0.1", "x", 2, "p2"}};
  EXPECT_EQ(PoolSources(all, "").size(), 2u);
  EXPECT_EQ(PoolSources(all, "p2").size(), 2u);
  EXPECT_EQ(PoolSources(all, "p1").size(), 1u);
  EXPECT_EQ(PoolSources(all, "b").size(), 1u);
}

}  // namespace
}  // namespace postino::scheduler
