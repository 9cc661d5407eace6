// config.h: postino.toml as a plain struct, and the loader that fills it.
// Loading has no side effects (it only reads the file and the environment),
// so a SIGHUP reload can call LoadConfigFile again and keep the old Config
// when the new one is invalid. Every error names FILE:LINE:COLUMN, the key
// path (e.g. "routes[2].tls", indexes from 0) and what was expected.
// docs/configuration.md documents every key and its default.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/clock.h"
#include "common/status.h"
#include "common/rate.h"

namespace postino::config {

using Seconds = std::chrono::seconds;

enum class TlsMode { kNone, kOpportunistic, kRequired, kImplicit };
std::string_view TlsModeName(TlsMode mode);

struct DatabaseConfig {
  std::string url;  // required (or $POSTINO_DATABASE_URL)
};

struct NodeConfig {
  std::string id;  // default: the host name
  int batch_size = 1000;
  int lease_seconds = 300;
  int max_connections = 1000;  // outbound SMTP connections open at once, all destinations
  // Where `postino run` keeps results it could not write to PostgreSQL when
  // it has to exit (docs/scheduler.md); relative to the working directory.
  std::string journal_dir = "var";
  // How long `postino run` waits for an unreachable database before it
  // stops (results kept in the journal).
  int db_give_up_seconds = 300;
};

struct SourceConfig {
  std::string name;     // unique
  std::string address;  // bind address: IPv4 or IPv6 literal
  std::string ehlo;     // default: node id
};

struct PoolEntryConfig {
  std::string source;
  uint32_t weight = 1;
};

struct PoolConfig {
  std::string name;
  std::vector<PoolEntryConfig> entries;  // non-empty; at least one weight > 0
};

struct AuthConfig {
  std::string username;
  std::string password;      // literal, or read from password_env at load time
  std::string password_env;  // name of the variable it came from ("" = literal)
};

struct RouteConfig {
  std::string domain;  // "example.com", "*.example.com" or "*"
  enum class Kind { kMx, kStatic } kind = Kind::kMx;
  std::string host;    // kStatic
  uint16_t port = 25;  // kStatic
  TlsMode tls = TlsMode::kOpportunistic;
  std::optional<AuthConfig> auth;
  bool auth_requires_tls = true;
  // Send AUTH even when the server's certificate could not be verified
  // (explicit opt-out; see docs/configuration.md).
  bool auth_without_verified_tls = false;
  std::string pool;  // "" = default_pool
};

struct DnsConfig {
  std::vector<std::string> servers;  // "127.0.0.1:5353"; empty = /etc/resolv.conf
  uint16_t mx_port = 25;             // port for MX deliveries (tests override)
};

// One set of shaping limits; unset fields inherit (rule -> defaults).
struct LimitValues {
  std::optional<int> max_connections;       // per egress path
  std::optional<int> max_site_connections;  // per site, all sources
  std::optional<int> max_messages_per_connection;
  std::optional<int> max_recipients_per_message;       // RCPTs in one transaction
  std::optional<Rate> max_message_rate;     // per egress path
  std::optional<Rate> max_connection_rate;  // per egress path
  std::optional<TlsMode> tls;
  std::optional<std::vector<Nanos>> retry_schedule;
  std::optional<Nanos> max_age;
};

struct LimitRule {
  std::string match;  // recipient domain pattern ("gmail.com", "*.example.com"), or
  std::string mx;     // MX host pattern ("*.google.com"); exactly one is set
  LimitValues values;
};

struct LimitsConfig {
  LimitValues defaults;  // max_connections etc. always set after loading
  std::vector<LimitRule> rules;
};

// The limits that apply to one destination, every field resolved.
struct EffectiveLimits {
  int max_connections = 0;
  int max_site_connections = 0;
  int max_messages_per_connection = 0;
  int max_recipients_per_message = 0;
  std::optional<Rate> max_message_rate;  // nullopt = unlimited
  std::optional<Rate> max_connection_rate;
  std::optional<TlsMode> tls;  // nullopt = the route's TLS mode
  std::vector<Nanos> retry_schedule;
  Nanos max_age{0};
};

struct TimeoutsConfig {  // per SMTP phase, RFC 5321 §4.5.3.2 where it has one
  Seconds connect{30};
  Seconds banner{300};
  Seconds ehlo{300};
  Seconds starttls{120};
  Seconds mail{300};
  Seconds rcpt{300};
  Seconds data{120};
  Seconds body{180};
  Seconds end_of_data{600};
  Seconds quit{60};
};

struct WarmupSiteConfig {
  std::string site;  // domain or MX host pattern ("gmail.com", "*.google.com")
  std::vector<uint64_t> caps;
};

struct WarmupConfig {
  std::string source;
  std::chrono::sys_days start;  // UTC day 0
  std::vector<uint64_t> caps;   // daily caps; unlimited after the last
  std::vector<WarmupSiteConfig> sites;
};

struct BackoffRuleConfig {
  std::string match;  // RE2 regex, case-insensitive, over "CODE ENHANCED TEXT"
  std::string site;   // optional domain / MX pattern
  enum class Action { kSuspend, kSlow, kBounce } action = Action::kSuspend;
  Nanos duration{0};                                 // suspend/slow: how long
  std::optional<Rate> rate;               // slow: the reduced rate
  Nanos recovery_interval{std::chrono::minutes(5)};  // slow: rate doubles every interval
};

struct RetryConfig {
  std::vector<Nanos> schedule;  // default 5m 10m 20m 40m 1h 2h 4h (last repeats)
  Nanos max_age{std::chrono::hours(72)};
  double jitter = 0.1;  // ±fraction
};

struct DkimKeyConfig {
  std::string domain;
  std::string selector;
  std::string algorithm = "rsa-sha256";  // or "ed25519-sha256"
  std::string key_file;
};

struct DkimConfig {
  std::vector<DkimKeyConfig> keys;
  std::string canonicalization = "relaxed/relaxed";
  std::vector<std::string> headers;  // empty = the signer's default list
};

struct UnsubscribeConfig {
  std::string url_base;     // "https://example.com/u/"; needs a secret
  std::string mailto;       // "unsubscribe@example.com"
  std::string secret_file;  // where the token key was read from ("" = not a file)
  std::string secret_env;   // the variable it was read from ("" = not from the environment)
  std::string secret;       // the key of unsubscribe tokens (HMAC); "" = none configured
};

struct CampaignDefaultsConfig {
  std::string list_id;
  std::string feedback_id;
  std::string verp_domain;
};

struct SuppressionConfig {
  bool auto_suppress_hard_bounces = true;
};

// [submission]: the SMTP submission listener (inbound/, docs/submission.md).
struct SubmissionConfig {
  bool enabled = false;
  std::vector<std::string> listen;      // "0.0.0.0:587" (STARTTLS offered)
  std::vector<std::string> tls_listen;  // "0.0.0.0:465" (implicit TLS)
  std::string cert_file;                // PEM chain; reloaded on SIGHUP
  std::string key_file;
  std::string hostname;                 // banner/EHLO/Received ("" = [node] hostname, else host name)
  uint64_t max_message_size = 50 * 1024 * 1024;
  int max_recipients = 100;
  int max_commands = 10000;
  int max_errors = 10;
  Nanos idle_timeout = std::chrono::minutes(5);
  Nanos session_timeout = std::chrono::minutes(30);
  int max_connections = 1000;
  int max_connections_per_ip = 20;
  int auth_threads = 2;   // Argon2id checks in parallel
  int store_threads = 4;  // store transactions in parallel
  std::string pool;  // source pool for submitted mail ("" = default_pool)
  // Delivery of submitted mail and DSNs (scheduler/, docs/dsn.md).
  Nanos max_queue_time = std::chrono::hours(5 * 24);  // then the recipient expires (DSN)
  Nanos delay_warning = std::chrono::hours(4);        // delay DSN after this; 0 = none
  int recipients_per_message = 50;      // RCPTs of one message per SMTP transaction
  uint64_t dsn_return_limit = 1 << 20;  // RET=FULL returns messages up to this size
  std::string dsn_from;                 // "" = MAILER-DAEMON@<reporting host>
};

// [http]: the HTTP listener (http/, docs/http.md): one-click unsubscribe and
// its page, /metrics, /healthz. Off unless `listen` is set.
struct HttpConfig {
  std::vector<std::string> listen;  // "127.0.0.1:8080", "[::1]:8080"
  std::string cert_file;            // both set = HTTPS on every address
  std::string key_file;
  std::string public_url;           // "https://mail.example.com": where the page's form posts
  int threads = 4;                  // per listen address
  int max_connections = 1024;       // per listen address
  int max_connections_per_ip = 0;   // 0 = no limit (behind a reverse proxy)
  int idle_timeout_seconds = 15;
  int max_body_bytes = 16384;
  bool enabled() const { return !listen.empty(); }
};

// [returns]: bounces and complaints that arrive by mail (issue 13; see
// docs/returns.md). Empty verp_domains = [campaign_defaults] verp_domain.
struct ReturnsConfig {
  std::vector<std::string> verp_domains;
  std::vector<std::string> feedback_addresses;
  std::vector<std::string> listen;  // intake listener "IP:port" (inbound/returns_service.h)
  std::string cert_file, key_file;  // optional: STARTTLS on the intake listener
  std::string hostname;             // banner/Received name; "" = [submission] hostname, host name
  uint64_t max_message_size = 10 * 1024 * 1024;
};

struct Config {
  std::string file;  // where it was loaded from
  DatabaseConfig database;
  NodeConfig node;
  std::vector<SourceConfig> sources;
  std::vector<PoolConfig> pools;
  std::string default_pool;  // "" = a pool of every source, weight 1
  std::vector<RouteConfig> routes;
  DnsConfig dns;
  LimitsConfig limits;
  TimeoutsConfig timeouts;
  std::vector<WarmupConfig> warmup;
  std::vector<BackoffRuleConfig> backoff;
  bool use_default_backoff = true;
  RetryConfig retry;
  DkimConfig dkim;
  UnsubscribeConfig unsubscribe;
  CampaignDefaultsConfig campaign_defaults;
  SuppressionConfig suppression;
  SubmissionConfig submission;
  HttpConfig http;
  ReturnsConfig returns;  // issue 13

  const SourceConfig* FindSource(std::string_view name) const;
  const PoolConfig* FindPool(std::string_view name) const;
  // The most specific route for a recipient domain, or nullptr (MX delivery).
  const RouteConfig* FindRoute(std::string_view domain) const;
  // Limits for a destination: defaults, then every matching rule from the
  // least to the most specific (exact domain > "*.suffix" domain > MX
  // pattern; longer patterns first within a kind), each overriding the keys
  // it sets. `mx_hosts` may be empty when not resolved yet.
  EffectiveLimits LimitsFor(std::string_view domain,
                            const std::vector<std::string>& mx_hosts) const;
};

// Parses TOML text; `file_name` is used in error messages. Applies
// $POSTINO_DATABASE_URL. On error the Status (kInvalidArgument) lists every
// problem found, one "FILE:LINE:COL: KEY: what" line each.
Result<Config> ParseConfig(std::string_view text, std::string_view file_name);

// Reads and parses a file (see ParseConfig).
Result<Config> LoadConfigFile(const std::string& path);

// The config file to use: the --config flag if given, else $POSTINO_CONFIG,
// else "./postino.toml".
std::string ResolveConfigPath(std::string_view cli_flag);

}  // namespace postino::config
