// http_unsubscribe_test.cc: the HTTP listener end to end — a campaign is
// sent to smtp-sink, the List-Unsubscribe URLs are taken from the delivered
// messages, and `postino serve --http` is driven with curl (RFC 8058 POST,
// urlencoded and multipart; GET page; bad tokens), headless Chromium (the
// page's button clicked with a real mouse event; screenshots kept under
// <build>/test-artifacts/http), promtool (the /metrics output) and /healthz
// with the database stopped. Every effect is checked in PostgreSQL.
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <signal.h>

#include <filesystem>
#include <regex>
#include <set>
#include <sstream>

#include "tests/integration/postino_fixture.h"
#include "tests/support/testdata.h"

namespace postino::testing {
namespace {

struct HttpReply {
  int code = 0;
  std::string body;
  std::string headers;
};

class HttpUnsubscribeTest : public PostinoTest {
 protected:
  // Sends campaign "c" to `n` recipients and starts `postino serve --http`.
  void SendAndServe(int n) {
    sink_ = std::make_unique<SmtpSink>();
    WriteConfig(sink_->port());
    Prepare(n);
    ProcessResult run = Postino({"run", "--until-idle"});
    ASSERT_EQ(run.exit_code, 0) << run.err;
    ASSERT_EQ(Count("status = 'delivered'"), n);
    std::string dump = ReadFile(sink_->dump_path());
    std::regex url_re("https://news\\.example\\.com/u\\?t=([0-9a-f.]+)");
    for (std::sregex_iterator it(dump.begin(), dump.end(), url_re), end; it != end; ++it) {
      std::string token = (*it)[1];
      if (std::find(tokens_.begin(), tokens_.end(), token) == tokens_.end()) tokens_.push_back(token);
    }
    ASSERT_EQ(static_cast<int>(tokens_.size()), n) << dump.substr(0, 4000);
    port_ = FreePort();
    WriteConfig(sink_->port(), fmt::format("[http]\nlisten = [\"127.0.0.1:{}\"]\nthreads = 2\n", port_));
    serve_ = StartPostino({"serve", "--http"}, "serve.log");
    ASSERT_TRUE(WaitForPort(port_, std::chrono::milliseconds(15000))) << ReadFile(dir_ + "/serve.log");
  }

  void TearDown() override {
    if (serve_) {
      serve_->Signal(SIGTERM);
      EXPECT_EQ(serve_->Wait(std::chrono::seconds(20)), 0) << ReadFile(dir_ + "/serve.log");
    }
  }

  std::string Url(const std::string& path) { return fmt::format("http://127.0.0.1:{}{}", port_, path); }

  HttpReply Curl(std::vector<std::string> args) {
    std::string body_file = dir_ + "/curl.body", head_file = dir_ + "/curl.head";
    std::vector<std::string> argv = {"curl", "-s", "-o", body_file, "-D", head_file, "-w",
                                     "%{http_code}", "--max-time", "10"};
    argv.insert(argv.end(), args.begin(), args.end());
    ProcessResult r = RunProcess(argv);
    HttpReply h;
    h.code = r.exit_code == 0 ? std::atoi(r.out.c_str()) : -r.exit_code;
    h.body = ReadFile(body_file);
    h.headers = ReadFile(head_file);
    return h;
  }

  HttpReply OneClick(const std::string& token) {
    return Curl({"-X", "POST", "-d", "List-Unsubscribe=One-Click", Url("/u?t=" + token)});
  }

  // delivery id of a token ("<campaign>.<delivery>.<mac>").
  static std::string DeliveryOf(const std::string& token) {
    size_t a = token.find('.');
    return token.substr(a + 1, token.find('.', a + 1) - a - 1);
  }

  std::string SubscriberStatus(const std::string& token) {
    return Sql("SELECT s.status FROM subscribers s JOIN deliveries d ON d.subscriber_id = s.id "
               "WHERE d.id = " + DeliveryOf(token));
  }
  std::string Events(const std::string& token) {
    return Sql("SELECT count(*) || ':' || coalesce(min(status), '') || ':' || coalesce(min(phase), '') "
               "FROM delivery_events WHERE status = 'unsubscribed' AND delivery_id = " +
               DeliveryOf(token));
  }
  std::string Suppression(const std::string& token) {
    return Sql("SELECT sp.reason || ':' || (sp.campaign_id = d.campaign_id) FROM suppressions sp "
               "JOIN deliveries d ON sp.email_key = lower(d.email) WHERE d.id = " + DeliveryOf(token));
  }

  std::unique_ptr<SmtpSink> sink_;
  std::vector<std::string> tokens_;
  int port_ = 0;
  std::unique_ptr<BackgroundProcess> serve_;
};

TEST_F(HttpUnsubscribeTest, OneClickPostFromADeliveredMessageUnsubscribesOnce) {
  SendAndServe(4);
  const std::string& t = tokens_[0];
  EXPECT_EQ(SubscriberStatus(t), "active");

  HttpReply r = OneClick(t);
  EXPECT_EQ(r.code, 200) << r.body;
  EXPECT_EQ(r.headers.find("Set-Cookie"), std::string::npos);
  EXPECT_EQ(r.headers.find("Location"), std::string::npos);
  EXPECT_EQ(SubscriberStatus(t), "unsubscribed");
  EXPECT_EQ(Events(t), "1:unsubscribed:http");
  EXPECT_EQ(Suppression(t), "unsubscribe:true");
  EXPECT_EQ(Sql("SELECT count(*) FROM delivery_events WHERE status = 'unsubscribed'"), "1");

  // Idempotent: again, and through the /u/<token> form of the URL.
  EXPECT_EQ(OneClick(t).code, 200);
  EXPECT_EQ(Curl({"-X", "POST", "-d", "List-Unsubscribe=One-Click", Url("/u/" + t)}).code, 200);
  EXPECT_EQ(Events(t), "1:unsubscribed:http");
  EXPECT_EQ(Sql("SELECT count(*) FROM suppressions"), "1");

  // multipart/form-data, as RFC 8058 recommends to senders of the POST.
  const std::string& t2 = tokens_[1];
  HttpReply m = Curl({"-F", "List-Unsubscribe=One-Click", Url("/u/" + t2)});
  EXPECT_EQ(m.code, 200) << m.body;
  EXPECT_EQ(SubscriberStatus(t2), "unsubscribed");
  EXPECT_EQ(Events(t2), "1:unsubscribed:http");

  // A POST without the one-click field changes nothing.
  const std::string& t3 = tokens_[2];
  EXPECT_EQ(Curl({"-X", "POST", "-d", "foo=bar", Url("/u/" + t3)}).code, 400);
  EXPECT_EQ(SubscriberStatus(t3), "active");

  // The analyst-facing reply column says how it came in.
  EXPECT_EQ(Sql("SELECT string_agg(DISTINCT reply, ',') FROM delivery_events WHERE status = "
                "'unsubscribed'"),
            "one-click");
}

// 40 recipients, each token POSTed twice by 80 parallel transfers: the
// lookups and records are grouped into batches (one statement each), and
// every recipient is still recorded exactly once, with its own answer.
TEST_F(HttpUnsubscribeTest, ParallelOneClicksAreBatchedAndEachRecordedOnce) {
  constexpr int kRecipients = 40;
  SendAndServe(kRecipients);
  std::vector<std::string> argv = {"curl", "-s", "--parallel", "--parallel-immediate",
                                   "--parallel-max", "80", "--max-time", "20",
                                   "-w", "%{http_code}\n", "-d", "List-Unsubscribe=One-Click"};
  for (int round = 0; round < 2; ++round) {
    for (const std::string& t : tokens_) {
      argv.push_back("-o");  // one output per URL; the body goes with every URL
      argv.push_back("/dev/null");
      argv.push_back(Url("/u?t=" + t));
    }
  }
  ProcessResult r = RunProcess(argv);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::istringstream codes(r.out);
  int ok = 0;
  for (std::string line; std::getline(codes, line);) {
    EXPECT_EQ(line, "200");
    ok += line == "200";
  }
  EXPECT_EQ(ok, 2 * kRecipients);
  EXPECT_EQ(Sql("SELECT count(*) FROM subscribers WHERE status = 'unsubscribed'"),
            std::to_string(kRecipients));
  EXPECT_EQ(Sql("SELECT count(*) || '/' || count(DISTINCT delivery_id) FROM delivery_events "
                "WHERE status = 'unsubscribed'"),
            fmt::format("{0}/{0}", kRecipients));
  EXPECT_EQ(Sql("SELECT count(*) FROM suppressions WHERE reason = 'unsubscribe'"),
            std::to_string(kRecipients));
  // The analysts' kept counts saw each one once too.
  EXPECT_EQ(Sql("SELECT coalesce(sum(n), 0) FROM event_counts WHERE kind = 'unsubscribed'"),
            std::to_string(kRecipients));
  serve_->Signal(SIGTERM);
  EXPECT_EQ(serve_->Wait(std::chrono::seconds(20)), 0);
  serve_.reset();
  std::string log = ReadFile(dir_ + "/serve.log");
  std::smatch m;
  ASSERT_TRUE(std::regex_search(log, m, std::regex("http: (\\d+) unsubscribe lookups in (\\d+) "
                                                   "statements, (\\d+) records in (\\d+) statements")))
      << log;
  EXPECT_EQ(m[1], std::to_string(2 * kRecipients)) << "every request was looked up";
  // Both POSTs of a token may be looked up before either is recorded; the
  // record statement then writes one of them.
  EXPECT_GE(std::stoi(m[3]), kRecipients);
  EXPECT_LE(std::stoi(m[3]), 2 * kRecipients);
  // 80 requests arriving together do not take 80 lookup statements.
  EXPECT_LT(std::stoi(m[2]), 2 * kRecipients) << log;
}

TEST_F(HttpUnsubscribeTest, GetShowsAPageAndChangesNothing) {
  SendAndServe(3);
  const std::string& t = tokens_[0];
  HttpReply r = Curl({Url("/u?t=" + t)});
  EXPECT_EQ(r.code, 200);
  EXPECT_NE(r.headers.find("text/html"), std::string::npos);
  EXPECT_NE(r.headers.find("Cache-Control: no-store"), std::string::npos) << r.headers;
  EXPECT_NE(r.body.find("<form method=\"post\""), std::string::npos) << r.body;
  EXPECT_NE(r.body.find("lang=\"en\""), std::string::npos);
  EXPECT_EQ(r.body.find("http://"), std::string::npos) << "no external assets";
  EXPECT_EQ(r.body.find("<script"), std::string::npos);
  EXPECT_EQ(SubscriberStatus(t), "active");
  EXPECT_EQ(Sql("SELECT count(*) FROM delivery_events WHERE status = 'unsubscribed'"), "0");

  // Italian from the subscriber's attribute; from Accept-Language otherwise.
  Sql("UPDATE subscribers SET attributes = attributes || '{\"language\": \"it-IT\"}' "
      "WHERE id = (SELECT subscriber_id FROM deliveries WHERE id = " + DeliveryOf(tokens_[1]) + ")");
  HttpReply it = Curl({Url("/u/" + tokens_[1])});
  EXPECT_NE(it.body.find("lang=\"it\""), std::string::npos) << it.body;
  EXPECT_NE(it.body.find("Annulla l&#39;iscrizione"), std::string::npos);
  HttpReply al = Curl({"-H", "Accept-Language: it-CH, en;q=0.5", Url("/u/" + tokens_[2])});
  EXPECT_NE(al.body.find("lang=\"it\""), std::string::npos) << al.body;

  // HEAD is a GET without a body; other methods are refused.
  EXPECT_EQ(Curl({"-I", Url("/u/" + t)}).code, 200);
  HttpReply put = Curl({"-X", "PUT", Url("/u/" + t)});
  EXPECT_EQ(put.code, 405);
  EXPECT_NE(put.headers.find("Allow: GET, HEAD, POST"), std::string::npos);
}

TEST_F(HttpUnsubscribeTest, BadTokensGetAClearPageAndA4xx) {
  SendAndServe(1);
  const std::string& t = tokens_[0];
  std::string forged = t.substr(0, t.size() - 1) + (t.back() == '0' ? '1' : '0');
  std::string other_campaign = "9" + t;  // syntax fine, wrong ids
  struct Case {
    std::string url;
    int code;
    std::string text;
  } cases[] = {
      {Url("/u/" + forged), 400, "not valid"},
      {Url("/u/abc"), 400, "not valid"},
      {Url("/u/"), 400, "not valid"},
      {Url("/u?t=" + std::string(5000, '1')), 400, "not valid"},
      {Url("/u/%3Cscript%3E"), 400, "not valid"},
      {Url("/u/" + other_campaign), 404, "expired"},
      {Url("/u/1.999999.0123456789abcdef01234567"), 404, "expired"},
  };
  for (const Case& c : cases) {
    for (bool post : {false, true}) {
      HttpReply r = post ? Curl({"-X", "POST", "-d", "List-Unsubscribe=One-Click", c.url})
                         : Curl({c.url});
      EXPECT_EQ(r.code, c.code) << c.url;
      EXPECT_NE(r.body.find(c.text), std::string::npos) << c.url << "\n" << r.body;
      EXPECT_EQ(r.body.find("<script>"), std::string::npos);
    }
  }
  EXPECT_EQ(Curl({Url("/nothing-here")}).code, 404);
  // A body over the bound is refused, not buffered.
  std::string big = Write("big.txt", "List-Unsubscribe=One-Click&x=" + std::string(100000, 'a'));
  EXPECT_EQ(Curl({"-X", "POST", "--data-binary", "@" + big, Url("/u/" + t)}).code, 413);
  EXPECT_EQ(SubscriberStatus(t), "active");
  EXPECT_EQ(Sql("SELECT count(*) FROM suppressions"), "0");

  // The campaign deleted: its links expire (404), never a 5xx.
  Sql("DELETE FROM delivery_events; DELETE FROM deliveries; DELETE FROM campaigns");
  HttpReply gone = Curl({Url("/u/" + t)});
  EXPECT_EQ(gone.code, 404);
  EXPECT_NE(gone.body.find("expired"), std::string::npos);
}

TEST_F(HttpUnsubscribeTest, ChromiumClicksTheButtonAndTheDatabaseRecordsIt) {
  if (RunProcess({"sh", "-c", "command -v chromium"}).exit_code != 0) {
    GTEST_SKIP() << "chromium is not installed (Debian package chromium)";
  }
  SendAndServe(2);
  const std::string& t = tokens_[0];
  std::string out_dir = BinaryDir() + "/test-artifacts/http";
  std::filesystem::create_directories(out_dir);
  ProcessResult r = RunProcess({"python3", SourceDir() + "/tests/integration/chromium_click.py",
                                Url("/u?t=" + t), "unsubscribe", out_dir, "it-IT,it"},
                               {}, std::chrono::seconds(90));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("Annullare l'iscrizione?"), std::string::npos) << r.out.substr(0, 3000);
  EXPECT_NE(r.out.find("id=\\\"done\\\""), std::string::npos) << r.out.substr(0, 3000);
  EXPECT_NE(r.out.find("Iscrizione annullata"), std::string::npos);
  EXPECT_TRUE(std::filesystem::file_size(out_dir + "/unsubscribe-confirm.png") > 1000);
  EXPECT_TRUE(std::filesystem::file_size(out_dir + "/unsubscribe-done.png") > 1000);
  EXPECT_EQ(SubscriberStatus(t), "unsubscribed");
  EXPECT_EQ(Events(t), "1:unsubscribed:http");
  EXPECT_EQ(Sql("SELECT reply FROM delivery_events WHERE status = 'unsubscribed'"), "page");
  EXPECT_EQ(SubscriberStatus(tokens_[1]), "active");
}

TEST_F(HttpUnsubscribeTest, MetricsPassPromtoolAndCountUnsubscribes) {
  SendAndServe(2);
  ASSERT_EQ(OneClick(tokens_[0]).code, 200);
  ASSERT_EQ(OneClick(tokens_[0]).code, 200);
  Curl({Url("/u/abc")});
  HttpReply m = Curl({Url("/metrics")});
  ASSERT_EQ(m.code, 200);
  EXPECT_NE(m.headers.find("text/plain; version=0.0.4"), std::string::npos) << m.headers;
  EXPECT_NE(m.body.find("postino_unsubscribes_total{method=\"one_click\"} 1\n"), std::string::npos)
      << m.body;
  EXPECT_NE(m.body.find("postino_unsubscribe_rejects_total{reason=\"malformed\"} 1\n"),
            std::string::npos);
  EXPECT_NE(m.body.find("postino_http_requests_total{handler=\"unsubscribe\",code=\"200\"} 2\n"),
            std::string::npos);
  EXPECT_NE(m.body.find("# TYPE postino_submission_auth_failures_total counter"), std::string::npos);
  EXPECT_NE(m.body.find("# TYPE postino_bounces_total counter"), std::string::npos);
  EXPECT_NE(m.body.find("postino_http_request_duration_seconds_bucket{handler=\"unsubscribe\",le=\"+Inf\"} 3"),
            std::string::npos);
  if (RunProcess({"sh", "-c", "command -v promtool"}).exit_code != 0) {
    GTEST_SKIP() << "promtool is not installed (Debian package prometheus)";
  }
  std::string file = Write("metrics.txt", m.body);
  ProcessResult p = RunProcess({"sh", "-c", "promtool check metrics < " + file});
  EXPECT_EQ(p.exit_code, 0) << p.out << p.err;
}

TEST_F(HttpUnsubscribeTest, HealthzFollowsTheDatabase) {
  SendAndServe(1);
  HttpReply ok = Curl({Url("/healthz")});
  EXPECT_EQ(ok.code, 200) << ok.body;
  EXPECT_NE(ok.body.find("\"status\":\"ok\""), std::string::npos) << ok.body;
  ASSERT_TRUE(cluster_->Stop());
  HttpReply down = Curl({Url("/healthz")});
  EXPECT_EQ(down.code, 503) << down.body;
  EXPECT_NE(down.body.find("database"), std::string::npos) << down.body;
  EXPECT_NE(down.headers.find("Retry-After"), std::string::npos);
  // The unsubscribe page says "try later" (503 + Retry-After), not a 500.
  HttpReply page = Curl({Url("/u/" + tokens_[0])});
  EXPECT_EQ(page.code, 503) << page.body;
  EXPECT_NE(page.headers.find("Retry-After"), std::string::npos);
  ASSERT_TRUE(cluster_->Start());
  EXPECT_TRUE(WaitFor([&] { return Curl({Url("/healthz")}).code == 200; }, std::chrono::seconds(20)));
  // The pool fails fast for 500 ms after a refused connect (503 + Retry-After),
  // then reconnects: the one-click POST succeeds within moments.
  EXPECT_TRUE(WaitFor([&] { return OneClick(tokens_[0]).code == 200; }, std::chrono::seconds(10)))
      << ReadFile(dir_ + "/serve.log");
  EXPECT_EQ(SubscriberStatus(tokens_[0]), "unsubscribed");
}

}  // namespace
}  // namespace postino::testing

// Appended: the listener inside `postino run`.
namespace postino::testing {
namespace {

TEST_F(HttpUnsubscribeTest, RunServesHealthAndMetricsWhileSending) {
  SmtpSink sink;
  port_ = FreePort();
  WriteConfig(sink.port(), fmt::format("[http]\nlisten = [\"127.0.0.1:{}\"]\n", port_));
  Prepare(30);
  auto run = StartPostino({"run"}, "run.log");
  ASSERT_TRUE(WaitForPort(port_, std::chrono::milliseconds(15000))) << ReadFile(dir_ + "/run.log");
  EXPECT_TRUE(WaitFor([&] { return Count("status = 'delivered'") == 30; }, std::chrono::seconds(60)))
      << ReadFile(dir_ + "/run.log");
  HttpReply h;
  EXPECT_TRUE(WaitFor([&] { return (h = Curl({Url("/healthz")})).code == 200; },
                      std::chrono::seconds(10)))
      << h.body;
  EXPECT_NE(h.body.find("\"running\":true"), std::string::npos) << h.body;
  HttpReply m = Curl({Url("/metrics")});
  ASSERT_EQ(m.code, 200);
  for (const char* want :
       {"postino_recipients_total{outcome=\"delivered\"} 30\n",
        "postino_recipients_by_source_total{source=\"127.0.0.1\",outcome=\"delivered\"} 30\n",
        "postino_engine_messages_total 30\n", "postino_db_batch_duration_seconds_count{op=\"claim\"}",
        "postino_queue_depth{stage=\"engine\"} 0\n", "postino_smtp_connections ", "postino_db_up 1\n",
        "postino_loop_heartbeat_timestamp_seconds 1"}) {
    EXPECT_NE(m.body.find(want), std::string::npos) << want << "\n" << m.body.substr(0, 6000);
  }
  if (RunProcess({"sh", "-c", "command -v promtool"}).exit_code == 0) {
    std::string file = Write("metrics-run.txt", m.body);
    ProcessResult p = RunProcess({"sh", "-c", "promtool check metrics < " + file});
    EXPECT_EQ(p.exit_code, 0) << p.out << p.err;
  }
  run->Signal(SIGTERM);
  EXPECT_EQ(run->Wait(std::chrono::seconds(30)), 0) << ReadFile(dir_ + "/run.log");
}

}  // namespace
}  // namespace postino::testing

// Appended: HTTPS from [http] cert_file/key_file, and config errors at start.
namespace postino::testing {
namespace {

TEST_F(HttpUnsubscribeTest, HttpsWithCertificateAndKey) {
  SmtpSink sink;
  std::string key = dir_ + "/http.key", cert = dir_ + "/http.crt";
  ProcessResult gen = RunProcess({"openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                                  "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", key, "-out",
                                  cert, "-subj", "/CN=localhost", "-days", "2"});
  ASSERT_EQ(gen.exit_code, 0) << gen.err;
  port_ = FreePort();
  WriteConfig(sink.port(), fmt::format("[http]\nlisten = [\"127.0.0.1:{}\"]\ncert_file = \"{}\"\n"
                                       "key_file = \"{}\"\n",
                                       port_, cert, key));
  ASSERT_EQ(Postino({"db", "migrate"}).exit_code, 0);
  serve_ = StartPostino({"serve", "--http"}, "serve.log");
  ASSERT_TRUE(WaitForPort(port_, std::chrono::milliseconds(15000))) << ReadFile(dir_ + "/serve.log");
  HttpReply h = Curl({"--cacert", cert, fmt::format("https://localhost:{}/healthz", port_),
                      "--resolve", fmt::format("localhost:{}:127.0.0.1", port_)});
  EXPECT_EQ(h.code, 200) << h.body << ReadFile(dir_ + "/serve.log");
  // Plain HTTP on the TLS port is not answered as HTTP.
  EXPECT_NE(Curl({Url("/healthz")}).code, 200);
}

TEST_F(HttpUnsubscribeTest, ServeRefusesWithoutListenOrWithABusyPort) {
  SmtpSink sink;
  WriteConfig(sink.port());
  ASSERT_EQ(Postino({"db", "migrate"}).exit_code, 0);
  ProcessResult none = Postino({"serve", "--http"});
  EXPECT_EQ(none.exit_code, 3);
  EXPECT_NE(none.err.find("[http] listen is not set"), std::string::npos) << none.err;
  ProcessResult bare = Postino({"serve"});
  EXPECT_NE(bare.exit_code, 0);
  EXPECT_NE(bare.err.find("nothing to serve"), std::string::npos) << bare.err;
  // The port is taken by smtp-sink.
  WriteConfig(sink.port(), fmt::format("[http]\nlisten = [\"127.0.0.1:{}\"]\n", sink.port()));
  ProcessResult busy = Postino({"serve", "--http"});
  EXPECT_EQ(busy.exit_code, 1);
  EXPECT_NE(busy.err.find(fmt::format("cannot listen on 127.0.0.1:{}", sink.port())), std::string::npos)
      << busy.err;
  WriteConfig(sink.port(), "[http]\nlisten = [\"127.0.0.1:1\"]\ncert_file = \"/nonexistent.pem\"\n"
                           "key_file = \"/nonexistent.key\"\n");
  ProcessResult nocert = Postino({"serve", "--http"});
  EXPECT_EQ(nocert.exit_code, 3);
  EXPECT_NE(nocert.err.find("/nonexistent.pem"), std::string::npos) << nocert.err;
}

}  // namespace
}  // namespace postino::testing
