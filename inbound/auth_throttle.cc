// auth_throttle.cc: per-IP and per-user AUTH failure counting (see
// auth_throttle.h).
#include "inbound/auth_throttle.h"

#include <algorithm>

namespace postino::inbound {

AuthThrottle::AuthThrottle(AuthThrottleOptions options, const Clock* clock)
    : options_(options), clock_(clock) {}

bool AuthThrottle::Locked(std::unordered_map<std::string, Entry>& map, const std::string& key,
                          MonoTime now) {
  auto it = map.find(key);
  return it != map.end() && it->second.locked_until > now;
}

AuthThrottle::Entry& AuthThrottle::Touch(std::unordered_map<std::string, Entry>& map,
                                         const std::string& key, MonoTime now) {
  auto it = map.find(key);
  if (it == map.end()) {
    if (map.size() >= options_.max_entries) {
      // Drop expired entries; if none, the oldest one.
      for (auto e = map.begin(); e != map.end();) {
        bool expired = e->second.first + options_.window < now && e->second.locked_until <= now;
        e = expired ? map.erase(e) : std::next(e);
      }
      if (map.size() >= options_.max_entries) {
        auto oldest = std::min_element(map.begin(), map.end(), [](const auto& a, const auto& b) {
          return a.second.first < b.second.first;
        });
        map.erase(oldest);
      }
    }
    it = map.emplace(key, Entry{0, now, {}}).first;
  }
  Entry& e = it->second;
  if (e.first + options_.window < now && e.locked_until <= now) e = Entry{0, now, {}};
  return e;
}

AuthThrottle::Verdict AuthThrottle::Check(const std::string& ip, const std::string& user) {
  MonoTime now = clock_->Now();
  if (Locked(by_ip_, ip, now)) return Verdict::kIpLocked;
  if (Locked(by_user_, user, now)) return Verdict::kUserLocked;
  return Verdict::kAllow;
}

std::chrono::milliseconds AuthThrottle::Failure(const std::string& ip, const std::string& user) {
  MonoTime now = clock_->Now();
  Entry& i = Touch(by_ip_, ip, now);
  ++i.failures;
  if (i.failures >= options_.ip_failures) i.locked_until = now + options_.lockout;
  int ip_failures = i.failures;
  Entry& u = Touch(by_user_, user, now);
  ++u.failures;
  if (u.failures >= options_.user_failures) u.locked_until = now + options_.lockout;
  int n = std::max(ip_failures, u.failures);
  auto delay = options_.first_delay;
  for (int k = 1; k < n && delay < options_.max_delay; ++k) delay *= 2;
  return std::min(delay, options_.max_delay);
}

void AuthThrottle::Success(const std::string& ip, const std::string& user) {
  by_user_.erase(user);
  auto it = by_ip_.find(ip);
  if (it != by_ip_.end() && it->second.locked_until <= clock_->Now()) by_ip_.erase(it);
}

}  // namespace postino::inbound
