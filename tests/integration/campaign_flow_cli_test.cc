// campaign_flow_cli_test.cc: what the `postino` binary refuses or prints
// for hostile or ambiguous input (issue 11 items 4, 13, 14, 16): reply texts
// with terminal escapes are stored as received and printed escaped; bad
// extra headers, ambiguous durations and skipped local times are refused at
// `campaign create`; an unsubscribe URL without a secret and a [submission]
// table are refused at config load. Real binary, PostgreSQL and fake MX.
#include <fmt/format.h>

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "tests/fakemx/fake_mx.h"
#include "tests/integration/postino_fixture.h"

namespace postino::testing {
namespace {

using fakemx::FakeMx;
using fakemx::Script;
using fakemx::Step;

class CampaignCliTest : public PostinoTest {
 protected:
  ProcessResult Create(const std::vector<std::string>& extra) {
    std::vector<std::string> args = {"campaign", "create", "c",      "--list",
                                     "news",     "--template", "t", "--from",
                                     "News <news@news.example.com>"};
    args.insert(args.end(), extra.begin(), extra.end());
    return Postino(args);
  }
};

TEST_F(CampaignCliTest, ReplyWithTerminalEscapesIsStoredAsReceivedAndPrintedEscaped) {
  Script script;
  script.rcpt = Step{"550 5.1.1 \x1b[31mno such user\x1b[0m here"};
  FakeMx mx(script);
  WriteConfig(mx.port());
  ASSERT_EQ(Postino({"db", "migrate"}).exit_code, 0);
  ASSERT_EQ(Postino({"list", "import", "news", WriteRecipients(3)}).exit_code, 0);
  AddTemplate();
  ProcessResult create = Create({});
  ASSERT_EQ(create.exit_code, 0) << create.err;
  ASSERT_EQ(Postino({"campaign", "launch", "c"}).exit_code, 0);
  ProcessResult run = Postino({"run", "--until-idle"});
  ASSERT_EQ(run.exit_code, 0) << run.err;
  EXPECT_EQ(run.err.find('\x1b'), std::string::npos) << "a log line printed a raw ESC";

  // Stored faithfully.
  EXPECT_EQ(Sql("SELECT count(*) FROM delivery_events WHERE position(chr(27) in reply) > 0"), "3");
  // Printed escaped, in every text format.
  for (const char* format : {"table", "csv", "json"}) {
    ProcessResult report = Postino({"campaign", "report", "c", "--format", format});
    ASSERT_EQ(report.exit_code, 0) << report.err;
    EXPECT_EQ(report.out.find('\x1b'), std::string::npos) << format << ":\n" << report.out;
    if (std::string(format) == "table") {
      EXPECT_NE(report.out.find("\\x1b[31mno such user\\x1b[0m here"), std::string::npos)
          << report.out;
    }
    if (std::string(format) == "json") {
      EXPECT_NE(report.out.find("\\u001b[31mno such user"), std::string::npos) << report.out;
    }
  }
  // The suppression list's detail and a path event's reply, too.
  ProcessResult sup = Postino({"suppress", "ls"});
  ASSERT_EQ(sup.exit_code, 0) << sup.err;
  EXPECT_EQ(sup.out.find('\x1b'), std::string::npos) << sup.out;
  if (Sql("SELECT count(*) FROM suppressions WHERE position(chr(27) in detail) > 0") != "0") {
    EXPECT_NE(sup.out.find("\\x1b[31m"), std::string::npos) << sup.out;
  }
  Sql("INSERT INTO egress_events (node, source_name, source_ip, site, action, reply, until) "
      "VALUES ('test', 'lo', '127.0.0.1', 'mx.example', 'suspended', "
      "'421 ' || chr(27) || '[2Jblocked', now() + interval '1 hour')");
  ProcessResult sources = Postino({"sources", "--events", "5"});
  ASSERT_EQ(sources.exit_code, 0) << sources.err;
  EXPECT_EQ(sources.out.find('\x1b'), std::string::npos) << sources.out;
  EXPECT_NE(sources.out.find("421 \\x1b[2Jblocked"), std::string::npos) << sources.out;
  // The same as JSON: the path in force under its source, the event, the ESC
  // escaped by JSON itself.
  ProcessResult sj = Postino({"sources", "--events", "5", "--format", "json"});
  ASSERT_EQ(sj.exit_code, 0) << sj.err;
  EXPECT_EQ(sj.out.find('\x1b'), std::string::npos) << sj.out;
  nlohmann::json js = nlohmann::json::parse(sj.out, nullptr, false);
  ASSERT_TRUE(js.is_object()) << sj.out;
  ASSERT_FALSE(js["sources"].empty()) << sj.out;
  bool found = false;
  for (const auto& src : js["sources"]) {
    for (const auto& path : src["paths"]) {
      if (path["site"] == "mx.example" && path["action"] == "suspended") {
        found = true;
        EXPECT_EQ(path["reply"], "421 \x1b[2Jblocked");
        EXPECT_TRUE(path["until"].is_string());
      }
    }
  }
  EXPECT_TRUE(found) << sj.out;
  ASSERT_FALSE(js["events"].empty()) << sj.out;
  EXPECT_EQ(js["events"][0]["action"], "suspended");
}

TEST_F(CampaignCliTest, CreateRefusesBadHeadersDurationsAndTimes) {
  WriteConfig(2525);
  ASSERT_EQ(Postino({"db", "migrate"}).exit_code, 0);
  ASSERT_EQ(Postino({"list", "import", "news", WriteRecipients(1)}).exit_code, 0);
  AddTemplate();
  struct Case {
    std::vector<std::string> args;
    std::string message;
  };
  const std::vector<Case> cases = {
      {{"--header", "Bcc: spy@example.com"}, "header \"Bcc\" cannot be set"},
      {{"--header", "X-Note: a\x1b[2Jb"}, "control character"},
      {{"--header", "Content-Type: text/plain"}, "cannot be set"},
      {{"--max-age", "3"}, "--max-age \"3\": a number without a unit is ambiguous"},
      {{"--max-age", "400d"}, "longer than the maximum of 365d"},
      {{"--at", "2027-03-28 02:30 Europe/Rome"}, "does not exist in Europe/Rome"},
      {{"--at", "2020-01-01 09:00 UTC"}, "is in the past"},
  };
  for (const Case& c : cases) {
    ProcessResult r = Create(c.args);
    EXPECT_EQ(r.exit_code, 2) << c.args[1] << ": " << r.err;
    EXPECT_NE(r.err.find(c.message), std::string::npos) << c.args[1] << ": " << r.err;
    EXPECT_EQ(r.err.find('\x1b'), std::string::npos) << r.err;
  }
  EXPECT_EQ(Sql("SELECT count(*) FROM campaigns"), "0");

  ProcessResult ok = Create({"--max-age", "1h30m", "--at", "2099-01-05T09:00+01:00", "--header",
                             "X-Campaign: spring"});
  ASSERT_EQ(ok.exit_code, 0) << ok.err;
  EXPECT_NE(ok.out.find("scheduled for 2099-01-05 08:00:00 UTC"), std::string::npos) << ok.out;
  EXPECT_EQ(Sql("SELECT extract(epoch FROM max_age)::int FROM campaigns WHERE name = 'c'"), "5400");
}

TEST_F(CampaignCliTest, UnsubscribeWithoutSecretAndSubmissionAreConfigErrors) {
  Write("postino.toml", fmt::format("[database]\nurl = \"{}\"\n\n[unsubscribe]\nurl_base = "
                                    "\"https://news.example.com/u\"\n",
                                    db_url_));
  ProcessResult r = Postino({"list", "ls"});
  EXPECT_EQ(r.exit_code, 3);
  EXPECT_NE(r.err.find("postino.toml:5:12: unsubscribe.url_base: needs a secret"),
            std::string::npos)
      << r.err;
  Write("postino.toml",
        fmt::format("[database]\nurl = \"{}\"\n\n[submission]\nlisten = [\"127.0.0.1:5870\"]\n",
                    db_url_));
  r = Postino({"list", "ls"});
  EXPECT_EQ(r.exit_code, 3);
  // A listener without its certificate is refused, naming the key.
  EXPECT_NE(r.err.find("cert_file"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace postino::testing
