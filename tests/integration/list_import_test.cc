// list_import_test.cc: `postino list import` on hostile and foreign input
// (issue 11 items 9, 10, 11): bounded nesting, columns and row sizes with
// clear errors, Latin-1 and semicolon files, addresses the run could not
// send; and a `failed` recipient shown in `campaign report` and the views.
#include <fmt/format.h>
#include <sys/resource.h>

#include <chrono>
#include <fstream>

#include "tests/integration/postino_fixture.h"

namespace postino::testing {
namespace {

class ListImportTest : public PostinoTest {
 protected:
  void SetUp() override {
    PostinoTest::SetUp();
    WriteConfig(2525);
    ASSERT_EQ(Postino({"db", "migrate"}).exit_code, 0);
  }
};

// Regression: 100,000 dotted parts crashed (recursion in the JSON dump),
// 20,000-50,000 aborted in PostgreSQL ("stack depth limit exceeded").
TEST_F(ListImportTest, DeeplyDottedColumnIsAHeaderErrorNotACrash) {
  std::string name = "a";
  for (int i = 1; i < 100000; ++i) name += ".a";
  std::string csv = Write("deep.csv", "email," + name + "\nx@example.com,v\n");
  ProcessResult r = Postino({"list", "import", "news", csv});
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_EQ(r.signal, 0);
  EXPECT_NE(r.err.find("deep.csv:1: header column 2 (\"a.a.a.a."), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("(199999 bytes)\") nests attributes more than 16 levels deep (the limit): "
                       "use at most 15 dots in a column name"),
            std::string::npos)
      << r.err;
  EXPECT_EQ(Sql("SELECT count(*) FROM subscribers"), "0");

  // 16 levels are fine and nest as documented.
  std::string ok = "l1";
  for (int i = 2; i <= 16; ++i) ok += fmt::format(".l{}", i);
  csv = Write("ok.csv", "email," + ok + "\nx@example.com,deep\n");
  r = Postino({"list", "import", "news", csv});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(Sql("SELECT attributes #>> '{l1,l2,l3,l4,l5,l6,l7,l8,l9,l10,l11,l12,l13,l14,l15,l16}' "
                "FROM subscribers"),
            "deep");
}

TEST_F(ListImportTest, ColumnThatWouldNestInsideAValueIsAHeaderError) {
  std::string csv = Write("clash.csv", "email,city,city.name\nx@example.com,Roma,Roma\n");
  ProcessResult r = Postino({"list", "import", "news", csv});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("clash.csv:1: header column \"city.name\" would nest inside column "
                       "\"city\", which holds a value"),
            std::string::npos)
      << r.err;
  csv = Write("two.csv", "Email,name,EMAIL\nx@example.com,X,y@example.com\n");
  r = Postino({"list", "import", "news", csv});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("two.csv:1: two `email` columns (\"Email\" and \"EMAIL\"); keep one"),
            std::string::npos)
      << r.err;
}

// Regression: a 30 MB row of commas took 1.06 GB of memory.
TEST_F(ListImportTest, ThirtyMegabyteRowIsRejectedInBoundedMemoryAndOtherRowsKept) {
  std::string path = dir_ + "/commas.csv";
  {
    std::ofstream out(path, std::ios::binary);
    out << "email,name\nok1@example.com,Ann\n";
    std::string chunk(1 << 20, ',');
    for (int i = 0; i < 30; ++i) out << chunk;
    out << "\nok2@example.com,Bob\n";
  }
  ProcessResult r = Postino({"list", "import", "news", path});
  rusage children{};
  getrusage(RUSAGE_CHILDREN, &children);
  EXPECT_EQ(r.exit_code, 5) << r.err;
  EXPECT_NE(r.err.find("commas.csv:3: more than 1000 fields in one row (the limit): remove unused "
                       "columns"),
            std::string::npos)
      << r.err;
  EXPECT_EQ(Sql("SELECT string_agg(email, ',' ORDER BY email) FROM subscribers"),
            "ok1@example.com,ok2@example.com");
  // The largest child this test process waited for (postino, psql, ...).
  EXPECT_LT(children.ru_maxrss, 300L * 1024) << "KiB: the import buffered the giant row";
}

// Regression: the duplicate check was quadratic (100,000 columns: 41 s).
TEST_F(ListImportTest, HugeHeadersFailFastAndDuplicatesAreNamed) {
  std::string header = "email";
  for (int i = 1; i < 100000; ++i) header += fmt::format(",c{}", i);
  std::string csv = Write("wide.csv", header + "\nx@example.com\n");
  auto start = std::chrono::steady_clock::now();
  ProcessResult r = Postino({"list", "import", "news", csv});
  // The reader alone takes well under 1 s (csv_test); this includes starting
  // an ASan binary on 2 busy cores. Before the fix: 41 s (release build).
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(3));
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("wide.csv:1: header row: more than 1000 fields in one row (the limit)"),
            std::string::npos)
      << r.err;

  header = "email";
  for (int i = 1; i < 999; ++i) header += fmt::format(",c{}", i);
  header += ",c500";
  csv = Write("dup.csv", header + "\n");
  r = Postino({"list", "import", "news", csv});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("dup.csv:1: header column \"c500\" appears twice (columns 501 and 1000)"),
            std::string::npos)
      << r.err;
}

// Regression: "[json.exception.type_error.316] incomplete UTF-8 string".
TEST_F(ListImportTest, Latin1FileIsExplainedAndImportsWithEncodingLatin1) {
  std::string csv = Write("latin1.csv",
                          "email,first_name,city\n"
                          "celine@example.com,C\xE9line,Z\xFCrich\n"
                          "bob@example.com,Bob,Roma\n"
                          "zoe@example.com,Zo\xEB,Roma\n");
  ProcessResult r = Postino({"list", "import", "news", csv});
  EXPECT_EQ(r.exit_code, 5);
  EXPECT_EQ(r.err.find("json.exception"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("latin1.csv:2: not UTF-8: byte 0xE9 at line 2, byte offset 42"),
            std::string::npos)
      << r.err;
  EXPECT_NE(r.err.find("import it with --encoding latin1"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("latin1.csv:4: not UTF-8: byte 0xEB at line 4"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("(see --encoding above)"), std::string::npos) << r.err;
  EXPECT_EQ(Sql("SELECT email FROM subscribers"), "bob@example.com");

  r = Postino({"list", "import", "news", csv, "--encoding", "latin1"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(Sql("SELECT attributes->>'first_name' || ' ' || (attributes->>'city') FROM subscribers "
                "WHERE email = 'celine@example.com'"),
            "Céline Zürich");

  std::string cp = Write("cp1252.csv", "email,price\nx@example.com,\x80 5\ny@example.com,\x81\n");
  r = Postino({"list", "import", "news", cp, "--encoding", "windows-1252"});
  EXPECT_EQ(r.exit_code, 5);
  EXPECT_NE(r.err.find("cp1252.csv:3: column \"price\": byte 0x81 at position 1 is not a "
                       "windows-1252 character"),
            std::string::npos)
      << r.err;
  EXPECT_EQ(Sql("SELECT attributes->>'price' FROM subscribers WHERE email = 'x@example.com'"),
            "€ 5");
  r = Postino({"list", "import", "news", cp, "--encoding", "ebcdic"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("use utf-8, latin1 or windows-1252"), std::string::npos) << r.err;
}

// Regression: a semicolon file only said there was no `email` column.
TEST_F(ListImportTest, SemicolonFileGetsAHintAndImportsWithDelimiter) {
  std::string csv = Write("semi.csv", "email;first_name\nann@example.com;Ann\n");
  ProcessResult r = Postino({"list", "import", "news", csv});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("the file looks semicolon-separated: use --delimiter ';'"),
            std::string::npos)
      << r.err;
  r = Postino({"list", "import", "news", csv, "--delimiter", ";"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(Sql("SELECT attributes->>'first_name' FROM subscribers"), "Ann");

  std::string tsv = Write("tabs.tsv", "email\tfirst_name\nbob@example.com\tBob, Jr.\n");
  r = Postino({"list", "import", "news", tsv});
  EXPECT_NE(r.err.find("tab-separated: use --delimiter tab"), std::string::npos) << r.err;
  r = Postino({"list", "import", "news", tsv, "--delimiter", "tab"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(Sql("SELECT attributes->>'first_name' FROM subscribers WHERE email LIKE 'bob%'"),
            "Bob, Jr.");
  r = Postino({"list", "import", "news", tsv, "--delimiter", "x"});
  EXPECT_EQ(r.exit_code, 2);
}

// Regression: these were imported, then ended `failed` at run time.
TEST_F(ListImportTest, AddressesTheRunCannotSendAreRefusedWithAReason) {
  std::string csv = Write("addr.csv",
                          "email,n\n"
                          "\"\"\"john smith\"\"@example.com\",1\n"  // CSV-quoted
                          "josé@example.com,2\n"
                          "jo\u200Bhn@example.com,3\n"
                          "fine@example.com,4\n");
  ProcessResult r = Postino({"list", "import", "news", csv});
  EXPECT_EQ(r.exit_code, 5);
  EXPECT_NE(r.err.find("addr.csv:2: \"\"john smith\"@example.com\": quoted local parts are not "
                       "supported"),
            std::string::npos)
      << r.err;
  EXPECT_NE(r.err.find("addr.csv:3: \"josé@example.com\": non-ASCII local part needs SMTPUTF8, "
                       "which postino does not send yet"),
            std::string::npos)
      << r.err;
  EXPECT_NE(r.err.find("addr.csv:4: \"jo\u200Bhn@example.com\": invisible character U+200B in "
                       "the address"),
            std::string::npos)
      << r.err;
  EXPECT_EQ(Sql("SELECT string_agg(email, ',') FROM subscribers"), "fine@example.com");
}

// `failed` (and why) appears in every report format and in the views.
TEST_F(ListImportTest, FailedRecipientShowsInReportAndViews) {
  SmtpSink sink;
  WriteConfig(sink.port());
  ASSERT_EQ(Postino({"list", "import", "news", WriteRecipients(3)}).exit_code, 0);
  // An address from before import refused them (or written by another tool).
  Sql("INSERT INTO subscribers (email, email_key, domain) VALUES ('josé@example.com', "
      "'josé@example.com', 'example.com')");
  Sql("INSERT INTO list_members (list_id, subscriber_id) SELECT l.id, s.id FROM lists l, "
      "subscribers s WHERE s.email_key = 'josé@example.com'");
  AddTemplate();
  ASSERT_EQ(Postino({"campaign", "create", "c", "--list", "news", "--template", "t", "--from",
                     "news@news.example.com"})
                .exit_code,
            0);
  ASSERT_EQ(Postino({"campaign", "launch", "c"}).exit_code, 0);
  ProcessResult run = Postino({"run", "--until-idle"});
  ASSERT_EQ(run.exit_code, 0) << run.err;
  ASSERT_EQ(Sql("SELECT status FROM deliveries WHERE email = 'josé@example.com'"), "failed");

  EXPECT_EQ(Sql("SELECT total || ':' || failed FROM domain_summary WHERE campaign = 'c' AND "
                "domain = 'example.com'"),
            "2:1");
  std::string reason = Sql("SELECT reason FROM bounce_reasons WHERE campaign = 'c' AND status = "
                           "'failed'");
  EXPECT_NE(reason.find("smtputf8"), std::string::npos) << reason;

  ProcessResult table = Postino({"campaign", "report", "c"});
  ASSERT_EQ(table.exit_code, 0) << table.err;
  EXPECT_NE(table.out.find("  failed                1"), std::string::npos) << table.out;
  EXPECT_NE(table.out.find("FAILED"), std::string::npos) << table.out;
  EXPECT_NE(table.out.find("failure reasons"), std::string::npos) << table.out;
  EXPECT_NE(table.out.find("failed"), table.out.rfind("failed")) << table.out;
  EXPECT_NE(table.out.find("smtputf8"), std::string::npos) << table.out;

  ProcessResult json = Postino({"campaign", "report", "c", "--format", "json"});
  EXPECT_NE(json.out.find("\"failed\": 1"), std::string::npos) << json.out;
  EXPECT_NE(json.out.find("\"status\": \"failed\""), std::string::npos) << json.out;

  ProcessResult csv = Postino({"campaign", "report", "c", "--format", "csv"});
  EXPECT_NE(csv.out.find("domain,total,delivered,deferred,bounced,expired,suppressed,cancelled,"
                         "failed,pending"),
            std::string::npos)
      << csv.out;
  EXPECT_NE(csv.out.find("example.com,2,1,0,0,0,0,0,1,0"), std::string::npos) << csv.out;
}

}  // namespace
}  // namespace postino::testing
