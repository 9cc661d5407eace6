// csv_test.cc: the CSV reader (syntax, bounds, UTF-8 check) and the
// Latin-1 / Windows-1252 transcoder.
#include "common/csv.h"

#include <gtest/gtest.h>
#include <sys/resource.h>

#include <chrono>
#include <sstream>

namespace postino {
namespace {

std::vector<CsvRecord> ReadAll(const std::string& text, const CsvOptions& options = {}) {
  std::istringstream in(text);
  CsvReader reader(in, options);
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

// An input of `prefix`, then `count` copies of `fill`, then `suffix`,
// produced on the fly: the test itself holds none of it in memory.
class GeneratedInput : public std::streambuf {
 public:
  GeneratedInput(std::string prefix, char fill, size_t count, std::string suffix)
      : prefix_(std::move(prefix)), suffix_(std::move(suffix)), fill_(fill), count_(count) {}

 protected:
  int_type underflow() override {
    if (gptr() < egptr()) return traits_type::to_int_type(*gptr());
    chunk_.clear();
    if (stage_ == 0) {
      chunk_ = prefix_;
      stage_ = 1;
    }
    if (chunk_.empty() && stage_ == 1) {
      size_t n = std::min<size_t>(count_, 64 * 1024);
      chunk_.assign(n, fill_);
      count_ -= n;
      if (count_ == 0) stage_ = 2;
    }
    if (chunk_.empty() && stage_ == 2) {
      chunk_ = suffix_;
      stage_ = 3;
    }
    if (chunk_.empty()) return traits_type::eof();
    setg(chunk_.data(), chunk_.data(), chunk_.data() + chunk_.size());
    return traits_type::to_int_type(*gptr());
  }

 private:
  std::string prefix_, suffix_, chunk_;
  char fill_;
  size_t count_;
  int stage_ = 0;
};

long MaxRssKiB() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return u.ru_maxrss;
}

// Regression (issue 11 item 9): a 30 MB row of commas took 1.06 GB, one
// std::string per empty field. The reader keeps at most max_fields.
TEST(CsvReaderTest, ThirtyMegabyteRowOfCommasIsRefusedInBoundedMemory) {
  long before = MaxRssKiB();
  GeneratedInput gen("email,name\nok@x.com,Ann\n", ',', 30u << 20, "\nb@y.org,Bob\n");
  std::istream in(&gen);
  CsvReader reader(in);
  CsvRecord r;
  ASSERT_TRUE(reader.Next(&r));
  ASSERT_TRUE(reader.Next(&r));
  EXPECT_TRUE(r.error.ok());
  ASSERT_TRUE(reader.Next(&r));
  EXPECT_EQ(r.line, 3u);
  EXPECT_EQ(r.problem, CsvProblem::kTooLarge);
  EXPECT_NE(r.error.message().find("more than 1000 fields"), std::string::npos)
      << r.error.message();
  EXPECT_LE(r.fields.size(), 1000u);
  ASSERT_TRUE(reader.Next(&r));
  EXPECT_TRUE(r.error.ok()) << r.error.message();
  EXPECT_EQ(r.line, 4u);
  EXPECT_EQ(r.fields, (std::vector<std::string>{"b@y.org", "Bob"}));
  EXPECT_FALSE(reader.Next(&r));
  EXPECT_LT(MaxRssKiB() - before, 64 * 1024) << "the reader buffered the giant row";
}

TEST(CsvReaderTest, HundredThousandColumnHeaderIsRefusedFast) {
  std::string header = "email";
  for (int i = 1; i < 100000; ++i) header += ",c" + std::to_string(i);
  auto start = std::chrono::steady_clock::now();
  auto rows = ReadAll(header + "\nx@y.com\n");
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(1));
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[0].problem, CsvProblem::kTooLarge);
  EXPECT_EQ(rows[0].fields.size(), 1000u);
  EXPECT_EQ(rows[1].fields[0], "x@y.com");
}

TEST(CsvReaderTest, RowLimitCountsTheWholeRecordAndResyncsAfterIt) {
  CsvOptions o;
  o.limits.max_record_bytes = 100;
  std::string cell(30, 'v');
  auto rows = ReadAll("a,b\n" + cell + "," + cell + "," + cell + "," + cell + "\nok,1\n", o);
  ASSERT_EQ(rows.size(), 3u);
  EXPECT_EQ(rows[1].problem, CsvProblem::kTooLarge);
  EXPECT_NE(rows[1].error.message().find("row longer than 100 bytes (the limit per row)"),
            std::string::npos)
      << rows[1].error.message();
  EXPECT_TRUE(rows[2].error.ok());
  EXPECT_EQ(rows[2].fields[0], "ok");
}

TEST(CsvReaderTest, OversizedQuotedFieldIsSkippedToTheEndOfItsRecordNotItsLine) {
  CsvOptions o;
  o.limits.max_field_bytes = 8;
  auto rows = ReadAll("email,note\na@x.com,\"long\nlong,long\nlong\"\nb@y.org,ok\n", o);
  ASSERT_EQ(rows.size(), 3u);
  EXPECT_EQ(rows[1].problem, CsvProblem::kTooLarge);
  EXPECT_NE(rows[1].error.message().find("field 2 is longer than 8 bytes"), std::string::npos)
      << rows[1].error.message();
  EXPECT_EQ(rows[2].line, 5u);
  EXPECT_EQ(rows[2].fields, (std::vector<std::string>{"b@y.org", "ok"}));
}

TEST(CsvReaderTest, OtherDelimiters) {
  CsvOptions semi;
  semi.delimiter = ';';
  auto rows = ReadAll("email;name\na@x.com;\"Ann; B\"\n", semi);
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[1].fields, (std::vector<std::string>{"a@x.com", "Ann; B"}));
  CsvOptions tab;
  tab.delimiter = '\t';
  rows = ReadAll("email\tname\na@x.com\tAnn, B\n", tab);
  EXPECT_EQ(rows[1].fields, (std::vector<std::string>{"a@x.com", "Ann, B"}));
}

TEST(CsvReaderTest, Latin1BytesAreReportedWithLineAndOffset) {
  CsvOptions o;
  o.check_utf8 = true;
  auto rows = ReadAll("email,name\na@x.com,Jos\xE9\nb@y.org,Jos\xC3\xA9\n", o);
  ASSERT_EQ(rows.size(), 3u);
  EXPECT_EQ(rows[1].problem, CsvProblem::kEncoding);
  EXPECT_EQ(rows[1].offset, 11u);
  EXPECT_NE(rows[1].error.message().find("byte 0xE9 at line 2, byte offset 22"), std::string::npos)
      << rows[1].error.message();
  EXPECT_TRUE(rows[2].error.ok()) << rows[2].error.message();
  EXPECT_EQ(rows[2].fields[1], "Jos\xC3\xA9");
}

TEST(CsvReaderTest, Utf8CheckRefusesOverlongsSurrogatesAndTruncation) {
  CsvOptions o;
  o.check_utf8 = true;
  for (std::string bad : {"\xC0\x80", "\xED\xA0\x80", "\xF4\x90\x80\x80", "\xFF", "\xE2\x82"}) {
    auto rows = ReadAll("v\nx" + bad + "y\n", o);
    ASSERT_EQ(rows.size(), 2u);
    EXPECT_EQ(rows[1].problem, CsvProblem::kEncoding) << testing::PrintToString(bad);
  }
  auto rows = ReadAll("v\nend\xE2\x82", o);  // cut at the end of the file
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[1].problem, CsvProblem::kEncoding);
  EXPECT_NE(rows[1].error.message().find("ends inside"), std::string::npos);
  rows = ReadAll("v\n\xF0\x9F\x93\xAE,\xE2\x82\xAC\n", o);  // 📮,€
  EXPECT_TRUE(rows[1].error.ok()) << rows[1].error.message();
}

TEST(CsvTranscoderTest, Latin1AndWindows1252BecomeUtf8) {
  auto latin1 = CsvTranscoder::Open(CsvEncoding::kLatin1);
  ASSERT_TRUE(latin1.ok()) << latin1.status().message();
  std::string f = "C\xE9line M\xFCller";
  ASSERT_TRUE((*latin1)->ToUtf8(&f).ok());
  EXPECT_EQ(f, "C\xC3\xA9line M\xC3\xBCller");
  auto cp1252 = CsvTranscoder::Open(CsvEncoding::kWindows1252);
  ASSERT_TRUE(cp1252.ok());
  f = "\x80 5";
  ASSERT_TRUE((*cp1252)->ToUtf8(&f).ok());
  EXPECT_EQ(f, "\xE2\x82\xAC 5");
  f = "ab\x81";
  Status s = (*cp1252)->ToUtf8(&f);
  EXPECT_EQ(s.message(), "byte 0x81 at position 3 is not a windows-1252 character");
  f = "plain";
  EXPECT_TRUE((*cp1252)->ToUtf8(&f).ok());
  EXPECT_EQ(f, "plain");
}

TEST(CsvTranscoderTest, EncodingNames) {
  EXPECT_EQ(*ParseCsvEncoding("UTF-8"), CsvEncoding::kUtf8);
  EXPECT_EQ(*ParseCsvEncoding("latin1"), CsvEncoding::kLatin1);
  EXPECT_EQ(*ParseCsvEncoding("ISO-8859-1"), CsvEncoding::kLatin1);
  EXPECT_EQ(*ParseCsvEncoding("windows-1252"), CsvEncoding::kWindows1252);
  EXPECT_EQ(*ParseCsvEncoding("cp1252"), CsvEncoding::kWindows1252);
  EXPECT_FALSE(ParseCsvEncoding("ebcdic").ok());
}

}  // namespace
}  // namespace postino
