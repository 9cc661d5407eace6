// address.h: IP literals and "host:port" strings to and from socket addresses.
#pragma once

#include <sys/socket.h>

#include <cstdint>
#include <string>
#include <string_view>

#include "common/status.h"

namespace postino::net {

// Builds a socket address from an IPv4 or IPv6 literal ("127.0.0.1", "::1",
// "[::1]"). Fails with kInvalidArgument when `ip` is not a literal.
Status MakeSockaddr(std::string_view ip, uint16_t port, sockaddr_storage* out);
// True when `host` is an IPv4 or IPv6 literal.
bool IsIpLiteral(std::string_view host);
// The address part of a socket address ("127.0.0.1", "::1"); "" if unknown.
std::string SockaddrIp(const sockaddr* addr);
uint16_t SockaddrPort(const sockaddr* addr);

struct HostPort {
  std::string host;
  uint16_t port = 0;
};
// Parses "host:port", "[v6]:port" or "host" (then port = default_port).
Result<HostPort> ParseHostPort(std::string_view text, uint16_t default_port);

}  // namespace postino::net
