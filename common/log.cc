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
#include "common/utf8.h"

namespace postino::log {
namespace {

Level InitialLevel() {
  Level level = Level::kInfo;
  if (const char* env = std::getenv("POSTINO_LOG_LEVEL")) ParseLevel(env, &level);
  return level;
}

Format InitialFormat() {
  Format format = Format::kText;
  if (const char* env = std::getenv("POSTINO_LOG_FORMAT")) ParseFormat(env, &format);
  return format;
}

std::atomic<int>& FormatVar() {
  static std::atomic<int> format{static_cast<int>(InitialFormat())};
  return format;
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

// A JSON string literal of `text`: quotes, backslashes and control
// characters escaped (\n, \u001b...); text that is not valid UTF-8 is
// first made printable with EscapeControl ("\xNN"), so the line is always
// valid JSON and one line.
void AppendJsonString(std::string* out, std::string_view text) {
  out->push_back('"');
  std::string safe;
  if (!IsValidUtf8(text)) {
    safe = EscapeControl(text);
    text = safe;
  }
  for (char ch : text) {
    switch (ch) {
      case '"': *out += "\\\""; break;
      case '\\': *out += "\\\\"; break;
      case '\n': *out += "\\n"; break;
      default:
        if (static_cast<unsigned char>(ch) < 0x20) {
          *out += fmt::format("\\u{:04x}", static_cast<unsigned char>(ch));
        } else {
          out->push_back(ch);
        }
    }
  }
  out->push_back('"');
}

std::string Stamp(std::chrono::system_clock::time_point now, bool millis) {
  std::time_t secs = std::chrono::system_clock::to_time_t(now);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char stamp[32];
  std::strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%S", &tm);
  if (!millis) return std::string(stamp) + "Z";
  auto ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count() % 1000;
  return fmt::format("{}.{:03d}Z", stamp, ms);
}

void Emit(const std::string& line) {
  static std::mutex mu;
  std::lock_guard<std::mutex> lock(mu);
  ssize_t ignored = ::write(STDERR_FILENO, line.data(), line.size());
  (void)ignored;
}

}  // namespace

std::string IsoTime(std::chrono::system_clock::time_point t) { return Stamp(t, false); }

void SetFormat(Format format) { FormatVar() = static_cast<int>(format); }
Format GetFormat() { return static_cast<Format>(FormatVar().load(std::memory_order_relaxed)); }

bool ParseFormat(std::string_view name, Format* out) {
  if (name == "text") {
    *out = Format::kText;
    return true;
  }
  if (name == "json") {
    *out = Format::kJson;
    return true;
  }
  return false;
}

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

void Write(Level level, std::string_view message) { Write(level, Fields{}, message); }

void Write(Level level, const Fields& fields, std::string_view message) {
  const auto now = std::chrono::system_clock::now();
  const std::string_view name = kNames[static_cast<int>(level)];
  if (GetFormat() == Format::kJson) {
    std::string line = "{\"time\":\"" + Stamp(now, true) + "\",\"level\":\"" + std::string(name) +
                       "\",\"message\":";
    AppendJsonString(&line, message);
    if (fields.campaign != 0) line += fmt::format(",\"campaign\":{}", fields.campaign);
    if (fields.delivery != 0) line += fmt::format(",\"delivery\":{}", fields.delivery);
    if (fields.connection != 0) line += fmt::format(",\"connection\":{}", fields.connection);
    if (!fields.site.empty()) {
      line += ",\"site\":";
      AppendJsonString(&line, fields.site);
    }
    if (!fields.host.empty()) {
      line += ",\"host\":";
      AppendJsonString(&line, fields.host);
    }
    line += "}\n";
    Emit(line);
    return;
  }
  std::string sanitized;
  if (NeedsEscape(message)) {
    sanitized = Sanitize(message);
    message = sanitized;
  }
  std::string tail;
  auto add = [&](std::string_view key, const std::string& value) {
    tail += tail.empty() ? " [" : " ";
    tail += key;
    tail += '=';
    tail += EscapeControl(value);
  };
  if (fields.campaign != 0) add("campaign", std::to_string(fields.campaign));
  if (fields.delivery != 0) add("delivery", std::to_string(fields.delivery));
  if (fields.connection != 0) add("connection", std::to_string(fields.connection));
  if (!fields.site.empty()) add("site", fields.site);
  if (!fields.host.empty()) add("host", fields.host);
  if (!tail.empty()) tail += ']';
  Emit(fmt::format("{} {} {}{}\n", Stamp(now, true), name, message, tail));
}

}  // namespace postino::log
