// mx_resolver.cc: c-ares MX resolution on the libuv loop (see mx_resolver.h).
#include "engine/net/mx_resolver.h"

#include <ares.h>
#include <arpa/nameser.h>

#include <algorithm>
#include <cstring>
#include <mutex>
#include <random>
#include <unordered_map>

#include "common/log.h"
#include "common/strings.h"
#include "engine/net/address.h"

namespace postino::net {

Result<std::string> NormalizeDnsName(std::string_view name) {
  if (!name.empty() && name.back() == '.') name.remove_suffix(1);
  if (name.empty()) return Status::InvalidArgument("empty domain");
  for (char c : name) {
    auto u = static_cast<unsigned char>(c);
    if (u >= 0x80 || u <= 0x20 || u == 0x7F) {
      return Status::InvalidArgument(
          "domain \"" + EscapeControl(name) +
          "\" is not an ASCII host name (an internationalized name must be converted to "
          "A-labels with address::DomainToAscii before it reaches the resolver)");
    }
  }
  return AsciiLower(name);
}

namespace {

// The smallest TTL of the answer section of a DNS message; `fallback` when
// there is none or the message does not parse.
uint32_t MinAnswerTtl(const unsigned char* abuf, int alen, uint32_t fallback) {
  if (alen < 12) return fallback;
  int qdcount = (abuf[4] << 8) | abuf[5];
  int ancount = (abuf[6] << 8) | abuf[7];
  const unsigned char* p = abuf + 12;
  const unsigned char* end = abuf + alen;
  auto skip_name = [&]() -> bool {
    char* name = nullptr;
    long len = 0;
    if (ares_expand_name(p, abuf, alen, &name, &len) != ARES_SUCCESS) return false;
    ares_free_string(name);
    p += len;
    return p <= end;
  };
  for (int i = 0; i < qdcount; ++i) {
    if (!skip_name() || end - p < 4) return fallback;
    p += 4;
  }
  uint32_t min_ttl = UINT32_MAX;
  for (int i = 0; i < ancount; ++i) {
    if (!skip_name() || end - p < 10) break;
    uint32_t ttl = (static_cast<uint32_t>(p[4]) << 24) | (p[5] << 16) | (p[6] << 8) | p[7];
    int rdlen = (p[8] << 8) | p[9];
    p += 10;
    if (end - p < rdlen) break;
    p += rdlen;
    min_ttl = std::min(min_ttl, ttl);
  }
  return min_ttl == UINT32_MAX ? fallback : min_ttl;
}

void InitAresOnce() {
  static std::once_flag once;
  std::call_once(once, [] { ares_library_init(ARES_LIB_INIT_ALL); });
}

struct PollBox {
  uv_poll_t poll;
  MxResolver::Impl* impl;  // null once the resolver is gone
  ares_socket_t fd;
};

struct TimerBox {
  uv_timer_t timer;
  MxResolver::Impl* impl;
};

}  // namespace

class MxResolver::Impl {
 public:
  Impl(uv_loop_t* loop, ResolverOptions options) : loop_(loop), options_(std::move(options)) {
    clock_ = options_.clock ? options_.clock : &SystemClock::Instance();
    rng_.seed(std::random_device{}());
  }
  ~Impl();

  Status Init();
  void ResolveMx(const std::string& domain, MxCallback callback);
  void ResolveAddresses(const std::string& host, AddressCallback callback);
  size_t pending() const { return mx_inflight_.size() + addr_inflight_.size(); }
  void ClearCache() {
    mx_cache_.clear();
    addr_cache_.clear();
  }

 private:
  struct MxLookup {
    std::string domain;
    std::vector<MxCallback> waiters;
    MxAnswer answer;
    size_t hosts_left = 0;
    uint32_t ttl = UINT32_MAX;
  };
  struct AddrLookup {
    std::string host;
    std::vector<AddressCallback> waiters;
  };
  struct CachedMx {
    MxAnswer answer;
    MonoTime expires;
  };
  struct CachedAddr {
    std::vector<std::string> addresses;
    MonoTime expires;
  };
  // Outcome of one getaddrinfo: addresses (IPv4 first), TTL, c-ares status.
  using AddrDone = std::function<void(int status, std::vector<std::string>, uint32_t ttl)>;

  static void OnSockState(void* data, ares_socket_t fd, int readable, int writable);
  void OnPoll(PollBox* box, int status, int events);
  void RescheduleTimer();
  void Defer(std::function<void()> fn);
  void RunDeferred();
  void GetAddrInfo(const std::string& host, AddrDone done);
  void OnMxReply(const std::shared_ptr<MxLookup>& lookup, int status, unsigned char* abuf,
                 int alen);
  void ResolveMxHosts(const std::shared_ptr<MxLookup>& lookup);
  void FinishMx(const std::shared_ptr<MxLookup>& lookup);

  uv_loop_t* loop_;
  ResolverOptions options_;
  const Clock* clock_;
  ares_channel channel_ = nullptr;
  bool destroying_ = false;
  std::unordered_map<ares_socket_t, PollBox*> polls_;
  TimerBox* timer_ = nullptr;     // ares timeouts
  TimerBox* deferred_timer_ = nullptr;  // runs callbacks on the next loop turn
  std::vector<std::function<void()>> deferred_;
  std::unordered_map<std::string, std::shared_ptr<MxLookup>> mx_inflight_;
  std::unordered_map<std::string, std::shared_ptr<AddrLookup>> addr_inflight_;
  std::unordered_map<std::string, CachedMx> mx_cache_;
  std::unordered_map<std::string, CachedAddr> addr_cache_;
  std::mt19937 rng_;
};

Status MxResolver::Impl::Init() {
  InitAresOnce();
  ares_options opts;
  std::memset(&opts, 0, sizeof(opts));
  opts.sock_state_cb = &Impl::OnSockState;
  opts.sock_state_cb_data = this;
  opts.timeout = static_cast<int>(options_.timeout.count());
  opts.tries = options_.tries;
  opts.flags = ARES_FLAG_NOCHECKRESP;  // hand SERVFAIL/REFUSED back instead of retrying forever
  int mask = ARES_OPT_SOCK_STATE_CB | ARES_OPT_TIMEOUTMS | ARES_OPT_TRIES | ARES_OPT_FLAGS;
  int rc = ares_init_options(&channel_, &opts, mask);
  if (rc != ARES_SUCCESS) {
    channel_ = nullptr;
    return Status::Internal(std::string("c-ares init failed: ") + ares_strerror(rc));
  }
  if (!options_.servers.empty()) {
    std::string csv;
    for (const std::string& s : options_.servers) {
      auto hp = ParseHostPort(s, 53);
      if (!hp.ok()) return Status::InvalidArgument("dns server: " + hp.status().message());
      if (!csv.empty()) csv += ",";
      const bool v6 = hp->host.find(':') != std::string::npos;
      if (v6) csv.push_back('[');
      csv.append(hp->host);
      if (v6) csv.push_back(']');
      csv.push_back(':');
      csv.append(std::to_string(hp->port));
    }
    rc = ares_set_servers_ports_csv(channel_, csv.c_str());
    if (rc != ARES_SUCCESS) {
      return Status::InvalidArgument("bad dns servers '" + csv + "': " + ares_strerror(rc));
    }
  }
  timer_ = new TimerBox{{}, this};
  uv_timer_init(loop_, &timer_->timer);
  timer_->timer.data = timer_;
  deferred_timer_ = new TimerBox{{}, this};
  uv_timer_init(loop_, &deferred_timer_->timer);
  deferred_timer_->timer.data = deferred_timer_;
  return Status::Ok();
}

MxResolver::Impl::~Impl() {
  destroying_ = true;
  if (channel_ != nullptr) ares_destroy(channel_);  // runs callbacks with ARES_EDESTRUCTION
  for (auto& [fd, box] : polls_) {
    box->impl = nullptr;
    uv_close(reinterpret_cast<uv_handle_t*>(&box->poll),
             [](uv_handle_t* h) { delete static_cast<PollBox*>(h->data); });
  }
  for (TimerBox* t : {timer_, deferred_timer_}) {
    if (t == nullptr) continue;
    t->impl = nullptr;
    uv_close(reinterpret_cast<uv_handle_t*>(&t->timer),
             [](uv_handle_t* h) { delete static_cast<TimerBox*>(h->data); });
  }
}

void MxResolver::Impl::OnSockState(void* data, ares_socket_t fd, int readable, int writable) {
  auto* self = static_cast<Impl*>(data);
  if (self->destroying_) return;
  auto it = self->polls_.find(fd);
  if (readable == 0 && writable == 0) {
    if (it == self->polls_.end()) return;
    PollBox* box = it->second;
    self->polls_.erase(it);
    box->impl = nullptr;
    uv_poll_stop(&box->poll);
    uv_close(reinterpret_cast<uv_handle_t*>(&box->poll),
             [](uv_handle_t* h) { delete static_cast<PollBox*>(h->data); });
    return;
  }
  PollBox* box;
  if (it == self->polls_.end()) {
    box = new PollBox{{}, self, fd};
    if (uv_poll_init_socket(self->loop_, &box->poll, fd) != 0) {
      delete box;
      log::Error("dns: cannot watch socket {}", fd);
      return;
    }
    box->poll.data = box;
    self->polls_[fd] = box;
  } else {
    box = it->second;
  }
  int events = (readable ? UV_READABLE : 0) | (writable ? UV_WRITABLE : 0);
  uv_poll_start(&box->poll, events, [](uv_poll_t* p, int status, int ev) {
    auto* b = static_cast<PollBox*>(p->data);
    if (b->impl != nullptr) b->impl->OnPoll(b, status, ev);
  });
}

void MxResolver::Impl::OnPoll(PollBox* box, int status, int events) {
  ares_socket_t fd = box->fd;
  ares_socket_t rfd = ARES_SOCKET_BAD;
  ares_socket_t wfd = ARES_SOCKET_BAD;
  if (status < 0 || (events & UV_READABLE)) rfd = fd;
  if (status < 0 || (events & UV_WRITABLE)) wfd = fd;
  ares_process_fd(channel_, rfd, wfd);
  RescheduleTimer();
}

void MxResolver::Impl::RescheduleTimer() {
  if (destroying_ || timer_ == nullptr) return;
  timeval tv;
  timeval* next = ares_timeout(channel_, nullptr, &tv);
  if (next == nullptr) {
    uv_timer_stop(&timer_->timer);
    return;
  }
  uint64_t ms = static_cast<uint64_t>(next->tv_sec) * 1000 + next->tv_usec / 1000 + 1;
  uv_timer_start(
      &timer_->timer,
      [](uv_timer_t* t) {
        auto* box = static_cast<TimerBox*>(t->data);
        if (box->impl == nullptr) return;
        ares_process_fd(box->impl->channel_, ARES_SOCKET_BAD, ARES_SOCKET_BAD);
        box->impl->RescheduleTimer();
      },
      ms, 0);
}

void MxResolver::Impl::Defer(std::function<void()> fn) {
  deferred_.push_back(std::move(fn));
  if (deferred_.size() == 1) {
    uv_timer_start(
        &deferred_timer_->timer,
        [](uv_timer_t* t) {
          auto* box = static_cast<TimerBox*>(t->data);
          if (box->impl != nullptr) box->impl->RunDeferred();
        },
        0, 0);
  }
}

void MxResolver::Impl::RunDeferred() {
  std::vector<std::function<void()>> run;
  run.swap(deferred_);
  for (auto& fn : run) fn();
}

void MxResolver::Impl::GetAddrInfo(const std::string& host, AddrDone done) {
  ares_addrinfo_hints hints;
  std::memset(&hints, 0, sizeof(hints));
  hints.ai_family = AF_UNSPEC;
  hints.ai_flags = ARES_AI_NOSORT;
  auto* ctx = new AddrDone(std::move(done));
  ares_getaddrinfo(
      channel_, host.c_str(), nullptr, &hints,
      [](void* arg, int status, int, ares_addrinfo* result) {
        std::unique_ptr<AddrDone> cb(static_cast<AddrDone*>(arg));
        std::vector<std::string> v4, v6;
        uint32_t ttl = UINT32_MAX;
        if (status == ARES_SUCCESS && result != nullptr) {
          for (ares_addrinfo_node* n = result->nodes; n != nullptr; n = n->ai_next) {
            std::string ip = SockaddrIp(n->ai_addr);
            if (ip.empty()) continue;
            auto& list = n->ai_family == AF_INET ? v4 : v6;
            if (std::find(list.begin(), list.end(), ip) == list.end()) list.push_back(ip);
            if (n->ai_ttl >= 0) ttl = std::min<uint32_t>(ttl, static_cast<uint32_t>(n->ai_ttl));
          }
        }
        if (result != nullptr) ares_freeaddrinfo(result);
        v4.insert(v4.end(), v6.begin(), v6.end());
        if (status == ARES_SUCCESS && v4.empty()) status = ARES_ENODATA;
        (*cb)(status, std::move(v4), ttl);
      },
      ctx);
  RescheduleTimer();
}

void MxResolver::Impl::ResolveAddresses(const std::string& host_in, AddressCallback callback) {
  if (IsIpLiteral(host_in)) {
    std::string ip = host_in;
    if (ip.size() > 2 && ip.front() == '[') ip = ip.substr(1, ip.size() - 2);
    Defer([callback = std::move(callback), ip] { callback(std::vector<std::string>{ip}); });
    return;
  }
  auto ascii = NormalizeDnsName(host_in);
  if (!ascii.ok()) {
    Status st = ascii.status();
    Defer([callback = std::move(callback), st] { callback(st); });
    return;
  }
  const std::string host = *ascii;
  auto cached = addr_cache_.find(host);
  if (cached != addr_cache_.end()) {
    if (cached->second.expires > clock_->Now()) {
      std::vector<std::string> addrs = cached->second.addresses;
      Defer([callback = std::move(callback), addrs] { callback(addrs); });
      return;
    }
    addr_cache_.erase(cached);
  }
  auto& lookup = addr_inflight_[host];
  if (lookup) {
    lookup->waiters.push_back(std::move(callback));
    return;
  }
  lookup = std::make_shared<AddrLookup>();
  lookup->host = host;
  lookup->waiters.push_back(std::move(callback));
  GetAddrInfo(host, [this, host](int status, std::vector<std::string> addrs, uint32_t ttl) {
    if (destroying_) return;
    auto it = addr_inflight_.find(host);
    if (it == addr_inflight_.end()) return;
    std::shared_ptr<AddrLookup> l = it->second;
    addr_inflight_.erase(it);
    Result<std::vector<std::string>> result = std::vector<std::string>();
    if (status == ARES_SUCCESS) {
      auto cap = static_cast<uint32_t>(options_.max_ttl.count());
      addr_cache_[host] = {addrs, clock_->Now() + std::chrono::seconds(std::min(ttl, cap))};
      result = std::move(addrs);
    } else if (status == ARES_ENOTFOUND || status == ARES_ENODATA) {
      result = Status::Permanent("host " + host + " has no address: " + ares_strerror(status));
    } else {
      result = Status::Temporary("cannot resolve " + host + ": " + ares_strerror(status));
    }
    for (auto& cb : l->waiters) cb(result);
  });
}

void MxResolver::Impl::ResolveMx(const std::string& domain_in, MxCallback callback) {
  auto ascii = NormalizeDnsName(domain_in);
  if (!ascii.ok()) {
    MxAnswer answer;
    answer.error = MxAnswer::Error::kNxDomain;
    answer.detail = ascii.status().message();
    Defer([callback = std::move(callback), answer] { callback(answer); });
    return;
  }
  const std::string domain = *ascii;
  auto cached = mx_cache_.find(domain);
  if (cached != mx_cache_.end()) {
    if (cached->second.expires > clock_->Now()) {
      MxAnswer answer = cached->second.answer;
      answer.from_cache = true;
      // Shuffle equal preferences again so load spreads across calls.
      for (size_t i = 0; i < answer.hosts.size();) {
        size_t j = i;
        while (j < answer.hosts.size() && answer.hosts[j].preference == answer.hosts[i].preference) {
          ++j;
        }
        std::shuffle(answer.hosts.begin() + i, answer.hosts.begin() + j, rng_);
        i = j;
      }
      Defer([callback = std::move(callback), answer] { callback(answer); });
      return;
    }
    mx_cache_.erase(cached);
  }
  auto& lookup = mx_inflight_[domain];
  if (lookup) {
    lookup->waiters.push_back(std::move(callback));
    return;
  }
  lookup = std::make_shared<MxLookup>();
  lookup->domain = domain;
  lookup->waiters.push_back(std::move(callback));
  auto* self = this;
  struct Ctx {
    Impl* impl;
    std::shared_ptr<MxLookup> lookup;
  };
  ares_query(
      channel_, domain.c_str(), ns_c_in, ns_t_mx,
      [](void* arg, int status, int, unsigned char* abuf, int alen) {
        std::unique_ptr<Ctx> ctx(static_cast<Ctx*>(arg));
        if (ctx->impl->destroying_) return;
        ctx->impl->OnMxReply(ctx->lookup, status, abuf, alen);
      },
      new Ctx{self, lookup});
  RescheduleTimer();
}

void MxResolver::Impl::OnMxReply(const std::shared_ptr<MxLookup>& lookup, int status,
                                 unsigned char* abuf, int alen) {
  MxAnswer& answer = lookup->answer;
  const std::string& domain = lookup->domain;
  if (status == ARES_SUCCESS) {
    ares_mx_reply* mx = nullptr;
    int rc = ares_parse_mx_reply(abuf, alen, &mx);
    if (rc == ARES_ENODATA || (rc == ARES_SUCCESS && mx == nullptr)) {
      status = ARES_ENODATA;  // fall through to implicit MX below
    } else if (rc != ARES_SUCCESS) {
      answer.error = MxAnswer::Error::kTemporary;
      answer.detail = "bad MX answer for " + domain + ": " + ares_strerror(rc);
      FinishMx(lookup);
      return;
    } else {
      lookup->ttl = MinAnswerTtl(abuf, alen, 300);
      std::vector<MxHost> hosts;
      int count = 0;
      bool null_mx = false;
      for (ares_mx_reply* r = mx; r != nullptr; r = r->next) {
        ++count;
        std::string host = r->host != nullptr ? r->host : "";
        if (host.empty() || host == ".") {
          null_mx = true;
          continue;
        }
        auto ascii = NormalizeDnsName(host);
        if (!ascii.ok()) continue;
        hosts.push_back(MxHost{*ascii, r->priority, {}});
      }
      ares_free_data(mx);
      if (null_mx && count == 1) {
        answer.error = MxAnswer::Error::kNullMx;
        answer.detail = domain + " publishes a null MX (RFC 7505): it accepts no mail";
        FinishMx(lookup);
        return;
      }
      if (hosts.empty()) {
        answer.error = MxAnswer::Error::kTemporary;
        answer.detail = "no usable MX host for " + domain;
        FinishMx(lookup);
        return;
      }
      std::stable_sort(hosts.begin(), hosts.end(), [](const MxHost& a, const MxHost& b) {
        return a.preference < b.preference;
      });
      for (size_t i = 0; i < hosts.size();) {
        size_t j = i;
        while (j < hosts.size() && hosts[j].preference == hosts[i].preference) ++j;
        std::shuffle(hosts.begin() + i, hosts.begin() + j, rng_);
        i = j;
      }
      answer.hosts = std::move(hosts);
      ResolveMxHosts(lookup);
      return;
    }
  }
  if (status == ARES_ENODATA) {
    // RFC 5321 §5.1: no MX records, the domain itself is the host.
    answer.implicit_mx = true;
    GetAddrInfo(domain, [this, lookup](int st, std::vector<std::string> addrs, uint32_t ttl) {
      if (destroying_) return;
      MxAnswer& a = lookup->answer;
      if (st == ARES_SUCCESS) {
        a.hosts.push_back(MxHost{lookup->domain, 0, std::move(addrs)});
        lookup->ttl = std::min(lookup->ttl, ttl);
      } else if (st == ARES_ENOTFOUND || st == ARES_ENODATA) {
        a.error = MxAnswer::Error::kNoAddress;
        a.detail = lookup->domain + " has no MX and no A/AAAA record";
      } else {
        a.error = MxAnswer::Error::kTemporary;
        a.detail = "cannot resolve " + lookup->domain + ": " + ares_strerror(st);
      }
      FinishMx(lookup);
    });
    return;
  }
  if (status == ARES_ENOTFOUND) {
    answer.error = MxAnswer::Error::kNxDomain;
    answer.detail = "domain " + domain + " does not exist (NXDOMAIN)";
  } else if (status == ARES_ECANCELLED || status == ARES_EDESTRUCTION) {
    answer.error = MxAnswer::Error::kTemporary;
    answer.detail = "DNS lookup of " + domain + " cancelled";
  } else {
    answer.error = MxAnswer::Error::kTemporary;
    answer.detail = "DNS lookup of MX for " + domain + " failed: " + ares_strerror(status);
  }
  FinishMx(lookup);
}

void MxResolver::Impl::ResolveMxHosts(const std::shared_ptr<MxLookup>& lookup) {
  lookup->hosts_left = lookup->answer.hosts.size();
  for (size_t i = 0; i < lookup->answer.hosts.size(); ++i) {
    const std::string& name = lookup->answer.hosts[i].name;
    if (IsIpLiteral(name)) {  // not standard, but seen in the wild
      lookup->answer.hosts[i].addresses.push_back(name);
      if (--lookup->hosts_left == 0) Defer([this, lookup] { FinishMx(lookup); });
      continue;
    }
    GetAddrInfo(name, [this, lookup, i](int st, std::vector<std::string> addrs, uint32_t ttl) {
      if (destroying_) return;
      if (st == ARES_SUCCESS) {
        lookup->answer.hosts[i].addresses = std::move(addrs);
        lookup->ttl = std::min(lookup->ttl, ttl);
      } else {
        log::Debug("dns: MX host {} of {}: {}", lookup->answer.hosts[i].name, lookup->domain,
                   ares_strerror(st));
      }
      if (--lookup->hosts_left == 0) {
        auto& hosts = lookup->answer.hosts;
        hosts.erase(std::remove_if(hosts.begin(), hosts.end(),
                                   [](const MxHost& h) { return h.addresses.empty(); }),
                    hosts.end());
        if (hosts.empty()) {
          lookup->answer.error = MxAnswer::Error::kTemporary;
          lookup->answer.detail = "no MX host of " + lookup->domain + " has an address";
        }
        FinishMx(lookup);
      }
    });
  }
}

void MxResolver::Impl::FinishMx(const std::shared_ptr<MxLookup>& lookup) {
  mx_inflight_.erase(lookup->domain);
  const MxAnswer& answer = lookup->answer;
  std::chrono::seconds ttl(0);
  if (answer.error == MxAnswer::Error::kNone) {
    ttl = std::chrono::seconds(std::min<uint64_t>(lookup->ttl == UINT32_MAX ? 300 : lookup->ttl,
                                                  options_.max_ttl.count()));
  } else if (answer.error != MxAnswer::Error::kTemporary) {
    ttl = options_.negative_ttl;
  }
  if (ttl.count() > 0) mx_cache_[lookup->domain] = {answer, clock_->Now() + ttl};
  for (auto& cb : lookup->waiters) cb(answer);
}

MxResolver::MxResolver(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
MxResolver::~MxResolver() = default;

Result<std::unique_ptr<MxResolver>> MxResolver::Create(uv_loop_t* loop, ResolverOptions options) {
  auto impl = std::make_unique<Impl>(loop, std::move(options));
  Status st = impl->Init();
  if (!st.ok()) return st;
  return std::unique_ptr<MxResolver>(new MxResolver(std::move(impl)));
}

void MxResolver::ResolveMx(const std::string& domain, MxCallback callback) {
  impl_->ResolveMx(domain, std::move(callback));
}
void MxResolver::ResolveAddresses(const std::string& host, AddressCallback callback) {
  impl_->ResolveAddresses(host, std::move(callback));
}
size_t MxResolver::pending() const { return impl_->pending(); }
void MxResolver::ClearCache() { impl_->ClearCache(); }

}  // namespace postino::net
