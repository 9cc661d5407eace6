// config_check_command.cc: `postino config check`: loads the file (every key
// and value, as `postino run` would), then checks what the loader does not:
// DKIM key files load and match their algorithm, certificate and key files
// form a pair, the journal directory is usable, source addresses exist on
// this host, and the settings bulk-mail receivers expect are present.
#include "cli/config_check_command.h"

#include <arpa/inet.h>
#include <fmt/format.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "engine/tls/tls_context.h"
#include "templates/dkim.h"

namespace postino::cli {
namespace {

struct Findings {
  std::vector<std::string> errors, warnings, notes;
};

Result<std::string> ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::NotFound(fmt::format("{}: cannot be read ({})", path, std::strerror(errno)));
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

// Can this host bind the source address? (A config may be checked on
// another host than the one it is for: a warning, not an error.)
bool CanBind(const std::string& address) {
  sockaddr_storage ss{};
  socklen_t len = 0;
  int family = AF_INET;
  if (inet_pton(AF_INET, address.c_str(), &reinterpret_cast<sockaddr_in*>(&ss)->sin_addr) == 1) {
    ss.ss_family = AF_INET;
    len = sizeof(sockaddr_in);
  } else if (inet_pton(AF_INET6, address.c_str(),
                       &reinterpret_cast<sockaddr_in6*>(&ss)->sin6_addr) == 1) {
    ss.ss_family = AF_INET6;
    family = AF_INET6;
    len = sizeof(sockaddr_in6);
  } else {
    return false;
  }
  int fd = ::socket(family, SOCK_STREAM, 0);
  if (fd < 0) return false;
  bool ok = ::bind(fd, reinterpret_cast<sockaddr*>(&ss), len) == 0;
  ::close(fd);
  return ok;
}

void CheckDkim(const config::Config& c, Findings* f) {
  for (const auto& k : c.dkim.keys) {
    templates::DkimKeyConfig one;
    one.domain = k.domain;
    one.selector = k.selector;
    one.private_key_path = k.key_file;
    if (!templates::ParseDkimAlgorithm(k.algorithm, &one.algorithm)) {
      f->errors.push_back(fmt::format("dkim key {}._domainkey.{}: unknown algorithm \"{}\"",
                                      k.selector, k.domain, k.algorithm));
      continue;
    }
    Result<std::unique_ptr<templates::DkimSigner>> signer = templates::DkimSigner::Create({one});
    if (!signer.ok()) {
      f->errors.push_back(fmt::format("dkim key {}._domainkey.{} ({}): {}", k.selector, k.domain,
                                      k.key_file, signer.status().message()));
      continue;
    }
    struct stat st{};
    if (::stat(k.key_file.c_str(), &st) == 0 && (st.st_mode & 0044) != 0) {
      f->warnings.push_back(fmt::format(
          "dkim key file {} is readable by other users (mode {:o}); chmod 600 it",
          k.key_file, st.st_mode & 0777));
    }
    f->notes.push_back(fmt::format("dkim: {}._domainkey.{} {} key {} loads; publish it with "
                                   "`postino dns check --domain {}`",
                                   k.selector, k.domain, k.algorithm, k.key_file, k.domain));
  }
}

void CheckCertificates(const config::Config& c, Findings* f) {
  const auto& s = c.submission;
  if (s.cert_file.empty() && s.key_file.empty()) return;
  if (s.cert_file.empty() || s.key_file.empty()) {
    f->errors.push_back("[submission]: cert_file and key_file go together");
    return;
  }
  Result<std::string> cert = ReadFile(s.cert_file);
  Result<std::string> key = ReadFile(s.key_file);
  if (!cert.ok()) f->errors.push_back("[submission] cert_file " + cert.status().message());
  if (!key.ok()) f->errors.push_back("[submission] key_file " + key.status().message());
  if (!cert.ok() || !key.ok()) return;
  Result<std::shared_ptr<tls::TlsContext>> ctx = tls::TlsContext::NewServer(*cert, *key);
  if (!ctx.ok()) {
    f->errors.push_back(fmt::format("[submission] {} / {}: {}", s.cert_file, s.key_file,
                                    ctx.status().message()));
  }
}

void CheckDeployment(const config::Config& c, Findings* f) {
  if (c.database.url.empty()) {
    f->warnings.push_back(
        "no database configured: set database.url or $POSTINO_DATABASE_URL before `postino run`");
  }
  std::error_code ec;
  std::filesystem::path journal(c.node.journal_dir);
  if (std::filesystem::exists(journal, ec)) {
    if (::access(journal.c_str(), W_OK) != 0) {
      f->warnings.push_back(fmt::format("node.journal_dir {} is not writable by this user",
                                        c.node.journal_dir));
    }
  } else {
    f->notes.push_back(fmt::format("node.journal_dir {} does not exist yet (created when needed)",
                                   c.node.journal_dir));
  }
  for (const auto& s : c.sources) {
    if (!CanBind(s.address)) {
      f->warnings.push_back(fmt::format(
          "source {}: address {} is not an address of this host (fine if this file is for "
          "another host)",
          s.name, s.address));
    }
  }
  if (c.unsubscribe.url_base.empty()) {
    f->warnings.push_back(
        "[unsubscribe] url_base is not set: messages carry no one-click List-Unsubscribe "
        "(RFC 8058), which Gmail and Yahoo require of bulk senders");
  }
  if (c.dkim.keys.empty()) {
    f->warnings.push_back("no [dkim] keys: messages go out unsigned (`postino dkim keygen`)");
  }
}

}  // namespace

int RunConfigCheck(Context& ctx, const std::string& file) {
  const std::string path = file.empty() ? config::ResolveConfigPath(ctx.config_flag()) : file;
  Result<config::Config> loaded = config::LoadConfigFile(path);
  if (!loaded.ok()) {
    fmt::print(stderr, "{}: invalid configuration:\n{}\n", path, loaded.status().message());
    return kExitConfig;
  }
  const config::Config& c = *loaded;
  Findings f;
  CheckDkim(c, &f);
  CheckCertificates(c, &f);
  CheckDeployment(c, &f);
  for (const auto& e : f.errors) fmt::print(stderr, "{}: error: {}\n", path, e);
  for (const auto& w : f.warnings) fmt::print("{}: warning: {}\n", path, w);
  for (const auto& n : f.notes) fmt::print("{}: {}\n", path, n);
  if (!f.errors.empty()) {
    fmt::print(stderr, "{}: invalid: {} error(s), {} warning(s)\n", path, f.errors.size(),
               f.warnings.size());
    return kExitConfig;
  }
  fmt::print("{}: valid ({} source(s), {} pool(s), {} route(s), {} DKIM key(s)); {} warning(s)\n",
             path, c.sources.size(), c.pools.size(), c.routes.size(), c.dkim.keys.size(),
             f.warnings.size());
  return kExitOk;
}

}  // namespace postino::cli
