// auth_throttle.h: slows down password guessing on the submission listener.
// Failures are counted per client IP and per user name inside a window;
// each failure delays the reply more (250 ms doubling, at most 8 s), and
// past a threshold the IP (421 4.7.0, connection closed) or the user
// (454 4.7.0) is locked out for a while. A success clears the user's and
// the IP's counts. Memory is bounded: at most `max_entries` keys per kind,
// the oldest dropped first. Loop thread only; time from an injected Clock.
#pragma once

#include <chrono>
#include <cstddef>
#include <string>
#include <unordered_map>

#include "common/clock.h"

namespace postino::inbound {

struct AuthThrottleOptions {
  int ip_failures = 10;    // failures per IP in `window` before the IP is locked out
  int user_failures = 5;   // failures per user in `window` before the user is locked out
  std::chrono::seconds window{std::chrono::minutes(15)};
  std::chrono::seconds lockout{std::chrono::minutes(15)};
  std::chrono::milliseconds first_delay{250};
  std::chrono::milliseconds max_delay{8000};
  size_t max_entries = 100000;
};

class AuthThrottle {
 public:
  enum class Verdict { kAllow, kIpLocked, kUserLocked };

  AuthThrottle(AuthThrottleOptions options, const Clock* clock);

  // Before checking a password.
  Verdict Check(const std::string& ip, const std::string& user);
  // After a wrong password: how long to wait before replying.
  std::chrono::milliseconds Failure(const std::string& ip, const std::string& user);
  void Success(const std::string& ip, const std::string& user);

 private:
  struct Entry {
    int failures = 0;
    MonoTime first{};
    MonoTime locked_until{};
  };
  bool Locked(std::unordered_map<std::string, Entry>& map, const std::string& key, MonoTime now);
  Entry& Touch(std::unordered_map<std::string, Entry>& map, const std::string& key, MonoTime now);

  AuthThrottleOptions options_;
  const Clock* clock_;
  std::unordered_map<std::string, Entry> by_ip_;
  std::unordered_map<std::string, Entry> by_user_;
};

}  // namespace postino::inbound
