// backoff.h: adaptive backoff. Ordered rules match a reply ("CODE ENHANCED
// TEXT", case-insensitive ECMAScript regex, optionally only for one site or
// MX pattern) and pick an action: suspend the egress path, slow it to a
// rate, or bounce the message. The first matching rule wins. Applying an
// action to an EgressPath yields an event record for the caller to store.
#pragma once

#include <optional>
#include <regex>
#include <string>
#include <string_view>
#include <vector>

#include "common/clock.h"
#include "common/status.h"
#include "engine/shaping/path_key.h"
#include "engine/shaping/egress_path.h"
#include "common/rate.h"

namespace postino::shaping {

enum class BackoffAction { kSuspend, kSlow, kBounce };
const char* BackoffActionName(BackoffAction a);

struct BackoffRuleSpec {
  std::string name;     // for events and logs ("gmail-4.7.28")
  std::string pattern;  // regex over NormalizeReply() output
  std::string site;     // optional domain/MX pattern ("*.google.com"); "" = any
  BackoffAction action = BackoffAction::kSuspend;
  Nanos duration{std::chrono::hours(1)};
  std::optional<Rate> rate;  // kSlow
  Nanos recovery_interval{std::chrono::minutes(5)};
};

// "CODE ENHANCED TEXT" of a raw reply: the code of the final line, the
// enhanced code after it (if any), and the text of every line joined by
// single spaces, each line's "CODE-"/"CODE " and repeated enhanced code
// removed. Tolerates replies without a code (returns the text as is).
std::string NormalizeReply(std::string_view raw);

class BackoffRule {
 public:
  // Fails with the regex error when `spec.pattern` does not compile, or when
  // a slow rule has no rate.
  static Result<BackoffRule> Create(BackoffRuleSpec spec);
  const BackoffRuleSpec& spec() const { return spec_; }
  // `normalized` from NormalizeReply; `site_key` from MakeSiteKey.
  bool Matches(std::string_view normalized, std::string_view site_key) const;

 private:
  explicit BackoffRule(BackoffRuleSpec spec);
  BackoffRuleSpec spec_;
  std::regex re_;
};

// The built-in rules for the big providers (Gmail, Yahoo/AOL, Microsoft,
// Apple, Comcast, Orange/La Poste, blocklists, generic connection limits).
std::vector<BackoffRuleSpec> DefaultBackoffRuleSpecs();

struct BackoffEvent {
  PathKey path;
  BackoffAction action = BackoffAction::kSuspend;
  std::string rule;
  std::string reply;         // the raw reply text
  WallTime until{};          // end of suspend/slow (wall clock, for storage)
  std::optional<Rate> rate;  // kSlow
};

class BackoffPolicy {
 public:
  BackoffPolicy() = default;
  // `rules` in order; with `use_defaults` the built-in rules follow them.
  static Result<BackoffPolicy> Create(std::vector<BackoffRuleSpec> rules, bool use_defaults);

  // The first rule matching a raw reply on a site, or nullptr.
  const BackoffRule* Match(std::string_view raw_reply, std::string_view site_key) const;

  // Matches and, for suspend/slow, applies the action to `path_state`.
  // Returns the event to record (also for kBounce, which changes no path
  // state: the caller bounces the message), or nullopt when no rule matched.
  std::optional<BackoffEvent> Apply(const PathKey& path, std::string_view raw_reply,
                                    EgressPath* path_state, const Clock& clock) const;

  size_t size() const { return rules_.size(); }

 private:
  std::vector<BackoffRule> rules_;
};

}  // namespace postino::shaping
