// host_memory.h: the engine's short memory of hosts (IP and port) that
// failed before any transaction (refused, timeout, 4xx banner, TLS): such a
// host is skipped for a while so the next MX is tried instead; and of hosts
// whose STARTTLS handshake failed, which are then used in plain text only.
// Pure state on an injected Clock.
#pragma once

#include <chrono>
#include <string>
#include <unordered_map>

#include "common/clock.h"
#include "engine/delivery/engine_model.h"

namespace postino::delivery {

class HostMemory {
 public:
  HostMemory(const Clock& clock, std::chrono::milliseconds ttl) : clock_(clock), ttl_(ttl) {}

  // The host failed in `phase` with `reply`: skip it for the ttl.
  void MarkFailed(const HostEntry& h, const smtp::Reply& reply, smtp::Phase phase);
  // Not failed, or its failure is older than the ttl.
  bool Usable(const HostEntry& h) const;
  // Its STARTTLS handshake failed: plain text only for the ttl.
  void MarkPlainOnly(const HostEntry& h);
  // True while the host is remembered as plain-only (forgets expired entries).
  bool PlainOnly(const HostEntry& h);
  // A new ttl (Reconfigure) for hosts marked from now on.
  void set_ttl(std::chrono::milliseconds ttl) { ttl_ = ttl; }

 private:
  static std::string Key(const HostEntry& h) { return h.ip + "|" + std::to_string(h.port); }

  const Clock& clock_;
  std::chrono::milliseconds ttl_;
  std::unordered_map<std::string, MonoTime> failed_until_;
  std::unordered_map<std::string, MonoTime> plain_only_until_;
};

}  // namespace postino::delivery
