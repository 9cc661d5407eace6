// reply_parser_test.cc: ReplyParser on whole, split, multi-line, malformed
// and overlong input.
#include "engine/smtp/reply_parser.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace postino::smtp {
namespace {

std::vector<Reply> ParseAll(ReplyParser& p, std::string_view bytes, Status* st = nullptr) {
  Status s = p.Feed(bytes);
  if (st) *st = s;
  std::vector<Reply> out;
  while (auto r = p.Next()) out.push_back(*r);
  return out;
}

TEST(ReplyParserTest, SingleLine) {
  ReplyParser p;
  auto replies = ParseAll(p, "220 mx.example.com ESMTP ready\r\n");
  ASSERT_EQ(replies.size(), 1u);
  EXPECT_EQ(replies[0].code, 220);
  EXPECT_EQ(replies[0].enhanced, "");
  ASSERT_EQ(replies[0].lines.size(), 1u);
  EXPECT_EQ(replies[0].lines[0], "mx.example.com ESMTP ready");
  EXPECT_FALSE(replies[0].local);
  EXPECT_TRUE(p.Idle());
}

TEST(ReplyParserTest, MultilineWithEnhancedCodeFromFinalLine) {
  ReplyParser p;
  auto replies = ParseAll(p,
                          "421-4.7.28 rate limited\r\n"
                          "421-4.7.28 see the guidelines\r\n"
                          "421 4.7.28 - gsmtp\r\n");
  ASSERT_EQ(replies.size(), 1u);
  EXPECT_EQ(replies[0].code, 421);
  EXPECT_EQ(replies[0].enhanced, "4.7.28");
  EXPECT_EQ(replies[0].lines.size(), 3u);
  EXPECT_EQ(replies[0].Text(), "4.7.28 rate limited 4.7.28 see the guidelines 4.7.28 - gsmtp");
  EXPECT_EQ(replies[0].ToString(),
            "421 4.7.28 rate limited 4.7.28 see the guidelines 4.7.28 - gsmtp");
}

TEST(ReplyParserTest, EveryByteSplitGivesTheSameReplies) {
  const std::string input =
      "250-mx.example.com Hello\r\n250-PIPELINING\r\n250-SIZE 1000\r\n250 8BITMIME\r\n"
      "550 5.1.1 <a@b>: user unknown\r\n354 go ahead\r\n";
  ReplyParser whole;
  auto expected = ParseAll(whole, input);
  ASSERT_EQ(expected.size(), 3u);
  for (size_t cut = 0; cut <= input.size(); ++cut) {
    for (size_t cut2 = cut; cut2 <= input.size(); cut2 += 7) {
      ReplyParser p;
      std::vector<Reply> got;
      for (auto part : {input.substr(0, cut), input.substr(cut, cut2 - cut), input.substr(cut2)}) {
        auto r = ParseAll(p, part);
        got.insert(got.end(), r.begin(), r.end());
      }
      ASSERT_EQ(got.size(), expected.size()) << "cut at " << cut << "," << cut2;
      for (size_t i = 0; i < got.size(); ++i) {
        EXPECT_EQ(got[i].code, expected[i].code);
        EXPECT_EQ(got[i].enhanced, expected[i].enhanced);
        EXPECT_EQ(got[i].lines, expected[i].lines);
      }
    }
  }
  // One byte at a time.
  ReplyParser p;
  std::vector<Reply> got;
  for (char c : input) {
    auto r = ParseAll(p, std::string_view(&c, 1));
    got.insert(got.end(), r.begin(), r.end());
  }
  EXPECT_EQ(got.size(), 3u);
  EXPECT_EQ(got[1].enhanced, "5.1.1");
}

TEST(ReplyParserTest, BareLfTolerated) {
  ReplyParser p;
  auto replies = ParseAll(p, "250-first\n250 second\n");
  ASSERT_EQ(replies.size(), 1u);
  EXPECT_EQ(replies[0].lines, (std::vector<std::string>{"first", "second"}));
}

TEST(ReplyParserTest, CodeOnlyLine) {
  ReplyParser p;
  auto replies = ParseAll(p, "250\r\n");
  ASSERT_EQ(replies.size(), 1u);
  EXPECT_EQ(replies[0].code, 250);
  EXPECT_EQ(replies[0].lines, (std::vector<std::string>{""}));
}

TEST(ReplyParserTest, EnhancedCodeMustMatchClassAndBeFollowedBySpace) {
  struct Case {
    const char* line;
    const char* enhanced;
  } cases[] = {
      {"550 5.1.1 unknown\r\n", "5.1.1"},
      {"451 4.7.650 throttled\r\n", "4.7.650"},
      {"250 2.0.0\r\n", "2.0.0"},
      {"451 5.7.3 class differs\r\n", ""},
      {"550 5.1.1a nope\r\n", ""},
      {"550 5.1111.1 too long\r\n", ""},
      {"550 cuda_nsu 5.1.1 buried\r\n", ""},
      {"550 #5.1.1 hash\r\n", ""},
      {"550 5.1. missing detail\r\n", ""},
  };
  for (const Case& c : cases) {
    ReplyParser p;
    auto replies = ParseAll(p, c.line);
    ASSERT_EQ(replies.size(), 1u) << c.line;
    EXPECT_EQ(replies[0].enhanced, c.enhanced) << c.line;
  }
}

TEST(ReplyParserTest, EnhancedCodeFromFinalLineOnly) {
  ReplyParser p;
  auto replies = ParseAll(p, "550-5.7.1 first\r\n550 no code here\r\n");
  ASSERT_EQ(replies.size(), 1u);
  EXPECT_EQ(replies[0].enhanced, "");
}

TEST(ReplyParserTest, MalformedLinesAreProtocolErrors) {
  const char* bad[] = {
      "hello\r\n",           // no code
      "25\r\n",              // short
      "2x0 ok\r\n",          // non-digit
      "250_ok\r\n",          // bad separator
      "650 ok\r\n",          // not a reply class
      "150 ok\r\n",          // preliminary replies are not used by SMTP
      "250-a\r\n251 b\r\n",  // code changes within a reply
      "250-a\r\n550-b\r\n",  // code changes within a reply
  };
  for (const char* input : bad) {
    ReplyParser p;
    Status st;
    ParseAll(p, input, &st);
    EXPECT_EQ(st.code(), Status::Code::kProtocol) << input;
    // Sticky: more input is refused.
    EXPECT_FALSE(p.Feed("250 ok\r\n").ok());
    EXPECT_FALSE(p.HasReply());
  }
}

TEST(ReplyParserTest, CodeChangeAllowedOnlyWhenAsked) {
  const std::string wire = "220-laposte\r\n421 4.2.1 Service refused, please try later.\r\n";
  ReplyParser strict;
  Status st;
  ParseAll(strict, wire, &st);
  EXPECT_EQ(st.code(), Status::Code::kProtocol);
  ReplyParser lenient(ReplyParserLimits{.allow_code_change = true});
  auto replies = ParseAll(lenient, wire, &st);
  EXPECT_TRUE(st.ok());
  ASSERT_EQ(replies.size(), 1u);
  EXPECT_EQ(replies[0].code, 421);
  EXPECT_EQ(replies[0].enhanced, "4.2.1");
  EXPECT_EQ(replies[0].lines.size(), 2u);
}

TEST(ReplyParserTest, RepliesBeforeTheErrorStayAvailable) {
  ReplyParser p;
  Status st;
  auto replies = ParseAll(p, "250 ok\r\ngarbage\r\n", &st);
  EXPECT_FALSE(st.ok());
  ASSERT_EQ(replies.size(), 1u);
  EXPECT_EQ(replies[0].code, 250);
}

TEST(ReplyParserTest, OverlongLineIsAnErrorWithBoundedMemory) {
  ReplyParser p;
  std::string chunk(1000, 'a');
  Status st = p.Feed("250 ");
  for (int i = 0; i < 4 && st.ok(); ++i) st = p.Feed(chunk);
  EXPECT_TRUE(st.ok());  // 4004 octets so far: still within 4096
  st = p.Feed(chunk);
  EXPECT_EQ(st.code(), Status::Code::kProtocol);
  EXPECT_NE(st.message().find("longer than 4096"), std::string::npos) << st.message();
}

TEST(ReplyParserTest, LineOfExactlyTheLimitIsAccepted) {
  ReplyParser p(ReplyParserLimits{.max_line = 10, .max_lines = 4});
  auto replies = ParseAll(p, "250 678901\r\n");
  ASSERT_EQ(replies.size(), 1u);
  Status st;
  ParseAll(p, "250 6789012\r\n", &st);
  EXPECT_EQ(st.code(), Status::Code::kProtocol);
}

TEST(ReplyParserTest, OverlongLineInOneFeed) {
  ReplyParser p;
  Status st;
  ParseAll(p, "250 " + std::string(5000, 'x') + "\r\n", &st);
  EXPECT_EQ(st.code(), Status::Code::kProtocol);
}

TEST(ReplyParserTest, TooManyLinesInOneReply) {
  ReplyParser p(ReplyParserLimits{.max_line = 100, .max_lines = 3});
  Status st;
  ParseAll(p, "250-a\r\n250-b\r\n250-c\r\n250 d\r\n", &st);
  EXPECT_EQ(st.code(), Status::Code::kProtocol);
}

TEST(ReplyParserTest, ClearForgetsBufferedInput) {
  ReplyParser p;
  ParseAll(p, "250-partial\r\n250 ");
  EXPECT_FALSE(p.Idle());
  p.Clear();
  EXPECT_TRUE(p.Idle());
  auto replies = ParseAll(p, "220 fresh\r\n");
  ASSERT_EQ(replies.size(), 1u);
  EXPECT_EQ(replies[0].code, 220);
}

TEST(ReplyTest, ToStringOfLocalReplyWithoutCodeInText) {
  Reply r;
  r.code = 451;
  r.enhanced = "4.4.2";
  r.lines = {"timeout"};
  EXPECT_EQ(r.ToString(), "451 4.4.2 timeout");
  Reply bare;
  bare.code = 250;
  EXPECT_EQ(bare.ToString(), "250");
}

}  // namespace
}  // namespace postino::smtp
