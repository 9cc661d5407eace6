// log_test.cc: log lines are written escaped, one entry per call.
#include "common/log.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <string>

namespace postino::log {
namespace {

// Runs `write` with stderr redirected to a temporary file; returns what it wrote.
template <typename F>
std::string CaptureStderr(F write) {
  std::FILE* tmp = std::tmpfile();
  int saved = dup(STDERR_FILENO);
  dup2(fileno(tmp), STDERR_FILENO);
  write();
  dup2(saved, STDERR_FILENO);
  close(saved);
  std::string out;
  std::rewind(tmp);
  char buf[512];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, tmp)) > 0) out.append(buf, n);
  std::fclose(tmp);
  return out;
}

TEST(LogTest, ReplyWithTerminalEscapesIsWrittenEscaped) {
  std::string out = CaptureStderr([] {
    Warn("host mx.example said: {}", "550 \x1b[31mrejected\x1b[0m\r\n2026-01-01T00:00:00Z error x");
  });
  EXPECT_EQ(out.find('\x1b'), std::string::npos) << out;
  EXPECT_EQ(out.find('\r'), std::string::npos) << out;
  EXPECT_NE(out.find("550 \\x1b[31mrejected\\x1b[0m"), std::string::npos) << out;
  // The forged entry stays inside the first one, on an indented line.
  EXPECT_NE(out.find("\\r\n  2026-01-01T00:00:00Z error x\n"), std::string::npos) << out;
  EXPECT_EQ(out.back(), '\n');
}

TEST(LogTest, PlainMessagesAreUnchanged) {
  std::string out = CaptureStderr([] { Info("delivered {} in {} ms", "a@b.example", 12); });
  EXPECT_NE(out.find(" info delivered a@b.example in 12 ms\n"), std::string::npos) << out;
}

// Issue 14: --log-format json writes one object per line with the fields.
TEST(LogTest, JsonFormatIsOneObjectPerLineWithFields) {
  SetFormat(Format::kJson);
  std::string out = CaptureStderr([] {
    InfoF({.campaign = 3, .delivery = 17, .connection = 12, .site = "mx.example.com", .host = ""},
          "said \"{}\"\nsecond line", "hi\x1b");
    Warn("plain {}", 1);
  });
  SetFormat(Format::kText);
  size_t nl = out.find('\n');
  ASSERT_NE(nl, std::string::npos);
  std::string first = out.substr(0, nl);
  EXPECT_EQ(first.front(), '{') << first;
  EXPECT_NE(first.find("\"level\":\"info\""), std::string::npos) << first;
  EXPECT_NE(first.find("\"message\":\"said \\\"hi\\u001b\\\"\\nsecond line\""), std::string::npos)
      << first;
  EXPECT_NE(first.find("\"campaign\":3,\"delivery\":17,\"connection\":12,\"site\":\"mx.example.com\"}"),
            std::string::npos)
      << first;
  EXPECT_NE(first.find("\"time\":\"20"), std::string::npos) << first;
  EXPECT_EQ(first.find("host"), std::string::npos) << first;
  std::string second = out.substr(nl + 1);
  EXPECT_NE(second.find("\"message\":\"plain 1\"}\n"), std::string::npos) << second;
}

TEST(LogTest, TextFormatAppendsKnownFields) {
  std::string out = CaptureStderr([] { WarnF({.connection = 5, .host = "mx.b.example"}, "timeout"); });
  EXPECT_NE(out.find(" warn timeout [connection=5 host=mx.b.example]\n"), std::string::npos) << out;
}

TEST(LogTest, IsoTimeIsUtcIso8601) {
  EXPECT_EQ(IsoTime(std::chrono::system_clock::time_point(std::chrono::seconds(1796200791))),
            "2026-12-02T08:39:51Z");
}

}  // namespace
}  // namespace postino::log
