#include "common/csv.h"

#include <gtest/gtest.h>

#include <sstream>

namespace postino {
namespace {

std::vector<CsvRecord> ReadAll(const std::string& text) {
  std::istringstream in(text);
  CsvReader reader(in);
  std::vector<CsvRecord> out;
  CsvRecord r;
  while (reader.Next(&r)) out.push_back(r);
  return out;
}

TEST(CsvReaderTest, PlainRowsWithLfAndCrlf) {
  auto rows = ReadAll("email,name\na@x.com,Ann\r\nb@y.org,Bob\n");
  ASSERT_EQ(rows.size(), 3u);
  EXPECT_EQ(rows[1].fields, (std::vector<std::string>{"a@x.com", "Ann"}));
  EXPECT_EQ(rows[2].fields, (std::vector<std::string>{"b@y.org", "Bob"}));
  EXPECT_EQ(rows[2].line, 3u);
}

TEST(CsvReaderTest, QuotedFieldsWithCommasQuotesAndNewlines) {
  auto rows = ReadAll("email,note\n\"a@x.com\",\"one, two\"\nb@y.org,\"say \"\"hi\"\"\nnext line\"\nc@z.net,x\n");
  ASSERT_EQ(rows.size(), 4u);
  EXPECT_EQ(rows[1].fields[1], "one, two");
  EXPECT_EQ(rows[2].fields[1], "say \"hi\"\nnext line");
  EXPECT_EQ(rows[2].line, 3u);
  EXPECT_EQ(rows[3].line, 5u);  // the embedded newline counts as a physical line
  EXPECT_EQ(rows[3].fields[0], "c@z.net");
}

TEST(CsvReaderTest, SkipsByteOrderMark) {
  auto rows = ReadAll("\xEF\xBB\xBF" "email\nx@y.com\n");
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[0].fields[0], "email");
}

TEST(CsvReaderTest, EmptyFieldsAndMissingFinalNewline) {
  auto rows = ReadAll("a,,c\n,,\nlast,row");
  ASSERT_EQ(rows.size(), 3u);
  EXPECT_EQ(rows[0].fields, (std::vector<std::string>{"a", "", "c"}));
  EXPECT_EQ(rows[1].fields, (std::vector<std::string>{"", "", ""}));
  EXPECT_EQ(rows[2].fields, (std::vector<std::string>{"last", "row"}));
}

TEST(CsvReaderTest, GarbageAfterClosingQuoteIsReportedAndReaderResyncs) {
  auto rows = ReadAll("email\n\"a@x.com\"junk,1\nb@y.org\n");
  ASSERT_EQ(rows.size(), 3u);
  EXPECT_FALSE(rows[1].error.ok());
  EXPECT_EQ(rows[1].line, 2u);
  EXPECT_NE(rows[1].error.message().find("after a closing quote"), std::string::npos);
  EXPECT_TRUE(rows[2].error.ok());
  EXPECT_EQ(rows[2].fields[0], "b@y.org");
}

TEST(CsvReaderTest, UnterminatedQuoteIsReportedWithItsLine) {
  auto rows = ReadAll("email\nok@x.com\n\"broken@x.com,1\nmore\n");
  ASSERT_EQ(rows.size(), 3u);
  EXPECT_TRUE(rows[1].error.ok());
  EXPECT_FALSE(rows[2].error.ok());
  EXPECT_NE(rows[2].error.message().find("line 3"), std::string::npos);
}

TEST(CsvReaderTest, LoneCarriageReturnsEndLines) {
  auto rows = ReadAll("email\ra@x.com\r\"bad\"x\rb@y.org\r");
  ASSERT_EQ(rows.size(), 4u);
  EXPECT_EQ(rows[1].fields[0], "a@x.com");
  EXPECT_EQ(rows[2].line, 3u);
  EXPECT_FALSE(rows[2].error.ok());
  EXPECT_EQ(rows[3].line, 4u);
  EXPECT_EQ(rows[3].fields[0], "b@y.org");
}

TEST(CsvReaderTest, HugeFieldsAreRefusedNotBuffered) {
  std::string big(2 << 20, 'x');
  auto rows = ReadAll("email,note\na@x.com," + big + "\nb@y.org,ok\n");
  ASSERT_EQ(rows.size(), 3u);
  EXPECT_FALSE(rows[1].error.ok());
  EXPECT_NE(rows[1].error.message().find("longer than"), std::string::npos);
  EXPECT_TRUE(rows[2].error.ok());
  EXPECT_EQ(rows[2].fields[0], "b@y.org");
}

TEST(CsvReaderTest, BlankLinesAreSkipped) {
  auto rows = ReadAll("email\n\n\r\nx@y.com\n\n");
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[1].line, 4u);
}

}  // namespace
}  // namespace postino
