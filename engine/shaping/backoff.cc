// backoff.cc: reply normalization, backoff rule matching and application.
#include "engine/shaping/backoff.h"

#include <fmt/format.h>

#include "engine/shaping/site.h"

namespace postino::shaping {
namespace {

bool IsDigit(char c) { return c >= '0' && c <= '9'; }

// Length of an RFC 3463 code ("4.7.28") at the start of `s`, or 0.
size_t EnhancedCodeLength(std::string_view s) {
  if (s.size() < 5 || (s[0] != '2' && s[0] != '4' && s[0] != '5') || s[1] != '.') return 0;
  size_t i = 2;
  size_t start = i;
  while (i < s.size() && IsDigit(s[i]) && i - start < 3) ++i;
  if (i == start || i >= s.size() || s[i] != '.') return 0;
  ++i;
  start = i;
  while (i < s.size() && IsDigit(s[i]) && i - start < 3) ++i;
  if (i == start) return 0;
  if (i < s.size() && s[i] != ' ' && s[i] != '\t') return 0;
  return i;
}

std::string_view TrimLeft(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  return s;
}

}  // namespace

const char* BackoffActionName(BackoffAction a) {
  switch (a) {
    case BackoffAction::kSuspend:
      return "suspend";
    case BackoffAction::kSlow:
      return "slow";
    case BackoffAction::kBounce:
      return "bounce";
  }
  return "?";
}

std::string NormalizeReply(std::string_view raw) {
  std::string code, enhanced, text;
  while (!raw.empty()) {
    size_t nl = raw.find('\n');
    std::string_view line = raw.substr(0, nl);
    raw = nl == std::string_view::npos ? std::string_view() : raw.substr(nl + 1);
    while (!line.empty() && (line.back() == '\r' || line.back() == ' ')) line.remove_suffix(1);
    if (line.size() >= 3 && IsDigit(line[0]) && IsDigit(line[1]) && IsDigit(line[2]) &&
        (line.size() == 3 || line[3] == ' ' || line[3] == '-')) {
      code = std::string(line.substr(0, 3));
      line = line.substr(std::min<size_t>(4, line.size()));
    }
    line = TrimLeft(line);
    if (size_t n = EnhancedCodeLength(line); n > 0) {
      enhanced = std::string(line.substr(0, n));
      line = TrimLeft(line.substr(n));
    }
    if (line.empty()) continue;
    if (!text.empty()) text += ' ';
    text += line;
  }
  std::string out = code;
  if (!enhanced.empty()) out += (out.empty() ? "" : " ") + enhanced;
  if (!text.empty()) out += (out.empty() ? "" : " ") + text;
  return out;
}

BackoffRule::BackoffRule(BackoffRuleSpec spec)
    : spec_(std::move(spec)),
      re_(spec_.pattern, std::regex::ECMAScript | std::regex::icase | std::regex::optimize) {}

Result<BackoffRule> BackoffRule::Create(BackoffRuleSpec spec) {
  if (spec.action == BackoffAction::kSlow && (!spec.rate || !spec.rate->valid())) {
    return Status::InvalidArgument(
        fmt::format("backoff rule \"{}\": action slow needs a rate", spec.name));
  }
  if (spec.action != BackoffAction::kBounce && spec.duration.count() <= 0) {
    return Status::InvalidArgument(
        fmt::format("backoff rule \"{}\": duration must be positive", spec.name));
  }
  try {
    return BackoffRule(std::move(spec));
  } catch (const std::regex_error& e) {
    return Status::InvalidArgument(
        fmt::format("backoff rule \"{}\": \"{}\" is not a valid regular expression: {}", spec.name,
                    spec.pattern, e.what()));
  }
}

bool BackoffRule::Matches(std::string_view normalized, std::string_view site_key) const {
  if (!spec_.site.empty() && !SiteMatches(spec_.site, site_key)) return false;
  return std::regex_search(normalized.begin(), normalized.end(), re_);
}

Result<BackoffPolicy> BackoffPolicy::Create(std::vector<BackoffRuleSpec> rules, bool use_defaults) {
  if (use_defaults) {
    for (BackoffRuleSpec& s : DefaultBackoffRuleSpecs()) rules.push_back(std::move(s));
  }
  BackoffPolicy policy;
  for (BackoffRuleSpec& s : rules) {
    Result<BackoffRule> r = BackoffRule::Create(std::move(s));
    if (!r.ok()) return r.status();
    policy.rules_.push_back(std::move(r).value());
  }
  return policy;
}

const BackoffRule* BackoffPolicy::Match(std::string_view raw_reply,
                                        std::string_view site_key) const {
  std::string normalized = NormalizeReply(raw_reply);
  for (const BackoffRule& r : rules_) {
    if (r.Matches(normalized, site_key)) return &r;
  }
  return nullptr;
}

std::optional<BackoffEvent> BackoffPolicy::Apply(const PathKey& path, std::string_view raw_reply,
                                                 EgressPath* path_state, const Clock& clock) const {
  const BackoffRule* rule = Match(raw_reply, path.site);
  if (rule == nullptr) return std::nullopt;
  const BackoffRuleSpec& s = rule->spec();
  BackoffEvent ev;
  ev.path = path;
  ev.action = s.action;
  ev.rule = s.name;
  ev.reply = std::string(raw_reply);
  MonoTime now = clock.Now();
  WallTime wall = clock.WallNow();
  switch (s.action) {
    case BackoffAction::kSuspend:
      path_state->Suspend(now + s.duration);
      ev.until = wall + std::chrono::duration_cast<WallTime::duration>(s.duration);
      break;
    case BackoffAction::kSlow:
      path_state->Slow(*s.rate, now + s.duration, s.recovery_interval);
      ev.until = wall + std::chrono::duration_cast<WallTime::duration>(s.duration);
      ev.rate = s.rate;
      break;
    case BackoffAction::kBounce:
      ev.until = wall;
      break;
  }
  return ev;
}

}  // namespace postino::shaping
