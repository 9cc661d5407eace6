// config.cc: the entry points of config.h — reading postino.toml into a
// Config, with positioned errors — and the order in which Parser reads the
// sections (the sections themselves are in config_sections.cc,
// config_shaping.cc and config_mail.cc).
#include "config/config.h"

#include <fmt/format.h>

#include <cstdlib>
#include <fstream>
#include <sstream>

#include "config/config_parser.h"
#include "config/toml_reader.h"

namespace postino::config {

namespace internal {

Parser::Parser(const toml::table& root, ErrorSink* sink) : root_(sink, &root, ""), sink_(sink) {
  sink->set_root_keys({"default_pool", "use_default_backoff"});
}

Config Parser::Run() {
  Config c;
  c.file = sink_->file();
  Database(c);
  Node(c);
  Sources(c);
  Pools(c);
  Routes(c);
  Dns(c);
  Limits(c);
  Timeouts(c);
  Warmup(c);
  Backoff(c);
  Retry(c);
  Dkim(c);
  Small(c);
  Http(c);
  Returns(c);
  root_.Finish();
  return c;
}

}  // namespace internal

using internal::ErrorSink;
using internal::Parser;

Result<Config> ParseConfig(std::string_view text, std::string_view file_name) {
  ErrorSink sink{std::string(file_name)};
  try {
    toml::table root = toml::parse(text, file_name);
    Config config = Parser(root, &sink).Run();
    if (sink.empty()) return config;
  } catch (const toml::parse_error& e) {
    sink.Add(e.source(), "", fmt::format("TOML syntax error: {}", e.description()));
  } catch (const std::exception& e) {
    sink.AddAt(1, 1, "", fmt::format("cannot parse: {}", e.what()));
  }
  std::string message;
  for (const std::string& line : sink.errors()) {
    if (!message.empty()) message += '\n';
    message += line;
  }
  return Status::InvalidArgument(std::move(message));
}

Result<Config> LoadConfigFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return Status::NotFound(fmt::format(
        "{}: cannot open the configuration file; pass --config PATH or set $POSTINO_CONFIG", path));
  }
  std::ostringstream buf;
  buf << in.rdbuf();
  if (in.bad()) return Status::IoError(fmt::format("{}: read error", path));
  return ParseConfig(buf.str(), path);
}

std::string ResolveConfigPath(std::string_view cli_flag) {
  if (!cli_flag.empty()) return std::string(cli_flag);
  if (const char* env = std::getenv("POSTINO_CONFIG"); env != nullptr && *env != '\0') {
    return env;
  }
  return "./postino.toml";
}

}  // namespace postino::config
