// log.h: leveled logging to stderr with fmt formatting. One entry per call,
// prefixed with the UTC time and the level; safe from any thread. Messages
// are written escaped (common/strings.h EscapeControl: control characters,
// backslashes and non-UTF-8 bytes), so text from a peer cannot move the
// terminal or forge entries; a newline in the message starts a continuation
// line indented by two spaces.
//
// `--log-format json` (SetFormat(kJson)) writes one JSON object per line
// instead: {"time":"2026-12-02T09:10:24.123Z","level":"info","message":…}
// plus the structured Fields of the entry when known (campaign, delivery,
// connection, site, host). Times inside messages are written with IsoTime,
// never as raw Unix seconds.
#pragma once

#include <fmt/format.h>

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

namespace postino::log {

enum class Level { kDebug = 0, kInfo = 1, kWarn = 2, kError = 3, kOff = 4 };

// Messages below this level are dropped. Default kInfo; POSTINO_LOG_LEVEL
// (debug|info|warn|error|off) overrides it at first use.
void SetLevel(Level level);
Level GetLevel();
bool ParseLevel(std::string_view name, Level* out);

enum class Format { kText = 0, kJson = 1 };
// Default kText; POSTINO_LOG_FORMAT (text|json) overrides it at first use.
void SetFormat(Format format);
Format GetFormat();
bool ParseFormat(std::string_view name, Format* out);

// Ids an entry is about; 0 / "" = not known. In text format they follow the
// message as " [campaign=3 delivery=17 connection=12 site=… host=…]"; in JSON
// they are members of the object (numbers for ids).
struct Fields {
  int64_t campaign = 0;
  int64_t delivery = 0;
  uint64_t connection = 0;
  std::string site = {};
  std::string host = {};
};

// "2026-12-02T09:10:24Z" (UTC, ISO 8601), for times inside messages.
std::string IsoTime(std::chrono::system_clock::time_point t);

void Write(Level level, std::string_view message);
void Write(Level level, const Fields& fields, std::string_view message);

// With fields: log::InfoF({.campaign = 3}, "…", …).
template <typename... Args>
void DebugF(const Fields& fields, fmt::format_string<Args...> f, Args&&... args) {
  if (GetLevel() <= Level::kDebug) {
    Write(Level::kDebug, fields, fmt::format(f, std::forward<Args>(args)...));
  }
}
template <typename... Args>
void InfoF(const Fields& fields, fmt::format_string<Args...> f, Args&&... args) {
  if (GetLevel() <= Level::kInfo) Write(Level::kInfo, fields, fmt::format(f, std::forward<Args>(args)...));
}
template <typename... Args>
void WarnF(const Fields& fields, fmt::format_string<Args...> f, Args&&... args) {
  if (GetLevel() <= Level::kWarn) Write(Level::kWarn, fields, fmt::format(f, std::forward<Args>(args)...));
}
template <typename... Args>
void ErrorF(const Fields& fields, fmt::format_string<Args...> f, Args&&... args) {
  if (GetLevel() <= Level::kError) {
    Write(Level::kError, fields, fmt::format(f, std::forward<Args>(args)...));
  }
}

template <typename... Args>
void Debug(fmt::format_string<Args...> f, Args&&... args) {
  if (GetLevel() <= Level::kDebug) Write(Level::kDebug, fmt::format(f, std::forward<Args>(args)...));
}
template <typename... Args>
void Info(fmt::format_string<Args...> f, Args&&... args) {
  if (GetLevel() <= Level::kInfo) Write(Level::kInfo, fmt::format(f, std::forward<Args>(args)...));
}
template <typename... Args>
void Warn(fmt::format_string<Args...> f, Args&&... args) {
  if (GetLevel() <= Level::kWarn) Write(Level::kWarn, fmt::format(f, std::forward<Args>(args)...));
}
template <typename... Args>
void Error(fmt::format_string<Args...> f, Args&&... args) {
  if (GetLevel() <= Level::kError) Write(Level::kError, fmt::format(f, std::forward<Args>(args)...));
}

}  // namespace postino::log
