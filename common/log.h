// log.h: leveled logging to stderr with fmt formatting. One entry per call,
// prefixed with the UTC time and the level; safe from any thread. Messages
// are written escaped (common/strings.h EscapeControl: control characters,
// backslashes and non-UTF-8 bytes), so text from a peer cannot move the
// terminal or forge entries; a newline in the message starts a continuation
// line indented by two spaces.
#pragma once

#include <fmt/format.h>

#include <string_view>

namespace postino::log {

enum class Level { kDebug = 0, kInfo = 1, kWarn = 2, kError = 3, kOff = 4 };

// Messages below this level are dropped. Default kInfo; POSTINO_LOG_LEVEL
// (debug|info|warn|error|off) overrides it at first use.
void SetLevel(Level level);
Level GetLevel();
bool ParseLevel(std::string_view name, Level* out);

void Write(Level level, std::string_view message);

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
