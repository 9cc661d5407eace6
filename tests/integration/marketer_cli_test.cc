// marketer_cli_test.cc: the marketers' commands of issue 14 through the real
// binary, PostgreSQL and a fake MX on loopback: ls/show/rm with JSON parsed,
// drafts-only deletion, subscriber unsubscribe/erase, a readable preview
// that reports missing fields (exit 8), `campaign check` and `plan` (JSON),
// `campaign test` outside the counts, an honest `campaign status` ETA, and
// the HTML report rendered by headless Chromium (screenshot kept under
// the build dir).
#include <fmt/format.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "tests/fakemx/fake_mx.h"
#include "tests/integration/postino_fixture.h"
#include "tests/support/testdata.h"

namespace postino::testing {
namespace {

using fakemx::FakeMx;
using fakemx::Script;
using fakemx::Step;
using nlohmann::json;

class MarketerCliTest : public PostinoTest {
 protected:
  // Two recipients: anna has every field, bob none.
  void Setup(int port, const std::string& extra_toml = "") {
    WriteConfig(port, extra_toml);
    ASSERT_EQ(Postino({"db", "migrate"}).exit_code, 0);
    std::string csv = Write("people.csv",
                            "email,first_name,city\nanna@example.com,Anna,Roma\n"
                            "bob@example.org,,\n");
    ProcessResult imp = Postino({"list", "import", "news", csv});
    ASSERT_EQ(imp.exit_code, 0) << imp.err;
    AddTemplate();
  }
  ProcessResult Create(const std::string& name) {
    return Postino({"campaign", "create", name, "--list", "news", "--template", "t", "--from",
                    "News <news@news.example.com>"});
  }
  json Json(const std::vector<std::string>& args, int expected_exit = 0) {
    ProcessResult r = Postino(args);
    EXPECT_EQ(r.exit_code, expected_exit) << args[0] << " " << args[1] << ": " << r.err;
    json j = json::parse(r.out, nullptr, false);
    EXPECT_FALSE(j.is_discarded()) << r.out;
    return j;
  }
  std::string DkimKey() {
    std::string key = dir_ + "/s1.pem";
    ProcessResult k = Postino({"dkim", "keygen", "--domain", "news.example.com", "--selector",
                               "s1", "--algo", "ed25519", "--out", key});
    EXPECT_EQ(k.exit_code, 0) << k.err;
    return fmt::format("\n[[dkim.keys]]\ndomain = \"news.example.com\"\nselector = \"s1\"\n"
                       "algorithm = \"ed25519-sha256\"\nkey_file = \"{}\"\n",
                       key);
  }
};

TEST_F(MarketerCliTest, ListShowAndDeleteWithJson) {
  Setup(2525);
  ASSERT_EQ(Create("c").exit_code, 0);
  json lists = Json({"list", "ls", "--format", "json"});
  ASSERT_EQ(lists.size(), 1u);
  EXPECT_EQ(lists[0]["name"], "news");
  EXPECT_EQ(lists[0]["members"], 2);
  json tpls = Json({"template", "ls", "--format", "json"});
  ASSERT_EQ(tpls.size(), 1u);
  EXPECT_EQ(tpls[0]["name"], "t");
  EXPECT_EQ(tpls[0]["campaigns"], 1);
  json show = Json({"template", "show", "t", "--format", "json"});
  EXPECT_EQ(show["fields"]["text"], json({"first_name", "city"}));
  EXPECT_NE(Postino({"template", "show", "t"}).out.find("Ciao {{first_name}}"), std::string::npos);
  json camps = Json({"campaign", "ls", "--format", "json"});
  ASSERT_EQ(camps.size(), 1u);
  EXPECT_EQ(camps[0]["status"], "draft");
  EXPECT_EQ(camps[0]["list"], "news");
  EXPECT_NE(Postino({"campaign", "ls"}).out.find("CAMPAIGN"), std::string::npos);

  // In use: refused (7), naming the campaign. Unknown: 6.
  ProcessResult r = Postino({"template", "rm", "t"});
  EXPECT_EQ(r.exit_code, 7);
  EXPECT_NE(r.err.find("used by campaign \"c\""), std::string::npos) << r.err;
  EXPECT_EQ(Postino({"list", "rm", "news"}).exit_code, 7);
  EXPECT_EQ(Postino({"template", "rm", "nope"}).exit_code, 6);
  EXPECT_EQ(Postino({"campaign", "rm", "nope"}).exit_code, 6);
  // Drafts only.
  ASSERT_EQ(Create("d").exit_code, 0);
  ASSERT_EQ(Postino({"campaign", "launch", "d"}).exit_code, 0);
  r = Postino({"campaign", "rm", "d"});
  EXPECT_EQ(r.exit_code, 7);
  EXPECT_NE(r.err.find("only a draft can be deleted"), std::string::npos) << r.err;
  EXPECT_EQ(Postino({"campaign", "rm", "c"}).exit_code, 0);
  camps = Json({"campaign", "ls", "--format", "json"});
  ASSERT_EQ(camps.size(), 1u);
  EXPECT_EQ(camps[0]["name"], "d");
  EXPECT_EQ(camps[0]["remaining"], 2);

  // Subscribers.
  json anna = Json({"subscriber", "show", "anna@example.com", "--format", "json"});
  EXPECT_EQ(anna["attributes"]["first_name"], "Anna");
  EXPECT_EQ(anna["lists"], json({"news"}));
  EXPECT_EQ(anna["status"], "active");
  EXPECT_TRUE(anna["suppressed"].is_null());
  ASSERT_EQ(anna["deliveries"].size(), 1u);
  EXPECT_EQ(anna["deliveries"][0]["campaign"], "d");
  EXPECT_EQ(Postino({"subscriber", "unsubscribe", "anna@example.com"}).exit_code, 0);
  anna = Json({"subscriber", "show", "ANNA@example.com", "--format", "json"});
  EXPECT_EQ(anna["status"], "unsubscribed");
  EXPECT_EQ(anna["suppressed"], "unsubscribe");
  json sup = Json({"suppress", "ls", "--format", "json"});
  ASSERT_EQ(sup.size(), 1u);
  EXPECT_EQ(sup[0]["email"], "anna@example.com");
  EXPECT_EQ(sup[0]["reason"], "unsubscribe");
  // A recipient still to be sent by a running campaign cannot be erased.
  r = Postino({"subscriber", "rm", "bob@example.org"});
  EXPECT_EQ(r.exit_code, 7) << r.err;
  EXPECT_NE(r.err.find("campaign \"d\""), std::string::npos) << r.err;
  ASSERT_EQ(Postino({"campaign", "cancel", "d"}).exit_code, 0);
  EXPECT_EQ(Postino({"subscriber", "rm", "bob@example.org"}).exit_code, 0);
  EXPECT_EQ(Postino({"subscriber", "show", "bob@example.org"}).exit_code, 6);
  EXPECT_EQ(Sql("SELECT count(*) FROM deliveries WHERE email = 'bob@example.org'"), "0");
}

TEST_F(MarketerCliTest, PreviewIsReadableAndReportsMissingFields) {
  Setup(2525);
  ProcessResult ok = Postino({"template", "preview", "t", "--email", "anna@example.com", "--html",
                              dir_ + "/p.html"});
  EXPECT_EQ(ok.exit_code, 0) << ok.err;
  EXPECT_NE(ok.out.find("Subject: Novità per Anna"), std::string::npos) << ok.out;
  EXPECT_NE(ok.out.find("Ciao Anna da Roma"), std::string::npos) << ok.out;
  EXPECT_EQ(ok.out.find("quoted-printable"), std::string::npos) << ok.out;
  std::ifstream html(dir_ + "/p.html");
  std::stringstream ss;
  ss << html.rdbuf();
  EXPECT_EQ(ss.str(), "<p>Ciao Anna da Roma</p>\n");

  ProcessResult bob = Postino({"template", "preview", "t", "--email", "bob@example.org"});
  EXPECT_EQ(bob.exit_code, 8) << bob.err;
  EXPECT_NE(bob.err.find("lacks 2 fields"), std::string::npos) << bob.err;
  EXPECT_NE(bob.err.find("first_name, city"), std::string::npos) << bob.err;
  json j = Json({"template", "preview", "t", "--email", "bob@example.org", "--format", "json"}, 8);
  EXPECT_EQ(j["missing_fields"], json({"first_name", "city"}));
  EXPECT_EQ(j["subject"], "Novità per ");
  ProcessResult raw = Postino({"template", "preview", "t", "--email", "anna@example.com", "--raw"});
  EXPECT_NE(raw.out.find("Content-Transfer-Encoding: quoted-printable"), std::string::npos);
}

TEST_F(MarketerCliTest, CheckCountsMissingFieldsAndFindsEmptyUnsubscribeLinks) {
  Setup(2525, DkimKey());
  ASSERT_EQ(Create("c").exit_code, 0);
  json j = Json({"campaign", "check", "c", "--format", "json"}, 8);
  EXPECT_EQ(j["rendered"], 2);
  EXPECT_EQ(j["missing_fields"], json({{"first_name", 1}, {"city", 1}}));
  EXPECT_EQ(j["dkim_key"], true);
  EXPECT_EQ(j["one_click_unsubscribe"], true);
  EXPECT_GT(j["size"]["min"].get<int>(), 300);
  EXPECT_GE(j["size"]["max"].get<int>(), j["size"]["min"].get<int>());
  EXPECT_GT(j["size"]["dkim_signature_bytes"].get<int>(), 50);
  ASSERT_TRUE(j["estimate"].is_object());
  EXPECT_EQ(j["estimate"]["recipients"], 2);
  EXPECT_FALSE(j["estimate"]["finish"].is_null());
  EXPECT_EQ(Sql("SELECT count(*) FROM deliveries"), "0");

  // Everyone complete: OK. Then a template linking {{unsubscribe_url}} with
  // url_base unset: loud, non-zero.
  ASSERT_EQ(Postino({"subscriber", "rm", "bob@example.org"}).exit_code, 0);
  ProcessResult ok = Postino({"campaign", "check", "c"});
  EXPECT_EQ(ok.exit_code, 0) << ok.out << ok.err;
  EXPECT_NE(ok.out.find("OK: no problems found"), std::string::npos) << ok.out;
  std::string h = Write("u.html", "<p>{{first_name}}</p><a href=\"{{unsubscribe_url}}\">x</a>\n");
  ASSERT_EQ(Postino({"template", "add", "t", "--replace", "--subject", "S", "--html", h, "--text",
                     dir_ + "/t.txt"})
                .exit_code,
            0);
  std::string key = dir_ + "/unsubscribe.key";
  Write("postino.toml",
        fmt::format("[database]\nurl = \"{}\"\n[[sources]]\nname = \"lo\"\naddress = "
                    "\"127.0.0.1\"\n[[routes]]\ndomain = \"*\"\nto = \"127.0.0.1:2525\"\n"
                    "[unsubscribe]\nmailto = \"u@news.example.com\"\nsecret_file = \"{}\"\n",
                    db_url_, key));
  ProcessResult bad = Postino({"campaign", "check", "c"});
  EXPECT_EQ(bad.exit_code, 8) << bad.out << bad.err;
  EXPECT_NE(bad.out.find("href=\"\""), std::string::npos) << bad.out;
  EXPECT_NE(bad.out.find("url_base is not set"), std::string::npos) << bad.out;
  EXPECT_NE(bad.out.find("NO key for the From domain"), std::string::npos) << bad.out;
}

TEST_F(MarketerCliTest, PlanShowsSitesLimitsAndWarmupCaps) {
  std::string today = Sql("SELECT to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD')");
  Setup(2525, fmt::format("[limits]\nmax_connections = 2\n\n[[warmup]]\nsource = \"lo\"\n"
                          "start = \"{}\"\ncaps = [1, 1]\n",
                          today));
  ASSERT_EQ(Create("c").exit_code, 0);
  json j = Json({"campaign", "plan", "c", "--format", "json"});
  ASSERT_EQ(j["sites"].size(), 1u) << j.dump();
  json site = j["sites"][0];
  EXPECT_EQ(site["site"].get<std::string>().rfind("127.0.0.1", 0), 0u) << site.dump();
  EXPECT_EQ(site["recipients"], 2);
  EXPECT_EQ(site["max_connections"], 2);
  EXPECT_EQ(site["warmup_left_today"], 1);
  EXPECT_EQ(site["days"], 2);
  EXPECT_EQ(site["bound"], "warm-up cap");
  EXPECT_EQ(j["sources"][0]["name"], "lo");
  ASSERT_FALSE(j["finish"].is_null());
  // Tomorrow (UTC).
  std::string tomorrow = Sql("SELECT to_char(now() AT TIME ZONE 'UTC' + interval '1 day', "
                             "'YYYY-MM-DD')");
  EXPECT_EQ(j["finish"].get<std::string>().substr(0, 10), tomorrow);
  ProcessResult table = Postino({"campaign", "plan", "c"});
  EXPECT_NE(table.out.find("expected finish: " + tomorrow), std::string::npos) << table.out;
}

TEST_F(MarketerCliTest, TestSendsTheSignedMessageOutsideTheCounts) {
  FakeMx mx(Script{});
  Setup(mx.port(), DkimKey());
  ASSERT_EQ(Create("c").exit_code, 0);
  ProcessResult r =
      Postino({"campaign", "test", "c", "--to", "seed1@inbox.example", "--to", "seed2@other.example"});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("seed1@inbox.example: delivered"), std::string::npos) << r.out;
  EXPECT_NE(r.err.find("test message"), std::string::npos) << r.err;  // logged
  std::vector<fakemx::Message> msgs = mx.messages();
  ASSERT_EQ(msgs.size(), 2u);
  for (const auto& m : msgs) {
    EXPECT_NE(m.data.find("DKIM-Signature:"), std::string::npos);
    EXPECT_NE(m.data.find("List-Unsubscribe:"), std::string::npos);
    EXPECT_NE(m.data.find("Ciao Anna"), std::string::npos);  // the list's first recipient
  }
  EXPECT_EQ(Sql("SELECT count(*) FROM deliveries"), "0");
  EXPECT_EQ(Sql("SELECT count(*) FROM delivery_events"), "0");
  EXPECT_EQ(Sql("SELECT status FROM campaigns"), "draft");

  Script reject;
  reject.rcpt = Step{"550 5.1.1 no such user"};
  FakeMx bad(reject);
  WriteConfig(bad.port());
  r = Postino({"campaign", "test", "c", "--to", "nobody@inbox.example"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.out.find("bounced"), std::string::npos) << r.out;
}

TEST_F(MarketerCliTest, StatusEtaIsHonestAboutPausesRetriesAndSuspensions) {
  Setup(2525);
  ASSERT_EQ(Create("c").exit_code, 0);
  ASSERT_EQ(Postino({"campaign", "launch", "c"}).exit_code, 0);
  ASSERT_EQ(Postino({"campaign", "pause", "c"}).exit_code, 0);
  ProcessResult r = Postino({"campaign", "status", "c"});
  EXPECT_NE(r.out.find("eta -- (paused: no ETA until resumed)"), std::string::npos) << r.out;
  ASSERT_EQ(Postino({"campaign", "resume", "c"}).exit_code, 0);
  // Both recipients deferred, next attempts 20 and 40 minutes away.
  Sql("UPDATE deliveries SET status = 'deferred', attempts = 1, next_attempt_at = now() + "
      "CASE WHEN email LIKE 'anna%' THEN interval '20 minutes' ELSE interval '40 minutes' END");
  r = Postino({"campaign", "status", "c"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("waiting for retries"), std::string::npos) << r.out;
  EXPECT_TRUE(r.out.find("eta 39m") != std::string::npos ||
              r.out.find("eta 40m") != std::string::npos)
      << r.out;
  // Due now, but the only source is suspended for 4 hours towards the site.
  Sql("UPDATE deliveries SET next_attempt_at = now()");
  json plan = Json({"campaign", "plan", "c", "--format", "json"});
  std::string site = plan["sites"][0]["site"];
  Sql("INSERT INTO egress_events (node, source_name, source_ip, site, action, reply, until) "
      "VALUES ('test', 'lo', '127.0.0.1', '" + site + "', 'suspended', '421 4.7.0 try later', "
      "now() + interval '4 hours')");
  r = Postino({"campaign", "status", "c"});
  EXPECT_TRUE(r.out.find("eta 4h00m") != std::string::npos ||
              r.out.find("eta 3h59m") != std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("suspended until"), std::string::npos) << r.out;
}

TEST_F(MarketerCliTest, HtmlReportRendersInChromiumAndCsvHasNoTotalsRow) {
  Script script;
  script.override = [](std::string_view verb, std::string_view arg, int) -> std::optional<Step> {
    if (verb == "RCPT" && arg.find("example.org") != std::string_view::npos) {
      return Step{"550 5.1.1 5.1.1 no such user"};
    }
    return std::nullopt;
  };
  FakeMx mx(script);
  Setup(mx.port());
  ASSERT_EQ(Create("c").exit_code, 0);
  ASSERT_EQ(Postino({"campaign", "launch", "c"}).exit_code, 0);
  ProcessResult run = Postino({"run", "--until-idle"});
  ASSERT_EQ(run.exit_code, 0) << run.err;
  Sql("INSERT INTO egress_events (at, node, source_name, source_ip, site, action, reply, until) "
      "SELECT min(at), 'test', 'lo', '127.0.0.1', 'mx.example', 'suspended', '421 <b>busy</b>', "
      "now() + interval '1 hour' FROM delivery_events");

  ProcessResult table = Postino({"campaign", "report", "c"});
  ASSERT_EQ(table.exit_code, 0) << table.err;
  EXPECT_NE(table.out.find("550 5.1.1 no such user"), std::string::npos) << table.out;
  EXPECT_EQ(table.out.find("5.1.1 5.1.1"), std::string::npos) << table.out;
  EXPECT_EQ(table.out.find("<n>"), std::string::npos) << table.out;
  ProcessResult csv = Postino({"campaign", "report", "c", "--format", "csv"});
  EXPECT_EQ(csv.out.find("\n*,"), std::string::npos) << csv.out;
  EXPECT_NE(csv.out.find("\nexample.com,1,1,"), std::string::npos) << csv.out;

  std::string artefacts = BinaryDir() + "/test-artifacts";
  mkdir(artefacts.c_str(), 0755);
  std::string page = artefacts + "/campaign_report.html";
  ProcessResult html = Postino({"campaign", "report", "c", "--format", "html", "--out", page});
  ASSERT_EQ(html.exit_code, 0) << html.err;
  std::ifstream in(page);
  std::stringstream ss;
  ss << in.rdbuf();
  std::string text = ss.str();
  EXPECT_NE(text.find("<svg"), std::string::npos);
  EXPECT_EQ(text.find("<script"), std::string::npos);
  EXPECT_EQ(text.find("<b>busy</b>"), std::string::npos) << "peer text not escaped";
  EXPECT_NE(text.find("class=\"suspension\""), std::string::npos);
  // Nothing fetched: the only URL is the SVG namespace.
  size_t pos = 0;
  while ((pos = text.find("http", pos)) != std::string::npos) {
    EXPECT_EQ(text.compare(pos, 26, "http://www.w3.org/2000/svg"), 0) << text.substr(pos, 60);
    ++pos;
  }

  if (access("/usr/bin/chromium", X_OK) != 0) GTEST_SKIP() << "chromium not installed";
  std::string profile = MakeTempDir("chromium-profile");
  std::vector<std::string> common = {"/usr/bin/chromium", "--headless", "--no-sandbox",
                                     "--disable-gpu", "--disable-background-networking",
                                     "--disable-component-update", "--disable-sync",
                                     "--no-first-run", "--user-data-dir=" + profile,
                                     "--enable-logging=stderr", "--v=0"};
  std::vector<std::string> shot = common;
  shot.push_back("--window-size=1000,1400");
  shot.push_back("--screenshot=" + artefacts + "/campaign_report.png");
  shot.push_back("file://" + page);
  ProcessResult s = RunProcess(shot);
  EXPECT_EQ(s.exit_code, 0) << s.err;
  EXPECT_EQ(s.err.find("Uncaught"), std::string::npos) << s.err;
  EXPECT_EQ(s.err.find(":CONSOLE("), std::string::npos) << s.err;
  struct stat st {};
  ASSERT_EQ(stat((artefacts + "/campaign_report.png").c_str(), &st), 0) << s.err;
  EXPECT_GT(st.st_size, 10000);
  std::vector<std::string> dump = common;
  dump.push_back("--dump-dom");
  dump.push_back("file://" + page);
  ProcessResult d = RunProcess(dump);
  EXPECT_EQ(d.exit_code, 0) << d.err;
  for (const char* id : {"id=\"curve\"", "id=\"domains\"", "id=\"sources\"", "id=\"bounce-reasons\"",
                         "id=\"path-events\"", "class=\"series-delivered\""}) {
    EXPECT_NE(d.out.find(id), std::string::npos) << id;
  }
}

}  // namespace
}  // namespace postino::testing
