// log.cc: the stderr log sink.
#include "common/log.h"

#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <ctime>
#include <mutex>
#include <string>

#include "common/strings.h"

namespace postino::log {
namespace {

Level InitialLevel() {
  Level level = Level::kInfo;
  if (const char* env = std::getenv("POSTINO_LOG_LEVEL")) ParseLevel(env, &level);
  return level;
}

std::atomic<int>& LevelVar() {
  static std::atomic<int> level{static_cast<int>(InitialLevel())};
  return level;
}

constexpr std::string_view kNames[] = {"debug", "info", "warn", "error", "off"};

bool NeedsEscape(std::string_view message) {
  for (char ch : message) {
    auto c = static_cast<unsigned char>(ch);
    if (c < 0x20 || c >= 0x7F || c == '\\') return true;
  }
  return false;
}

// The message as it is written: every control character, backslash and
// non-UTF-8 byte escaped (EscapeControl), except that a newline the caller
// wrote starts a continuation line indented by two spaces, so no text inside
// a message (a remote server's reply, say) can start a line of its own that
// looks like a log entry.
std::string Sanitize(std::string_view message) {
  std::string out;
  size_t start = 0;
  while (true) {
    size_t nl = message.find('\n', start);
    out += EscapeControl(message.substr(start, nl == std::string_view::npos ? nl : nl - start));
    if (nl == std::string_view::npos) break;
    out += "\n  ";
    start = nl + 1;
  }
  return out;
}

}  // namespace

void SetLevel(Level level) { LevelVar() = static_cast<int>(level); }
Level GetLevel() { return static_cast<Level>(LevelVar().load(std::memory_order_relaxed)); }

bool ParseLevel(std::string_view name, Level* out) {
  for (int i = 0; i < 5; ++i) {
    if (name == kNames[i]) {
      *out = static_cast<Level>(i);
      return true;
    }
  }
  return false;
}

void Write(Level level, std::string_view message) {
  static std::mutex mu;
  auto now = std::chrono::system_clock::now();
  std::time_t secs = std::chrono::system_clock::to_time_t(now);
  auto millis =
      std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count() % 1000;
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char stamp[32];
  std::strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%S", &tm);
  std::string sanitized;
  if (NeedsEscape(message)) {
    sanitized = Sanitize(message);
    message = sanitized;
  }
  std::string line =
      fmt::format("{}.{:03d}Z {} {}\n", stamp, millis, kNames[static_cast<int>(level)], message);
  std::lock_guard<std::mutex> lock(mu);
  ssize_t ignored = ::write(STDERR_FILENO, line.data(), line.size());
  (void)ignored;
}

}  // namespace postino::log
