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

}  // namespace
}  // namespace postino::log
