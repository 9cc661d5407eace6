// config_parser.h: the parser behind ParseConfig. Parser reads postino.toml
// section by section (Run in config.cc; the sections in config_sections.cc,
// config_shaping.cc and config_mail.cc); the value checks and readers the
// sections share are in config_values.cc. Internal to config/.
#pragma once

#include <toml++/toml.h>

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "config/config.h"
#include "config/toml_reader.h"

namespace postino::config::internal {

// True iff `s` is an IPv4 or IPv6 address.
bool IsIpLiteral(const std::string& s);

// Splits "host:port" / "[v6]:port" / "host" (port = default_port).
bool SplitHostPort(const std::string& text, uint16_t default_port, std::string* host,
                   uint16_t* port);

// "example.com", "*.example.com" or "*".
bool ValidDomainPattern(const std::string& p);

// The machine's host name ("localhost" when it has none).
std::string HostName();

bool ReadTls(TableReader& t, std::string_view key, TlsMode* out);
void ReadInt(TableReader& t, std::string_view key, int64_t min, int64_t max, int* out);
void ReadOptInt(TableReader& t, std::string_view key, int64_t min, int64_t max,
                std::optional<int>* out);

class Parser {
 public:
  Parser(const toml::table& root, ErrorSink* sink);

  Config Run();

 private:
  // config_sections.cc
  void Database(Config& c);
  void Node(Config& c);
  void Sources(Config& c);
  void Pools(Config& c);
  void CheckPool(TableReader& t, std::string_view key, const std::string& name, const Config& c);
  void Routes(Config& c);
  void Dns(Config& c);
  void Timeouts(Config& c);
  void Retry(Config& c);

  // config_shaping.cc
  void LimitKeys(TableReader& t, LimitValues* v, bool rule);
  void Limits(Config& c);
  void Warmup(Config& c);
  void ReadDate(TableReader& t, const toml::node& n, std::chrono::sys_days* out);
  void ReadCaps(TableReader& t, std::string_view key, std::vector<uint64_t>* out, bool required);
  void Backoff(Config& c);

  // config_mail.cc
  void Dkim(Config& c);
  void Small(Config& c);
  void Unsubscribe(TableReader& t, UnsubscribeConfig& u);
  void Submission(TableReader& t, Config& c);
  void SubmissionQueue(TableReader& t, SubmissionConfig& s);

  // config_http.cc
  void Http(Config& c);

  // config_returns.cc
  void Returns(Config& c);

  TableReader root_;
  ErrorSink* sink_;
};

}  // namespace postino::config::internal
