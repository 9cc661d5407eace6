// data_encoder_test.cc: DotStuff line-end normalisation, transparency dots,
// line-length limit and termination.
#include "engine/smtp/data_encoder.h"

#include <gtest/gtest.h>

#include <string>

namespace postino::smtp {
namespace {

std::string Stuff(std::string_view in) {
  std::string out;
  Status st = DotStuff(in, &out);
  EXPECT_TRUE(st.ok()) << st.ToString();
  return out;
}

TEST(DotStuffTest, Basic) {
  EXPECT_EQ(Stuff("Subject: x\r\n\r\nhello\r\n"), "Subject: x\r\n\r\nhello\r\n.\r\n");
}

TEST(DotStuffTest, EmptyMessage) { EXPECT_EQ(Stuff(""), ".\r\n"); }

TEST(DotStuffTest, MissingFinalLineEndIsAdded) { EXPECT_EQ(Stuff("a"), "a\r\n.\r\n"); }

TEST(DotStuffTest, LinesStartingWithDotGetAnotherDot) {
  EXPECT_EQ(Stuff(".\r\n..x\r\na.b\r\n.end"), "..\r\n...x\r\na.b\r\n..end\r\n.\r\n");
}

TEST(DotStuffTest, BareCrAndBareLfBecomeCrlf) {
  EXPECT_EQ(Stuff("a\nb\rc\r\nd\n\ne"), "a\r\nb\r\nc\r\nd\r\n\r\ne\r\n.\r\n");
  EXPECT_EQ(Stuff("a\r"), "a\r\n.\r\n");
  EXPECT_EQ(Stuff("a\r\r\n"), "a\r\n\r\n.\r\n");
  EXPECT_EQ(Stuff("\n.x"), "\r\n..x\r\n.\r\n");
  EXPECT_EQ(Stuff("x\r.y"), "x\r\n..y\r\n.\r\n");  // a dot after a bare CR starts a line
}

TEST(DotStuffTest, AppendsToExistingOutput) {
  std::string out = "prefix";
  ASSERT_TRUE(DotStuff("a", &out).ok());
  EXPECT_EQ(out, "prefixa\r\n.\r\n");
}

TEST(DotStuffTest, LineOf998IsFineAnd999IsAnError) {
  std::string ok(998, 'x');
  EXPECT_EQ(Stuff(ok), ok + "\r\n.\r\n");
  EXPECT_EQ(Stuff("." + std::string(997, 'x')).size(), 999u + 2 + 3);  // transparency dot
  std::string out = "keep";
  Status st = DotStuff("short\r\n" + std::string(999, 'x') + "\r\n", &out);
  EXPECT_EQ(st.code(), Status::Code::kInvalidArgument);
  EXPECT_NE(st.message().find("line 2"), std::string::npos) << st.message();
  EXPECT_EQ(out, "keep");  // nothing half-written
}

TEST(DotStuffTest, OutputNeverHasBareCrOrLf) {
  std::string input;
  const char alphabet[] = {'a', '.', '\r', '\n', ' '};
  uint32_t seed = 12345;
  for (int i = 0; i < 20000; ++i) {
    seed = seed * 1103515245 + 12345;
    input.push_back(alphabet[(seed >> 16) % 5]);
  }
  std::string out = Stuff(input);
  for (size_t i = 0; i < out.size(); ++i) {
    if (out[i] == '\r') {
      ASSERT_TRUE(i + 1 < out.size() && out[i + 1] == '\n') << i;
    }
    if (out[i] == '\n') {
      ASSERT_TRUE(i > 0 && out[i - 1] == '\r') << i;
    }
  }
  // Every line that starts with a dot is a stuffed one, except the final ".".
  size_t pos = 0;
  while (pos < out.size()) {
    size_t eol = out.find("\r\n", pos);
    std::string_view line(out.data() + pos, eol - pos);
    if (eol + 2 != out.size() && !line.empty() && line[0] == '.') {
      ASSERT_GE(line.size(), 2u);
      ASSERT_EQ(line[1], '.');
    }
    pos = eol + 2;
  }
  EXPECT_TRUE(out.ends_with("\r\n.\r\n"));
}

}  // namespace
}  // namespace postino::smtp
