// mx_resolver.h: DNS for outbound mail on c-ares, integrated in the libuv
// loop (ares sockets watched with uv_poll, ares timeouts on a uv_timer).
// MX lookup → hosts by preference (random order among equal preferences),
// each resolved to its addresses; no MX → the domain's own A/AAAA (implicit
// MX, RFC 5321 §5.1); null MX (RFC 7505) and NXDOMAIN → permanent;
// SERVFAIL/timeouts → temporary. Names must be ASCII (A-labels). Answers are
// cached for their TTL; concurrent lookups of one name share a query.
#pragma once

#include <uv.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/clock.h"
#include "common/status.h"

namespace postino::net {

struct MxHost {
  std::string name;                    // A-label host name (the domain itself for implicit MX)
  int preference = 0;
  std::vector<std::string> addresses;  // "192.0.2.1", "2001:db8::1"; IPv4 first
};

struct MxAnswer {
  enum class Error {
    kNone,
    kNullMx,     // RFC 7505: the domain accepts no mail (permanent)
    kNxDomain,   // the domain does not exist (permanent)
    kNoAddress,  // no MX and no A/AAAA (permanent)
    kTemporary,  // SERVFAIL, timeout, refused, MX hosts without addresses
  };
  Error error = Error::kNone;
  std::string detail;          // human-readable reason when error != kNone
  std::vector<MxHost> hosts;   // in the order to try
  bool implicit_mx = false;    // no MX records: the domain's own addresses
  bool from_cache = false;
};

struct ResolverOptions {
  std::vector<std::string> servers;  // "127.0.0.1:5353"; empty = /etc/resolv.conf
  std::chrono::milliseconds timeout{std::chrono::seconds(5)};  // per try
  int tries = 2;
  std::chrono::seconds max_ttl{std::chrono::hours(1)};  // cap on cached answers
  std::chrono::seconds negative_ttl{std::chrono::seconds(60)};  // NXDOMAIN / null MX / no address
  const Clock* clock = nullptr;  // null = SystemClock
};

class MxResolver {
 public:
  using MxCallback = std::function<void(const MxAnswer&)>;
  using AddressCallback = std::function<void(Result<std::vector<std::string>>)>;

  static Result<std::unique_ptr<MxResolver>> Create(uv_loop_t* loop, ResolverOptions options);
  ~MxResolver();  // cancels outstanding lookups (their callbacks do not run)
  MxResolver(const MxResolver&) = delete;
  MxResolver& operator=(const MxResolver&) = delete;

  // Resolves where mail for `domain` goes. The callback runs on the loop
  // thread, never inside this call.
  void ResolveMx(const std::string& domain, MxCallback callback);
  // Resolves a host name to its addresses (IPv4 first); IP literals too.
  void ResolveAddresses(const std::string& host, AddressCallback callback);
  // Lookups started and not yet answered.
  size_t pending() const;
  void ClearCache();

  class Impl;

 private:
  explicit MxResolver(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// A host name as the resolver uses it: lowercase, without a trailing dot.
// The resolver takes ASCII names only: recipient domains are A-labels from
// address::DomainToAscii (the one home of IDNA, see DESIGN.md) and names in
// DNS answers are ASCII. A non-ASCII or control byte is an error that says so.
Result<std::string> NormalizeDnsName(std::string_view name);

}  // namespace postino::net
