// engine.h: the delivery engine facade used by `postino run` and the
// submission listener. It owns, on one libuv loop, the connection pools per
// egress path (source × MX site), the traffic shaping of those paths (limits,
// throttles, weighted source choice, warm-up caps, the path actions of the
// reply policy), the SMTP session drivers, the MX resolver and TLS. Callers
// submit messages on the loop thread and receive exactly one Outcome per
// message recipient, carrying the policy Decision that settled it.
//
// CONTRACT shared by engine/delivery (implementation) and scheduler/ (caller).
#pragma once

#include <uv.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/clock.h"
#include "common/rate.h"
#include "common/status.h"
#include "engine/policy/policy.h"
#include "engine/shaping/egress_path.h"
#include "engine/shaping/warmup.h"
#include "engine/smtp/client_session.h"

namespace postino::delivery {

// Where the engine sends mail for a recipient domain.
struct Route {
  std::string domain_pattern;  // "example.com", "*.example.com" or "*" (most specific wins)
  enum class Kind { kMx, kStatic } kind = Kind::kMx;
  std::string host;            // kStatic: host name or IP literal
  uint16_t port = 25;          // kStatic: port
  smtp::TlsMode tls = smtp::TlsMode::kOpportunistic;
  std::optional<smtp::AuthCredentials> auth;  // smarthost credentials
  bool auth_requires_tls = true;
  // kRequired / kImplicit: verify the certificate chain (system store +
  // EngineConfig::ca_file) and that it names `host` (or the MX host name).
  // Opportunistic TLS verifies only when the route has `auth` (see below);
  // otherwise it never does (it would fall back to plain anyway).
  bool tls_verify = true;
  // With `auth`, the peer's certificate must be verified (chain and name)
  // before AUTH is sent, whatever the TLS mode; when it is not, no AUTH is
  // sent and the message is deferred (local 4.7.0 reply). true: send AUTH
  // over TLS whose certificate was not verified (an explicit opt-out, for a
  // smarthost with a self-signed certificate on a trusted network).
  bool auth_without_verified_tls = false;
  // kStatic only. false: the route host is the MX site (every domain routed
  // there shares the site's limits). true: each recipient domain is its own
  // site (a relay that should still be shaped per destination domain).
  bool site_per_domain = false;
};

struct Source {
  std::string name;     // "ip1"
  std::string address;  // bind address, "127.0.0.10" or "::1"
  std::string ehlo;     // EHLO name announced from this source
  int weight = 1;
  std::string pool;     // pool this source belongs to ("" = only reachable by name)
};

// The shaping limits of one MX site, every field resolved (see
// docs/shaping.md "How the engine applies it").
struct PathLimits {
  int max_connections = 20;       // per egress path (source, site); <= 0 = unlimited
  int max_site_connections = 0;   // per site over all sources; <= 0 = unlimited
  int max_messages_per_connection = 100;
  // Recipients in one transaction (RFC 5321 §4.5.3.1.8: servers take at
  // least 100). A 452 at RCPT also lowers it for the site for a while.
  int max_recipients_per_message = 50;
  std::optional<Rate> max_message_rate;     // per path; nullopt = unlimited
  std::optional<Rate> max_connection_rate;  // new connections per path
  std::optional<smtp::TlsMode> tls;                    // overrides the route's TLS mode
};

// Limits for a site, given the first recipient domain that resolved to it
// and its MX host names (the route host for static routes).
using LimitsFunction =
    std::function<PathLimits(const std::string& domain, const std::vector<std::string>& mx_hosts)>;

struct EngineConfig {
  std::vector<Source> sources;           // at least one
  std::vector<Route> routes;             // no match => MX delivery
  std::vector<std::string> dns_servers;  // "127.0.0.1:5353"; empty = system resolv.conf
  uint16_t mx_port = 25;                 // port used for MX deliveries (override for tests)
  // Limits when `limits_for` is empty: max_connections per path and
  // max_messages_per_connection, no site limit, no rates.
  int max_connections_per_destination = 20;  // per (source, site)
  int max_messages_per_connection = 100;
  LimitsFunction limits_for;  // scheduler/engine_config.h maps postino.toml to it
  uint32_t rate_burst = 1;    // GCRA burst of the per-path message and connection rates
  // The reply policy: every distinct reply of a transaction (and every
  // failure before one) is classified once, and the engine acts on the
  // Decision (recipient, path suspend / slow down). null = the built-in
  // rules only (policy::DefaultPolicy()).
  std::shared_ptr<const policy::Policy> policy;
  // The time source of every shaping decision (rates, suspensions, warm-up
  // days, host failure memory, timestamps). Must outlive the engine.
  const Clock* clock = &SystemClock::Instance();
  std::vector<shaping::WarmupPlan> warmup;  // per-source daily caps
  // While some path is suspended, slowed or recovering, its state is checked
  // this often to report the change (PathEvent) and wake waiting messages.
  std::chrono::milliseconds path_watch_interval{std::chrono::seconds(1)};
  std::chrono::milliseconds idle_timeout{std::chrono::seconds(5)};  // QUIT an idle connection
  // Outbound connections open at once over every path (file descriptors,
  // ephemeral ports); <= 0 = unlimited. Destinations over it wait in FIFO
  // order, and idle connections with nothing queued are closed early for them.
  int max_total_connections = 1000;
  // A destination (and a site no destination uses any more, with nothing
  // open, waiting or shaped on it) idle this long is freed, so a run over
  // many small domains does not keep them all; checked every
  // min(10 s, this). Its DNS answer stays cached in the resolver.
  std::chrono::milliseconds destination_idle_ttl{std::chrono::seconds(60)};
  smtp::Timeouts timeouts;
  std::string ca_file;                   // extra CA bundle for verification (tests); "" = system store
  // A host that failed before any transaction (refused, timeout, 4xx banner,
  // TLS) is skipped for this long; a host whose STARTTLS handshake failed is
  // retried once in plain text and remembered as plain-only as long.
  std::chrono::milliseconds host_failure_ttl{std::chrono::seconds(60)};
  std::chrono::milliseconds dns_timeout{std::chrono::seconds(5)};
};

// One envelope recipient of an OutboundMessage.
struct Recipient {
  uint64_t id = 0;      // caller's id (delivery row), echoed in this recipient's Outcome
  std::string address;  // envelope recipient
  std::string domain;   // recipient domain, lowercase, A-label (ASCII)
};

// One message to one or more recipients. The engine splits the recipients
// by destination (recipient domain, or route) and sends the recipients of
// one destination in one transaction (MAIL, one RCPT each, DATA), at most
// PathLimits::max_recipients_per_message at a time. Every recipient gets
// exactly one Outcome: a rejected RCPT fails only that recipient, a 452
// "too many recipients" sends the rest in the next transaction at once.
struct OutboundMessage {
  std::string mail_from;             // envelope sender
  std::vector<Recipient> recipients;  // at least one
  std::shared_ptr<const std::string> data;  // RFC 5322 bytes, CRLF, not dot-stuffed
  std::string pool;               // source pool name ("" = all sources); matches
                                  // Source::pool, or Source::name for a single source
};

enum class Disposition {
  kDelivered,  // 2xx after end of data
  kDeferred,   // temporary: retry later
  kBounced,    // permanent: do not retry
};

struct Outcome {
  uint64_t id = 0;
  Disposition disposition = Disposition::kDeferred;
  smtp::Reply reply;           // the reply that decided it (possibly local)
  smtp::Phase phase = smtp::Phase::kConnect;  // where it was decided
  std::string source_address;  // "" when no connection was made
  std::string mx_host;         // host name or IP connected to
  std::string site;            // site key of the egress path ("" when no connection was made)
  std::string tls_version;     // "" when plain text
  std::string tls_cipher;
  std::chrono::system_clock::time_point finished_at;
  // The policy's decision on `reply` in `phase` (suppress, category, rule):
  // callers act on it and never classify again.
  policy::Decision decision;
};

// A change of an egress path's state, for the caller to record and show.
struct PathEvent {
  enum class Action {
    kSuspended,   // no new connection until `until`
    kSlowed,      // rate limited to `rate` until `until`
    kRecovering,  // the slow-down ended; the rate doubles step by step
    kResumed,     // back to the configured limits (suspension or slow-down over)
  };
  std::string source_name;
  std::string source_address;
  std::string site;    // site key (MakeSiteKey)
  std::string domain;  // recipient domain whose reply caused it ("" for time-driven changes)
  Action action = Action::kSuspended;
  std::string rule;    // policy rule name ("" for time-driven changes)
  std::string reply;   // the reply that caused it ("421 4.7.28 ...")
  std::chrono::system_clock::time_point until{};  // kSuspended / kSlowed
  std::optional<Rate> rate;           // the rate now in force (nullopt = unlimited)
  std::chrono::system_clock::time_point at{};
};
const char* PathEventActionName(PathEvent::Action a);

// Today's warm-up count of one source towards one site (site "" = counted
// only in the source's overall count).
struct WarmupCount {
  std::string source;  // source name
  std::string site;    // site key
  uint64_t count = 0;
};

// How much the engine holds now (for tests and monitoring).
struct EngineCounts {
  size_t destinations = 0;
  size_t sites = 0;
  size_t connections = 0;  // open or opening
  size_t resolving = 0;    // destinations waiting for a DNS answer
  size_t recipients = 0;   // in_flight()
  // When the engine next looks again at messages it holds back (a throttle,
  // a suspended path, a warm-up cap until the next UTC day); nullopt = no
  // such wait is armed.
  std::optional<std::chrono::nanoseconds> next_wake_in;
};

// Snapshot for `postino sources`.
struct PathSnapshot {
  std::string site;
  shaping::PathState state = shaping::PathState::kOpen;
  std::chrono::system_clock::time_point until{};  // end of a suspension (kSuspended)
  std::optional<Rate> rate;           // rate in force; nullopt = unlimited
  int open_connections = 0;
  size_t waiting = 0;  // messages assigned to this path, not yet sent
};
struct SourceSnapshot {
  std::string name;
  std::string address;
  bool active = true;                // false: removed by Reconfigure, connections closing
  enum class State { kOk, kSuspended, kCapped } state = State::kOk;
  int suspended_sites = 0;           // paths suspended now
  shaping::WarmupStatus warmup = shaping::WarmupStatus::kNotWarming;
  uint64_t sent_today = 0;           // messages handed to a site today (UTC)
  std::optional<uint64_t> cap_today; // nullopt = no cap
  std::vector<PathSnapshot> paths;   // paths that exist (a site was used from this source)
};

class Engine {
 public:
  using OutcomeHandler = std::function<void(Outcome)>;
  using PathEventHandler = std::function<void(PathEvent)>;

  // The loop must outlive the engine. The handler runs on the loop thread.
  Engine(uv_loop_t* loop, EngineConfig config, OutcomeHandler handler);
  ~Engine();
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;

  // Queue a message for delivery (loop thread only). Never blocks.
  void Submit(OutboundMessage message);
  // Recipients submitted whose Outcome has not been reported yet.
  size_t in_flight() const;
  // Takes back every queued recipient (not yet handed to an SMTP session)
  // for which `pred(id)` is true, and returns their ids; no Outcome is
  // reported for them (the others of the same message stay queued). Used to pause or cancel a campaign within a second.
  std::vector<uint64_t> Withdraw(const std::function<bool(uint64_t id)>& pred);
  // Stop taking new work: messages not yet handed to a session get a
  // kDeferred Outcome ("shutting down"), sessions finish their current
  // transaction and QUIT; `done` runs when every connection is closed.
  void Shutdown(std::function<void()> done);

  // Path state changes (suspend, slow, recovering, resumed) go to `handler`
  // on the loop thread. Set it before submitting.
  void SetPathEventHandler(PathEventHandler handler);
  // Applies a new configuration (SIGHUP) without dropping connections:
  // limits, rates, the reply policy, warm-up plans, pools and sources. Removed
  // sources take no new messages; their connections finish the current
  // transaction and QUIT. Routes, DNS and timeouts apply to destinations
  // created afterwards. Fails (and changes nothing) when no source is usable.
  Status Reconfigure(EngineConfig config);
  // Adds today's warm-up counts (e.g. read back from the database after a
  // restart). Call once at start, before submitting; counts of a previous
  // UTC day are not kept.
  void SeedWarmupCounts(const std::vector<WarmupCount>& counts);
  // Today's counts, for the caller to persist (one entry per source × site).
  std::vector<WarmupCount> WarmupCounts() const;
  // Path states still in force from before a restart (e.g. read back from
  // egress_events): each event with action kSuspended or kSlowed (with its
  // `rate`) whose `until` is in the future is applied to the path
  // (source_name, site) as soon as that path exists. No PathEvent is
  // reported for a seeded state itself; its end is (kResumed, or kRecovering
  // after a slow-down). Other events are ignored. Call once at start.
  void SeedPathStates(const std::vector<PathEvent>& active);
  // Ends the suspension or slow-down of the paths of `source_name` to
  // `site` ("" = every site) now, as an operator asked (`postino sources
  // resume`, read back from egress_events by the scheduler). A path whose
  // state changes reports kResumed; seeded states not yet applied are
  // dropped. Returns how many paths were lifted.
  size_t LiftPathStates(const std::string& source_name, const std::string& site);
  // Per-source and per-path state for `postino sources`.
  std::vector<SourceSnapshot> SourceStates() const;
  EngineCounts Counts() const;

  class Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace postino::delivery
