// dns_query.cc: DnsClient (see dns_query.h): one c-ares channel driven by
// poll() until the answer or the channel's own timeout.
#include "engine/net/dns_query.h"

#include <arpa/inet.h>
#include <ares.h>
#include <netdb.h>
#include <poll.h>

#include <cstring>
#include <mutex>

#include "engine/net/address.h"

namespace postino::net {
namespace {

constexpr int kTxt = 16, kA = 1, kAaaa = 28, kMx = 15;

void InitOnce() {
  static std::once_flag once;
  std::call_once(once, [] { ares_library_init(ARES_LIB_INIT_ALL); });
}

struct Query {
  bool done = false;
  int type = 0;
  DnsAnswer answer;
};

DnsAnswer::Code CodeFor(int status) {
  switch (status) {
    case ARES_ENOTFOUND: return DnsAnswer::Code::kNxDomain;
    case ARES_ENODATA: return DnsAnswer::Code::kNoData;
    default: return DnsAnswer::Code::kError;
  }
}

void Parse(Query* q, const unsigned char* buf, int len) {
  if (q->type == kTxt) {
    ares_txt_ext* txt = nullptr;
    int rc = ares_parse_txt_reply_ext(buf, len, &txt);
    if (rc != ARES_SUCCESS) {
      q->answer.code = CodeFor(rc);
      q->answer.error = ares_strerror(rc);
      return;
    }
    for (ares_txt_ext* t = txt; t != nullptr; t = t->next) {
      std::string s(reinterpret_cast<const char*>(t->txt), t->length);
      if (t->record_start || q->answer.records.empty()) {
        q->answer.records.push_back(std::move(s));
      } else {
        q->answer.records.back() += s;  // the next string of one record
      }
    }
    ares_free_data(txt);
  } else if (q->type == kMx) {
    ares_mx_reply* mx = nullptr;
    int rc = ares_parse_mx_reply(buf, len, &mx);
    if (rc != ARES_SUCCESS) {
      q->answer.code = CodeFor(rc);
      q->answer.error = ares_strerror(rc);
      return;
    }
    for (ares_mx_reply* m = mx; m != nullptr; m = m->next) {
      std::string host = m->host;
      while (!host.empty() && host.back() == '.') host.pop_back();
      q->answer.records.push_back(std::to_string(m->priority) + " " + host);
    }
    ares_free_data(mx);
  } else {
    hostent* host = nullptr;
    ares_addrttl v4[32];
    ares_addr6ttl v6[32];
    int n = 32;
    int rc = q->type == kA ? ares_parse_a_reply(buf, len, &host, v4, &n)
                           : ares_parse_aaaa_reply(buf, len, &host, v6, &n);
    if (host != nullptr) ares_free_hostent(host);
    if (rc != ARES_SUCCESS) {
      q->answer.code = CodeFor(rc);
      q->answer.error = ares_strerror(rc);
      return;
    }
    char text[INET6_ADDRSTRLEN];
    for (int i = 0; i < n; ++i) {
      const void* addr = q->type == kA ? static_cast<const void*>(&v4[i].ipaddr)
                                       : static_cast<const void*>(&v6[i].ip6addr);
      if (inet_ntop(q->type == kA ? AF_INET : AF_INET6, addr, text, sizeof text) != nullptr) {
        q->answer.records.emplace_back(text);
      }
    }
  }
  if (q->answer.records.empty()) q->answer.code = DnsAnswer::Code::kNoData;
}

void OnAnswer(void* arg, int status, int, unsigned char* buf, int len) {
  auto* q = static_cast<Query*>(arg);
  q->done = true;
  if (status != ARES_SUCCESS) {
    q->answer.code = CodeFor(status);
    q->answer.error = ares_strerror(status);
    return;
  }
  Parse(q, buf, len);
}

void OnHost(void* arg, int status, int, hostent* host) {
  auto* q = static_cast<Query*>(arg);
  q->done = true;
  if (status != ARES_SUCCESS || host == nullptr) {
    q->answer.code = CodeFor(status);
    q->answer.error = ares_strerror(status);
    return;
  }
  auto add = [&](const char* name) {
    std::string n = name;
    while (!n.empty() && n.back() == '.') n.pop_back();
    q->answer.records.push_back(std::move(n));
  };
  if (host->h_name != nullptr) add(host->h_name);
  for (char** a = host->h_aliases; a != nullptr && *a != nullptr; ++a) add(*a);
  if (q->answer.records.empty()) q->answer.code = DnsAnswer::Code::kNoData;
}

}  // namespace

class DnsClient::Impl {
 public:
  ~Impl() {
    if (channel_ != nullptr) ares_destroy(channel_);
  }

  Status Init(const std::vector<std::string>& servers, std::chrono::milliseconds timeout,
              int tries) {
    InitOnce();
    ares_options opts;
    std::memset(&opts, 0, sizeof(opts));
    opts.timeout = static_cast<int>(timeout.count());
    opts.tries = tries;
    opts.flags = ARES_FLAG_NOCHECKRESP;
    char lookups[] = "b";  // DNS only, never /etc/hosts
    opts.lookups = lookups;
    int mask = ARES_OPT_TIMEOUTMS | ARES_OPT_TRIES | ARES_OPT_FLAGS | ARES_OPT_LOOKUPS;
    int rc = ares_init_options(&channel_, &opts, mask);
    if (rc != ARES_SUCCESS) {
      channel_ = nullptr;
      return Status::Internal(std::string("c-ares init failed: ") + ares_strerror(rc));
    }
    if (servers.empty()) return Status::Ok();
    std::string csv;
    for (const std::string& s : servers) {
      auto hp = ParseHostPort(s, 53);
      if (!hp.ok()) return Status::InvalidArgument("dns server: " + hp.status().message());
      if (!csv.empty()) csv += ",";
      const bool v6 = hp->host.find(':') != std::string::npos;
      csv += v6 ? "[" + hp->host + "]" : hp->host;
      csv += ":" + std::to_string(hp->port);
    }
    rc = ares_set_servers_ports_csv(channel_, csv.c_str());
    if (rc != ARES_SUCCESS) {
      return Status::InvalidArgument("bad dns servers '" + csv + "': " + ares_strerror(rc));
    }
    return Status::Ok();
  }

  DnsAnswer Run(const std::string& name, int type) {
    Query q;
    q.type = type;
    ares_query(channel_, name.c_str(), 1 /* IN */, type, &OnAnswer, &q);
    Wait(&q);
    return q.answer;
  }

  DnsAnswer Reverse(const std::string& ip) {
    Query q;
    in6_addr v6{};
    in_addr v4{};
    if (inet_pton(AF_INET, ip.c_str(), &v4) == 1) {
      ares_gethostbyaddr(channel_, &v4, sizeof v4, AF_INET, &OnHost, &q);
    } else if (inet_pton(AF_INET6, ip.c_str(), &v6) == 1) {
      ares_gethostbyaddr(channel_, &v6, sizeof v6, AF_INET6, &OnHost, &q);
    } else {
      q.answer.code = DnsAnswer::Code::kError;
      q.answer.error = "not an IP address: " + ip;
      return q.answer;
    }
    Wait(&q);
    return q.answer;
  }

 private:
  void Wait(Query* q) {
    while (!q->done) {
      ares_socket_t socks[ARES_GETSOCK_MAXNUM];
      int bits = ares_getsock(channel_, socks, ARES_GETSOCK_MAXNUM);
      pollfd fds[ARES_GETSOCK_MAXNUM];
      nfds_t n = 0;
      for (int i = 0; i < ARES_GETSOCK_MAXNUM; ++i) {
        short events = 0;
        if (ARES_GETSOCK_READABLE(bits, i)) events |= POLLIN;
        if (ARES_GETSOCK_WRITABLE(bits, i)) events |= POLLOUT;
        if (events == 0) continue;
        fds[n++] = {socks[i], events, 0};
      }
      timeval tv{};
      timeval* t = ares_timeout(channel_, nullptr, &tv);
      int ms = t == nullptr ? 1000 : static_cast<int>(t->tv_sec * 1000 + t->tv_usec / 1000);
      int ready = ::poll(fds, n, ms);
      if (ready <= 0) {
        ares_process_fd(channel_, ARES_SOCKET_BAD, ARES_SOCKET_BAD);  // timeouts
        continue;
      }
      for (nfds_t i = 0; i < n; ++i) {
        ares_process_fd(channel_, (fds[i].revents & (POLLIN | POLLERR | POLLHUP)) ? fds[i].fd
                                                                                   : ARES_SOCKET_BAD,
                        (fds[i].revents & POLLOUT) ? fds[i].fd : ARES_SOCKET_BAD);
      }
    }
  }

  ares_channel channel_ = nullptr;
};

Result<std::unique_ptr<DnsClient>> DnsClient::Create(const std::vector<std::string>& servers,
                                                     std::chrono::milliseconds timeout,
                                                     int tries) {
  auto impl = std::make_unique<Impl>();
  Status st = impl->Init(servers, timeout, tries);
  if (!st.ok()) return st;
  return std::unique_ptr<DnsClient>(new DnsClient(std::move(impl)));
}

DnsClient::DnsClient(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
DnsClient::~DnsClient() = default;
DnsAnswer DnsClient::Txt(const std::string& name) { return impl_->Run(name, kTxt); }
DnsAnswer DnsClient::A(const std::string& name) { return impl_->Run(name, kA); }
DnsAnswer DnsClient::Aaaa(const std::string& name) { return impl_->Run(name, kAaaa); }
DnsAnswer DnsClient::Mx(const std::string& name) { return impl_->Run(name, kMx); }
DnsAnswer DnsClient::Ptr(const std::string& ip) { return impl_->Reverse(ip); }

}  // namespace postino::net
