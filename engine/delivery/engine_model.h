// engine_model.h: the delivery engine's data model (see engine.h), shared by
// the parts of Engine::Impl. Not for use outside engine/delivery.
//
// A Destination is (route or MX domain) × source pool and owns the queue of
// messages not yet given a source. A Site is the MX host set a destination
// resolved to; a Path is (source, site) and carries the message throttle,
// suspension/slow-down state and connection counts. A message is given a
// source by smooth weighted round-robin and moves into the destination's
// lane for that source, from which that source's connections take it when
// the path's throttle allows.
#pragma once

#include <sys/socket.h>

#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "common/clock.h"
#include "engine/delivery/connection.h"
#include "engine/delivery/engine.h"
#include "engine/shaping/egress_path.h"
#include "engine/shaping/source_pool.h"
#include "engine/shaping/throttle.h"

namespace postino::delivery {

// A reply made up by postino (no server said it).
smtp::Reply LocalReply(int code, std::string enhanced, const std::string& text);

// The route sends AUTH and must first verify the server's certificate
// (Route::auth_without_verified_tls not set; plain-text AUTH not allowed).
inline bool AuthNeedsVerifiedTls(const Route& route) {
  return route.auth.has_value() && route.auth_requires_tls && !route.auth_without_verified_tls;
}

struct HostEntry {
  std::string name;  // MX / route host name
  std::string ip;
  uint16_t port = 25;
  int family = AF_INET;
  sockaddr_storage address{};
};

// One configured source address. Never freed while the engine lives (a
// removed source is marked inactive), so paths and connections may point at it.
struct SourceEntry {
  Source config;
  sockaddr_storage address{};
  int family = AF_INET;
  bool active = true;
};

struct Site;
struct Destination;

// An egress path: one source towards one site.
struct Path {
  SourceEntry* source = nullptr;
  Site* site = nullptr;
  shaping::EgressPath egress;
  std::optional<shaping::Throttle> connect_rate;
  int open = 0;        // open connections (all destinations of the site)
  size_t waiting = 0;  // messages in lanes for this path
  shaping::PathState reported = shaping::PathState::kOpen;
  bool watched = false;
  std::vector<Connection*> connections;
};

struct Site {
  std::string key;                    // MakeSiteKey
  std::string domain;                 // the domain whose limits apply (first seen)
  std::vector<std::string> mx_hosts;  // host names (route host for static routes)
  PathLimits limits;
  int open = 0;          // open connections over all sources
  int destinations = 0;  // destinations attached to this site
  MonoTime last_used;    // a destination of this site was last pumped with work
  // Recipients per transaction the site took before answering 452 "too
  // many recipients" (0 = none seen); lowers limits.max_recipients_per_message.
  size_t learned_rcpt_limit = 0;
  MonoTime learned_rcpt_limit_until;  // the learned limit is forgotten then
  std::unordered_map<const SourceEntry*, std::unique_ptr<Path>> paths;
  // Destinations that could not open a connection for a path or site limit;
  // woken when a connection of the site closes.
  std::unordered_set<Destination*> waiting_for_slot;
};

using MessageQueue = std::deque<std::unique_ptr<Pending>>;

struct Destination {
  std::string key;
  std::string domain;  // recipient domain (MX) or route host (static)
  std::string pool;
  Route route;  // effective route (kMx with defaults when none matched)
  enum class State { kUnresolved, kResolving, kReady, kFailed } state = State::kUnresolved;
  std::vector<HostEntry> hosts;
  MonoTime hosts_expire;
  smtp::Reply resolve_failure;
  Disposition resolve_disposition = Disposition::kDeferred;
  MessageQueue queue;                                     // no source chosen yet
  std::unordered_map<SourceEntry*, MessageQueue> lanes;  // source chosen, waiting to be sent
  size_t lane_messages = 0;
  std::vector<Connection*> connections;  // open ones (owned by Impl::connections_)
  std::optional<smtp::Reply> last_failure;
  smtp::Phase last_failure_phase = smtp::Phase::kConnect;
  bool has_tried_messages = false;  // some queued message was refused by a host (next MX)
  Site* site = nullptr;             // set once resolved
  // The pool's sources (parallel to wrr's entries), rebuilt after Reconfigure.
  std::vector<SourceEntry*> members;
  std::optional<shaping::SourcePool> wrr;
  uint64_t pool_generation = 0;
  MonoTime wake_at = MonoTime::max();
  size_t open_rotation = 0;  // fairness between lanes when opening connections
  size_t wake_entries = 0;   // entries in the wake-up queue naming it (stale ones too)
  MonoTime last_used;        // last pumped with work, or a connection closed
  // Its turn for a connection slot came while its DNS answer had expired:
  // it re-joins the slot queue at the front once resolved.
  bool keeps_slot_turn = false;
  bool empty() const { return queue.empty() && lane_messages == 0; }
};

}  // namespace postino::delivery
