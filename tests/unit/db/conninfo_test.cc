// conninfo_test.cc: no form of PostgreSQL connection string shows its
// password in a message — issue 11 item 15.
#include "db/conninfo.h"

#include <gtest/gtest.h>

#include "db/database.h"

namespace postino::db {
namespace {

TEST(MaskConnectionStringTest, WithoutAPasswordTheStringIsShownAsIs) {
  EXPECT_EQ(MaskConnectionString("postgresql:///postino"), "postgresql:///postino");
  EXPECT_EQ(MaskConnectionString("postgresql://u@db.example/postino"),
            "postgresql://u@db.example/postino");
  EXPECT_EQ(MaskConnectionString("host=/run/postgresql dbname=x"), "host=/run/postgresql dbname=x");
}

TEST(MaskConnectionStringTest, PasswordInUserInfoWithAnEscapedAt) {
  std::string m = MaskConnectionString("postgresql://u:p%40ssw0rd@h.example/db");
  EXPECT_EQ(m.find("p@ssw0rd"), std::string::npos) << m;
  EXPECT_EQ(m.find("p%40ssw0rd"), std::string::npos) << m;
  EXPECT_EQ(m.find("ssw0rd"), std::string::npos) << m;
  EXPECT_NE(m.find("password=***"), std::string::npos) << m;
  EXPECT_NE(m.find("user=u"), std::string::npos) << m;
  EXPECT_NE(m.find("host=h.example"), std::string::npos) << m;
  EXPECT_NE(m.find("dbname=db"), std::string::npos) << m;
}

TEST(MaskConnectionStringTest, PasswordInTheQueryString) {
  std::string m = MaskConnectionString("postgresql://u@h/db?sslmode=disable&password=s3cret-q");
  EXPECT_EQ(m.find("s3cret-q"), std::string::npos) << m;
  EXPECT_NE(m.find("password=***"), std::string::npos) << m;
  EXPECT_NE(m.find("sslmode=disable"), std::string::npos) << m;
}

TEST(MaskConnectionStringTest, QuotedKeyValuePasswordWithSpaces) {
  std::string m = MaskConnectionString("host=h dbname=db user=u password='a b c@d'");
  EXPECT_EQ(m.find("a b"), std::string::npos) << m;
  EXPECT_EQ(m.find("c@d"), std::string::npos) << m;
  EXPECT_NE(m.find("password=***"), std::string::npos) << m;
}

TEST(MaskConnectionStringTest, UnparsableStringsAreNotEchoed) {
  EXPECT_EQ(MaskConnectionString("password='unterminated"), "(unparsable connection string)");
}

TEST(MaskPasswordInTest, ReplacesThePasswordInErrorText) {
  EXPECT_EQ(
      MaskPasswordIn("FATAL: role \"hunter22\" does not exist", "postgresql://u:hunter22@h/db"),
      "FATAL: role \"***\" does not exist");
  EXPECT_EQ(MaskPasswordIn("a b", "postgresql://u:ab@h/db"), "a b");  // too short to mask
}

// The message a failed connection returns (the path every command takes).
TEST(DatabaseConnectTest, ErrorNamesTheServerButNotThePassword) {
  // Port 1 on loopback: nothing listens, the connection is refused at once.
  for (const char* url : {"postgresql://postino:p%40ss-w0rd@127.0.0.1:1/db?connect_timeout=2",
                          "postgresql://postino@127.0.0.1:1/db?password=p@ss-w0rd",
                          "host=127.0.0.1 port=1 user=postino password='p@ss w0rd'"}) {
    auto r = Database::Connect(url);
    ASSERT_FALSE(r.ok());
    const std::string& m = r.status().message();
    EXPECT_EQ(m.find("ss-w0rd"), std::string::npos) << m;
    EXPECT_EQ(m.find("ss w0rd"), std::string::npos) << m;
    EXPECT_EQ(m.find("ss%40"), std::string::npos) << m;
    EXPECT_NE(m.find("127.0.0.1"), std::string::npos) << m;
  }
}

}  // namespace
}  // namespace postino::db
