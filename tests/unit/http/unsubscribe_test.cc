// unsubscribe_test.cc: the unsubscribe handler and the router on a fake
// store (no sockets, no database): token checks, GET changes nothing, POST
// records once, database failures are 503 with Retry-After, /healthz and
// /metrics answers.
#include "http/unsubscribe.h"

#include <gtest/gtest.h>

#include <chrono>
#include <future>

#include "common/metric_families.h"
#include "http/service.h"
#include "templates/recipient_token.h"

namespace postino::http {
namespace {

constexpr const char* kSecret = "unit-test-secret-0123456789";

// Answers at once, on the caller's thread (the batching store answers later
// on its lane threads: tests/integration/http_unsubscribe_test.cc).
class FakeStore : public UnsubscribeStore {
 public:
  void Find(int64_t campaign, int64_t delivery, FindDone done) override {
    ++finds;
    if (down) return done(Status::IoError("connection refused"));
    if (campaign != target.campaign_id || delivery != target.delivery_id) {
      return done(std::optional<db::UnsubscribeTarget>());
    }
    done(std::optional<db::UnsubscribeTarget>(target));
  }
  void Record(const db::UnsubscribeRecord& r, RecordDone done) override {
    if (down_on_record) return done(Status::IoError("connection lost"));
    records.push_back(r);
    if (target.unsubscribed) return done(false);
    target.unsubscribed = true;
    done(true);
  }
  db::UnsubscribeTarget target{42, 7, "anna@example.com", "", "c", "News", false};
  std::vector<db::UnsubscribeRecord> records;
  int finds = 0;
  bool down = false, down_on_record = false;
};

// Starts an asynchronous handler and waits for its one reply (a second
// reply would throw from set_value).
template <typename Start>
Response Await(Start&& start) {
  std::promise<Response> answer;
  std::future<Response> f = answer.get_future();
  start([&answer](Response r) { answer.set_value(std::move(r)); });
  if (f.wait_for(std::chrono::seconds(10)) != std::future_status::ready) {
    ADD_FAILURE() << "no reply within 10 s";
    return Response::Text(599, "no reply");
  }
  return f.get();
}

Response Call(UnsubscribeHandler& h, const Request& req, const std::string& token) {
  return Await([&](Reply reply) { h.Handle(req, token, std::move(reply)); });
}

Response Call(Router& router, const Request& req) {
  return Await([&](Reply reply) { router.Handle(req, std::move(reply)); });
}

class UnsubscribeTest : public ::testing::Test {
 protected:
  UnsubscribeTest() : handler_(Options(), store_) {}
  static UnsubscribeOptions Options() {
    UnsubscribeOptions o;
    o.secret = kSecret;
    o.node = "n1";
    o.query_path = "/u";
    return o;
  }
  std::string Token() { return templates::MakeRecipientToken(kSecret, 7, 42, "anna@example.com"); }
  Request Get(const std::string& path) {
    Request r;
    r.method = "GET";
    r.path = path;
    return r;
  }
  Request Post(const std::string& path) {
    Request r = Get(path);
    r.method = "POST";
    r.form["List-Unsubscribe"] = "One-Click";
    return r;
  }
  Response Do(const Request& r) {
    std::optional<std::string> t = handler_.TokenOf(r);
    EXPECT_TRUE(t.has_value()) << r.path;
    return Call(handler_, r, t.value_or(""));
  }
  static std::string HeaderOf(const Response& r, const std::string& name) {
    for (const auto& [n, v] : r.headers) {
      if (n == name) return v;
    }
    return "";
  }

  FakeStore store_;
  UnsubscribeHandler handler_;
};

TEST_F(UnsubscribeTest, TokenFromPathOrQuery) {
  Request q = Get("/u");
  q.query["t"] = "1.2.x";
  EXPECT_EQ(handler_.TokenOf(q), "1.2.x");
  EXPECT_EQ(handler_.TokenOf(Get("/u/1.2.y")), "1.2.y");
  EXPECT_EQ(handler_.TokenOf(Get("/u/")), "");
  EXPECT_EQ(handler_.TokenOf(Get("/metrics")), std::nullopt);
  EXPECT_EQ(handler_.TokenOf(Get("/unsubscribe")), std::nullopt);
}

TEST_F(UnsubscribeTest, GetShowsTheConfirmPageAndRecordsNothing) {
  Response r = Do(Get("/u/" + Token()));
  EXPECT_EQ(r.status, 200);
  EXPECT_NE(r.body.find("action=\"/u/" + Token() + "\""), std::string::npos) << r.body;
  EXPECT_NE(r.body.find("anna@example.com"), std::string::npos);
  EXPECT_TRUE(store_.records.empty());
  EXPECT_EQ(HeaderOf(r, "Cache-Control"), "no-store");
  EXPECT_EQ(HeaderOf(r, "Referrer-Policy"), "no-referrer");
  EXPECT_NE(HeaderOf(r, "Content-Security-Policy").find("default-src 'none'"), std::string::npos);
  Request q = Get("/u");
  q.query["t"] = Token();
  EXPECT_NE(Do(q).body.find("action=\"/u?t=" + Token() + "\""), std::string::npos);
}

TEST_F(UnsubscribeTest, PublicUrlIsTheFormAction) {
  UnsubscribeOptions o = Options();
  o.public_url = "https://mail.example.com/p/";
  UnsubscribeHandler h(o, store_);
  Response r = Call(h, Get("/u/" + Token()), Token());
  EXPECT_NE(r.body.find("action=\"https://mail.example.com/p/u/" + Token() + "\""), std::string::npos)
      << r.body;
  EXPECT_NE(HeaderOf(r, "Content-Security-Policy").find("form-action 'self' https://mail.example.com"),
            std::string::npos);
}

TEST_F(UnsubscribeTest, PostRecordsOnceAndIsIdempotent) {
  Response r = Do(Post("/u/" + Token()));
  EXPECT_EQ(r.status, 200);
  ASSERT_EQ(store_.records.size(), 1u);
  EXPECT_EQ(store_.records[0].delivery_id, 42);
  EXPECT_EQ(store_.records[0].campaign_id, 7);
  EXPECT_EQ(store_.records[0].node, "n1");
  EXPECT_EQ(store_.records[0].method, "one-click");
  Response again = Do(Post("/u/" + Token()));
  EXPECT_EQ(again.status, 200);
  EXPECT_EQ(store_.records.size(), 1u) << "already unsubscribed: nothing to record";
  EXPECT_NE(again.body.find("id=\"done\""), std::string::npos);
}

TEST_F(UnsubscribeTest, PageButtonIsRecordedAsPage) {
  Request r = Post("/u/" + Token());
  r.form["via"] = "page";
  EXPECT_EQ(Do(r).status, 200);
  ASSERT_EQ(store_.records.size(), 1u);
  EXPECT_EQ(store_.records[0].method, "page");
}

TEST_F(UnsubscribeTest, PostWithoutOneClickFieldIs400) {
  Request r = Post("/u/" + Token());
  r.form.clear();
  EXPECT_EQ(Do(r).status, 400);
  r.form["List-Unsubscribe"] = "one-click-ish";
  EXPECT_EQ(Do(r).status, 400);
  EXPECT_TRUE(store_.records.empty());
}

TEST_F(UnsubscribeTest, BadTokens) {
  std::string t = Token();
  std::string forged = t.substr(0, t.size() - 1) + (t.back() == 'a' ? 'b' : 'a');
  EXPECT_EQ(Do(Get("/u/" + forged)).status, 400);
  EXPECT_EQ(Do(Post("/u/" + forged)).status, 400);
  EXPECT_EQ(Do(Get("/u/garbage")).status, 400);
  EXPECT_EQ(Do(Get("/u/" + std::string(200, '1'))).status, 400);
  EXPECT_EQ(Do(Get("/u/" + templates::MakeRecipientToken(kSecret, 7, 43, "anna@example.com"))).status,
            404);
  // Signed for another address than the delivery's.
  EXPECT_EQ(Do(Get("/u/" + templates::MakeRecipientToken(kSecret, 7, 42, "eve@example.com"))).status,
            400);
  // Signed with another secret.
  EXPECT_EQ(Do(Get("/u/" + templates::MakeRecipientToken("other-secret-0123456789", 7, 42,
                                                          "anna@example.com")))
                .status,
            400);
  EXPECT_TRUE(store_.records.empty());
}

TEST_F(UnsubscribeTest, EmptySecretVerifiesNothing) {
  UnsubscribeOptions o = Options();
  o.secret = "";
  UnsubscribeHandler h(o, store_);
  EXPECT_EQ(Call(h, Post("/u/" + Token()), Token()).status, 400);
  EXPECT_TRUE(store_.records.empty());
}

TEST_F(UnsubscribeTest, DatabaseDownIs503WithRetryAfter) {
  store_.down = true;
  Response r = Do(Get("/u/" + Token()));
  EXPECT_EQ(r.status, 503);
  EXPECT_EQ(HeaderOf(r, "Retry-After"), "30");
  store_.down = false;
  store_.down_on_record = true;
  r = Do(Post("/u/" + Token()));
  EXPECT_EQ(r.status, 503);
  EXPECT_FALSE(store_.target.unsubscribed);
}

TEST_F(UnsubscribeTest, OtherMethodsAre405) {
  Request r = Get("/u/" + Token());
  r.method = "DELETE";
  Response resp = Do(r);
  EXPECT_EQ(resp.status, 405);
  EXPECT_EQ(HeaderOf(resp, "Allow"), "GET, HEAD, POST");
}

TEST_F(UnsubscribeTest, LanguageFromTheSubscriber) {
  store_.target.language = "it";
  Response r = Do(Get("/u/" + Token()));
  EXPECT_NE(r.body.find("lang=\"it\""), std::string::npos);
}

TEST_F(UnsubscribeTest, RouterHealthzWithoutALoopOrProbe) {
  HealthOptions ho;
  Router router(handler_, nullptr, ho);
  Response r = Call(router, Get("/healthz"));
  EXPECT_EQ(r.status, 200);
  EXPECT_NE(r.body.find("\"status\":\"ok\""), std::string::npos) << r.body;
  EXPECT_EQ(r.content_type, "application/json");
}

TEST_F(UnsubscribeTest, RouterHealthzNeedsAFreshHeartbeatWhenALoopIsExpected) {
  HealthOptions ho;
  ho.expect_loop = true;
  ho.max_loop_age = std::chrono::milliseconds(1000);
  Router router(handler_, nullptr, ho);
  metrics::families::LoopHeartbeat().Get().Set(0);
  Response r = Call(router, Get("/healthz"));
  EXPECT_EQ(r.status, 503);
  EXPECT_NE(r.body.find("event loop has not started"), std::string::npos) << r.body;
  double now =
      std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
  metrics::families::LoopHeartbeat().Get().Set(now - 30);
  r = Call(router, Get("/healthz"));
  EXPECT_EQ(r.status, 503);
  EXPECT_NE(r.body.find("heartbeat is 30"), std::string::npos) << r.body;
  metrics::families::LoopHeartbeat().Get().Set(now);
  EXPECT_EQ(Call(router, Get("/healthz")).status, 200);
  metrics::families::LoopHeartbeat().Get().Set(0);
}

TEST_F(UnsubscribeTest, RouterMetricsAndNotFound) {
  Router router(handler_, nullptr, HealthOptions());
  Call(router, Get("/u/garbage"));
  Response m = Call(router, Get("/metrics"));
  EXPECT_EQ(m.status, 200);
  EXPECT_EQ(m.content_type, "text/plain; version=0.0.4; charset=utf-8");
  EXPECT_NE(m.body.find("postino_http_requests_total{handler=\"unsubscribe\",code=\"400\"}"),
            std::string::npos)
      << m.body;
  EXPECT_EQ(Call(router, Get("/other")).status, 404);
  Request post = Get("/metrics");
  post.method = "POST";
  EXPECT_EQ(Call(router, post).status, 405);
}

}  // namespace
}  // namespace postino::http
