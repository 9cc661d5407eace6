// dns_query.h: blocking DNS lookups of any record type postino checks (TXT,
// A, AAAA, MX, PTR) on c-ares, for commands such as `postino dns check`
// (never the data plane, which uses MxResolver on the loop). Each lookup
// waits at most timeout × tries; the hosts file is never consulted.
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "common/status.h"

namespace postino::net {

struct DnsAnswer {
  enum class Code { kOk, kNxDomain, kNoData, kError };
  Code code = Code::kOk;
  std::string error;                 // kError: what failed (timeout, SERVFAIL...)
  std::vector<std::string> records;  // TXT: strings of one record joined; MX: "PREF host";
                                     // A/AAAA: addresses; PTR: names (no trailing dot)
  bool ok() const { return code == Code::kOk; }
  // NXDOMAIN or no records of the type: an empty, not failed, answer.
  bool empty_answer() const { return code == Code::kNxDomain || code == Code::kNoData; }
};

// The lookups SPF evaluation and the DNS checks need (a fake implements it in
// unit tests).
class DnsLookup {
 public:
  virtual ~DnsLookup() = default;
  virtual DnsAnswer Txt(const std::string& name) = 0;
  virtual DnsAnswer A(const std::string& name) = 0;
  virtual DnsAnswer Aaaa(const std::string& name) = 0;
  virtual DnsAnswer Mx(const std::string& name) = 0;
  virtual DnsAnswer Ptr(const std::string& ip) = 0;
};

class DnsClient final : public DnsLookup {
 public:
  // `servers`: "127.0.0.1:5353" entries; empty = /etc/resolv.conf.
  static Result<std::unique_ptr<DnsClient>> Create(const std::vector<std::string>& servers,
                                                   std::chrono::milliseconds timeout =
                                                       std::chrono::seconds(3),
                                                   int tries = 2);
  ~DnsClient() override;
  DnsAnswer Txt(const std::string& name) override;
  DnsAnswer A(const std::string& name) override;
  DnsAnswer Aaaa(const std::string& name) override;
  DnsAnswer Mx(const std::string& name) override;
  DnsAnswer Ptr(const std::string& ip) override;

  class Impl;

 private:
  explicit DnsClient(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace postino::net
