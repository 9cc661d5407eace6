// campaign_flow_test.cc: the first delivery path end to end, through the
// real `postino` binary, a real PostgreSQL and a real smtp-sink.
#include <fmt/format.h>
#include <signal.h>

#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <set>
#include <thread>

#include <nlohmann/json.hpp>

#include "tests/integration/postino_fixture.h"
#include "tests/support/testdata.h"

namespace postino::testing {
namespace {

using std::chrono::seconds;

class CampaignFlowTest : public PostinoTest {};

TEST_F(CampaignFlowTest, MigrationsRunTwiceAreANoop) {
  WriteConfig(2525);
  ProcessResult first = Postino({"db", "migrate"});
  ASSERT_EQ(first.exit_code, 0) << first.err;
  EXPECT_NE(first.out.find("applied migration 1"), std::string::npos) << first.out;
  std::string versions = Sql("SELECT string_agg(version::text, ',') FROM schema_migrations");
  ProcessResult second = Postino({"db", "migrate"});
  ASSERT_EQ(second.exit_code, 0) << second.err;
  EXPECT_NE(second.out.find("up to date"), std::string::npos) << second.out;
  EXPECT_EQ(Sql("SELECT string_agg(version::text, ',') FROM schema_migrations"), versions);
}

TEST_F(CampaignFlowTest, RefusesASchemaNewerThanItKnows) {
  WriteConfig(2525);
  ASSERT_EQ(Postino({"db", "migrate"}).exit_code, 0);
  Sql("INSERT INTO schema_migrations (version, name) VALUES (9999, 'from the future')");
  ProcessResult r = Postino({"db", "migrate"});
  EXPECT_EQ(r.exit_code, 4);
  EXPECT_NE(r.err.find("newer than this postino knows"), std::string::npos) << r.err;
  ProcessResult ls = Postino({"list", "ls"});
  EXPECT_EQ(ls.exit_code, 4) << ls.err;
}

TEST_F(CampaignFlowTest, ImportKeepsGoodRowsAndReportsBadOnesByLine) {
  WriteConfig(2525);
  ASSERT_EQ(Postino({"db", "migrate"}).exit_code, 0);
  std::string csv = Write("bad.csv",
                          "\xEF\xBB\xBF" "email,first_name,note\r\n"
                          "good1@example.com,Ann,\"hello, world\"\r\n"   // line 2
                          "not-an-address,Bob,x\r\n"                    // line 3
                          "good2@Example.ORG,Céline,\"multi\nline\"\r\n" // lines 4-5
                          "good3@example.net,Too,many,fields\r\n"       // line 6
                          "GOOD1@example.com,Ann again,dup\r\n"          // line 7
                          "x@exa mple.com,Sp,ace\r\n"                   // line 8
                          "good4@bücher.example,Jürgen,idn\r\n");       // line 9
  ProcessResult r = Postino({"list", "import", "news", csv});
  EXPECT_EQ(r.exit_code, 5) << r.out << r.err;  // partly rejected
  EXPECT_NE(r.err.find("bad.csv:3: invalid address \"not-an-address\": missing '@'"),
            std::string::npos)
      << r.err;
  EXPECT_NE(r.err.find("bad.csv:6: expected 3 fields"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("bad.csv:7: duplicate of line 2"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("bad.csv:8: invalid address"), std::string::npos) << r.err;
  EXPECT_NE(r.out.find("3 invalid"), std::string::npos) << r.out;
  EXPECT_EQ(Sql("SELECT count(*) FROM subscribers"), "3");
  EXPECT_EQ(Sql("SELECT count(*) FROM list_members"), "3");
  EXPECT_EQ(Sql("SELECT email FROM subscribers WHERE email LIKE 'good2%'"), "good2@example.org");
  EXPECT_EQ(Sql("SELECT email FROM subscribers WHERE email LIKE 'good4%'"),
            "good4@xn--bcher-kva.example");
  EXPECT_EQ(Sql("SELECT attributes->>'note' FROM subscribers WHERE email LIKE 'good2%'"),
            "multi\nline");
  // The later duplicate row's attributes win.
  EXPECT_EQ(Sql("SELECT attributes->>'first_name' FROM subscribers WHERE email_key = "
                "'good1@example.com'"),
            "Ann again");
}

TEST_F(CampaignFlowTest, DryRunWritesNothing) {
  WriteConfig(2525);
  ASSERT_EQ(Postino({"db", "migrate"}).exit_code, 0);
  ProcessResult r = Postino({"list", "import", "news", WriteRecipients(10), "--dry-run"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("dry run"), std::string::npos);
  EXPECT_EQ(Sql("SELECT count(*) FROM subscribers"), "0");
  EXPECT_EQ(Sql("SELECT count(*) FROM lists"), "0");
}

TEST_F(CampaignFlowTest, TwoThousandRecipientsAreEachDeliveredExactlyOnce) {
  SmtpSink sink;
  WriteConfig(sink.port());
  ASSERT_EQ(Postino({"db", "migrate"}).exit_code, 0);
  ProcessResult imp = Postino({"list", "import", "news", WriteRecipients(2000)});
  ASSERT_EQ(imp.exit_code, 0) << imp.err;
  AddTemplate();
  ProcessResult create = Postino({"campaign", "create", "nov", "--list", "news", "--template", "t",
                                  "--from", "Postino <news@news.example.com>"});
  ASSERT_EQ(create.exit_code, 0) << create.err;
  ProcessResult launch = Postino({"campaign", "launch", "nov"});
  ASSERT_EQ(launch.exit_code, 0) << launch.err;
  EXPECT_NE(launch.out.find("2000 recipients"), std::string::npos) << launch.out;

  ProcessResult run = Postino({"run", "--until-idle"});
  ASSERT_EQ(run.exit_code, 0) << run.err;

  EXPECT_EQ(Sql("SELECT status || ':' || count(*) FROM deliveries GROUP BY status"),
            "delivered:2000");
  EXPECT_EQ(Sql("SELECT count(*) FROM delivery_events WHERE status = 'delivered' AND "
                "smtp_code = 250 AND attempt = 1"),
            "2000");
  EXPECT_EQ(Sql("SELECT count(*) FROM deliveries WHERE lease_owner IS NOT NULL OR message_id IS "
                "NULL OR source_ip <> '127.0.0.1'"),
            "0");
  EXPECT_EQ(Sql("SELECT count(DISTINCT message_id) FROM deliveries"), "2000");
  EXPECT_EQ(Sql("SELECT status FROM campaigns WHERE name = 'nov'"), "finished");

  std::vector<std::string> rcpts = sink.Recipients();
  std::set<std::string> unique(rcpts.begin(), rcpts.end());
  EXPECT_EQ(rcpts.size(), 2000u);
  EXPECT_EQ(unique.size(), 2000u);
  EXPECT_TRUE(unique.count("user1@example.org"));
  EXPECT_TRUE(unique.count("user2@xn--mnchen-3ya.example"));

  ProcessResult report = Postino({"campaign", "report", "nov", "--format", "csv"});
  ASSERT_EQ(report.exit_code, 0) << report.err;
  // Domain rows only: no "*" totals row mixed in (issue 14).
  EXPECT_EQ(report.out.find("\n*,"), std::string::npos) << report.out;
  EXPECT_NE(report.out.find("example.com,667,667,"), std::string::npos) << report.out;
  ProcessResult json = Postino({"campaign", "report", "nov", "--format", "json"});
  EXPECT_NE(json.out.find("\"delivered\": 2000"), std::string::npos) << json.out;
  ProcessResult status = Postino({"campaign", "status", "nov"});
  EXPECT_NE(status.out.find("nov: finished 2000/2000 done"), std::string::npos) << status.out;
  ProcessResult sj = Postino({"campaign", "status", "nov", "--format", "json"});
  ASSERT_EQ(sj.exit_code, 0) << sj.err;
  nlohmann::json st = nlohmann::json::parse(sj.out, nullptr, false);
  ASSERT_TRUE(st.is_object()) << sj.out;
  EXPECT_EQ(st["campaign"], "nov");
  EXPECT_EQ(st["status"], "finished");
  EXPECT_EQ(st["total"], 2000);
  EXPECT_EQ(st["delivered"], 2000);
  EXPECT_EQ(st["pending"], 0);
  EXPECT_TRUE(st["finished_at"].is_string()) << sj.out;
  EXPECT_TRUE(st["eta_seconds"].is_null()) << sj.out;
  EXPECT_NE(Postino({"campaign", "status", "nov", "--format", "yaml"}).exit_code, 0);
}

TEST_F(CampaignFlowTest, SigtermHalfwayThenUntilIdleFinishesWithNoRecipientLost) {
  // A sink that stalls 1 s before answering DATA on 5% of transactions,
  // and two connections: the campaign takes several seconds.
  SmtpSink sink({"-W", "DATA:1:5"});
  WriteConfig(sink.port(), "[limits]\nmax_connections = 2\n");
  ASSERT_EQ(Postino({"db", "migrate"}).exit_code, 0);
  ASSERT_EQ(Postino({"list", "import", "news", WriteRecipients(400)}).exit_code, 0);
  AddTemplate();
  ASSERT_EQ(Postino({"campaign", "create", "c", "--list", "news", "--template", "t", "--from",
                     "news@news.example.com"})
                .exit_code,
            0);
  ASSERT_EQ(Postino({"campaign", "launch", "c"}).exit_code, 0);

  auto engine = StartPostino({"run"}, "run1.log");
  auto deadline = std::chrono::steady_clock::now() + seconds(60);
  while (std::stoi(Sql("SELECT count(*) FROM deliveries WHERE status = 'delivered'")) < 40) {
    ASSERT_LT(std::chrono::steady_clock::now(), deadline) << "no progress";
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  engine->Signal(SIGTERM);
  EXPECT_EQ(engine->Wait(seconds(60)), 0);
  int delivered_at_stop = std::stoi(Sql("SELECT count(*) FROM deliveries WHERE status = 'delivered'"));
  EXPECT_LT(delivered_at_stop, 400) << "the campaign finished before SIGTERM; slow the sink";
  EXPECT_EQ(Sql("SELECT count(*) FROM deliveries WHERE lease_owner IS NOT NULL"), "0")
      << "a clean stop gives every claimed row back";
  EXPECT_EQ(Sql("SELECT status FROM campaigns"), "running");

  ProcessResult rest = Postino({"run", "--until-idle"});
  ASSERT_EQ(rest.exit_code, 0) << rest.err;
  EXPECT_EQ(Sql("SELECT status || ':' || count(*) FROM deliveries GROUP BY status"),
            "delivered:400");
  EXPECT_EQ(Sql("SELECT status FROM campaigns"), "finished");
  std::vector<std::string> rcpts = sink.Recipients();
  std::set<std::string> unique(rcpts.begin(), rcpts.end());
  EXPECT_EQ(unique.size(), 400u);
  EXPECT_EQ(rcpts.size(), 400u) << "a clean SIGTERM must not cause duplicates";
  EXPECT_EQ(Sql("SELECT count(*) FROM delivery_events"), "400");
}

// Keys made by `postino dkim keygen`, messages signed by `postino run`,
// verified at the sink by python3-dkim (dkimpy), an implementation nobody
// here wrote.
TEST_F(CampaignFlowTest, DeliveredMessagesCarryValidRsaAndEd25519Signatures) {
  if (access("/usr/bin/python3", X_OK) != 0 ||
      RunProcess({"/usr/bin/python3", "-c", "import dkim"}).exit_code != 0) {
    GTEST_SKIP() << "python3-dkim is not installed (deploy/install-deps.sh installs it)";
  }
  std::string msg_dir = MakeTempDir("postino-msgs");
  SmtpSink sink({"-d", msg_dir + "/m."});
  std::string records;
  for (const char* algo : {"rsa", "ed25519"}) {
    ProcessResult k = Postino({"dkim", "keygen", "--domain", "news.example.com", "--selector",
                               std::string("s-") + algo, "--algo", algo, "--out",
                               dir_ + "/" + algo + ".pem"});
    ASSERT_EQ(k.exit_code, 0) << k.err;
    records += k.out;
    struct stat st {};
    ASSERT_EQ(stat((dir_ + "/" + algo + ".pem").c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 0777, 0600u);
  }
  ProcessResult again = Postino({"dkim", "keygen", "--domain", "news.example.com", "--selector",
                                 "s-rsa", "--out", dir_ + "/rsa.pem"});
  EXPECT_NE(again.exit_code, 0) << "an existing key file must never be overwritten";
  std::string records_path = Write("records.txt", records);
  WriteConfig(sink.port(), fmt::format(R"(
[dkim]
[[dkim.keys]]
domain = "news.example.com"
selector = "s-rsa"
algorithm = "rsa-sha256"
key_file = "{0}/rsa.pem"
[[dkim.keys]]
domain = "news.example.com"
selector = "s-ed25519"
algorithm = "ed25519-sha256"
key_file = "{0}/ed25519.pem"
)",
                                       dir_));
  ASSERT_EQ(Postino({"db", "migrate"}).exit_code, 0);
  // Hostile and awkward values: non-ASCII subject, dot-leading and long lines.
  std::string csv =
      "email,first_name,city\n"
      "a@example.com,Zoë,\"Roma\n.dot line\"\n"
      "b@example.org,\"x\r\nBcc: victim@evil.example\",München\n"
      "c@example.net,李," + std::string(300, 'L') + "\n";
  ASSERT_EQ(Postino({"list", "import", "news", Write("dk.csv", csv)}).exit_code, 0);
  AddTemplate();
  ASSERT_EQ(Postino({"campaign", "create", "signed", "--list", "news", "--template", "t",
                     "--from", "Notizie <news@news.example.com>"})
                .exit_code,
            0);
  ASSERT_EQ(Postino({"campaign", "launch", "signed"}).exit_code, 0);
  ProcessResult run = Postino({"run", "--until-idle"});
  ASSERT_EQ(run.exit_code, 0) << run.err;
  EXPECT_EQ(Sql("SELECT count(*) FROM deliveries WHERE status = 'delivered'"), "3");

  int verified = 0;
  for (const auto& entry : std::filesystem::directory_iterator(msg_dir)) {
    std::string raw = ReadFile(entry.path());
    // smtp-sink writes LF line ends and prepends its own (unsigned) fields.
    std::string crlf;
    for (char c : raw) {
      if (c == '\n') crlf += '\r';
      crlf += c;
    }
    std::string header = crlf.substr(0, crlf.find("\r\n\r\n"));
    EXPECT_EQ(header.find("\nBcc:"), std::string::npos) << "header injection through an attribute";
    std::string path = Write("verify.eml", crlf);
    ProcessResult v = RunProcess({"/usr/bin/python3",
                                  SourceDir() + "/tests/unit/templates/dkim_verify.py", path,
                                  records_path});
    EXPECT_EQ(v.exit_code, 0) << v.out << v.err << crlf.substr(0, 3000);
    EXPECT_NE(v.out.find("\"count\": 2"), std::string::npos) << v.out;
    ++verified;
  }
  EXPECT_EQ(verified, 3);
}

TEST_F(CampaignFlowTest, TemplatePreviewRendersOneRecipient) {
  WriteConfig(2525);
  ASSERT_EQ(Postino({"db", "migrate"}).exit_code, 0);
  ASSERT_EQ(Postino({"list", "import", "news", Write("p.csv", "email,first_name,city\n"
                                                              "anna@example.com,Anna,Roma\n")})
                .exit_code,
            0);
  std::string html = Write("p.html", "<p>{{first_name}} {{missing | default: \"amico\"}}</p>\n");
  std::string text = Write("p.txt", "Ciao {{first_name}} da {{city}}\n{{unsubscribe_url}}\n");
  ASSERT_EQ(Postino({"template", "add", "p", "--subject", "Novità per {{first_name}}", "--html",
                     html, "--text", text})
                .exit_code,
            0);
  ProcessResult r = Postino({"template", "preview", "p", "--email", "anna@example.com"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("To: anna@example.com"), std::string::npos) << r.out;
  // Decoded (issue 14); --raw gives the MIME message as sent.
  EXPECT_NE(r.out.find("Subject: Novità per Anna"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("Ciao Anna da Roma"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("https://news.example.com/u?t="), std::string::npos) << r.out;
  ProcessResult raw = Postino({"template", "preview", "p", "--email", "anna@example.com", "--raw"});
  EXPECT_NE(raw.out.find("Subject: =?UTF-8?"), std::string::npos) << raw.out;
  EXPECT_NE(raw.out.find("List-Unsubscribe-Post: List-Unsubscribe=One-Click"), std::string::npos);
  ProcessResult unknown = Postino({"template", "preview", "p", "--email", "nobody@example.com"});
  EXPECT_EQ(unknown.exit_code, 6);
}

TEST_F(CampaignFlowTest, UntilIdleWithNothingToDoExitsZero) {
  WriteConfig(2525);
  ASSERT_EQ(Postino({"db", "migrate"}).exit_code, 0);
  ProcessResult r = Postino({"run", "--until-idle"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
}

TEST_F(CampaignFlowTest, BadInputGetsClearMessagesAndExitCodes) {
  WriteConfig(2525);
  ASSERT_EQ(Postino({"db", "migrate"}).exit_code, 0);
  ProcessResult missing = Postino({"campaign", "create", "x", "--list", "nope", "--template", "t",
                                   "--from", "a@example.com"});
  EXPECT_EQ(missing.exit_code, 6);
  EXPECT_NE(missing.err.find("no list named \"nope\""), std::string::npos) << missing.err;
  ProcessResult bad_from = Postino({"campaign", "create", "x", "--list", "nope", "--template", "t",
                                    "--from", "Broken <no-at>"});
  EXPECT_EQ(bad_from.exit_code, 2);
  EXPECT_NE(bad_from.err.find("--from"), std::string::npos) << bad_from.err;
  ProcessResult no_file = Postino({"list", "import", "l", dir_ + "/absent.csv"});
  EXPECT_EQ(no_file.exit_code, 6);
  std::string no_email = Write("no-email.csv", "name,city\nAnn,Roma\n");
  ProcessResult r = Postino({"list", "import", "l", no_email});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("no `email` column"), std::string::npos) << r.err;
  std::string bad_tpl = Write("bad.html", "<p>{{#items}}never closed</p>\n");
  std::string txt = Write("ok.txt", "hi\n");
  ProcessResult t = Postino({"template", "add", "bad", "--subject", "s", "--html", bad_tpl,
                             "--text", txt});
  EXPECT_EQ(t.exit_code, 2);
  EXPECT_NE(t.err.find("bad.html:1:"), std::string::npos) << t.err;
  EXPECT_EQ(Sql("SELECT count(*) FROM templates"), "0");
  ProcessResult usage = Postino({"campaign", "launch"});
  EXPECT_EQ(usage.exit_code, 2);
}

TEST_F(CampaignFlowTest, BadConfigFailsAtStartWithFileLineAndKey) {
  Write("postino.toml", "[database]\nurl = \"postgresql:///x\"\n\n[limits]\nmax_conections = 5\n");
  ProcessResult r = Postino({"list", "ls"});
  EXPECT_EQ(r.exit_code, 3);
  EXPECT_NE(r.err.find("postino.toml:5:"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("max_conections"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace postino::testing
