// dkim_keygen.cc: DKIM key generation (`postino dkim keygen`) and the DNS
// TXT record that publishes a key's public half.
#include <fcntl.h>
#include <fmt/format.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <memory>

#include "templates/dkim.h"
#include "templates/mime_encoding.h"

namespace postino::templates {
namespace {

struct PkeyDeleter {
  void operator()(EVP_PKEY* k) const { EVP_PKEY_free(k); }
};
using Pkey = std::unique_ptr<EVP_PKEY, PkeyDeleter>;

std::string LastOpenSslError() {
  unsigned long e = ERR_get_error();
  if (e == 0) return "unknown OpenSSL error";
  char buf[256];
  ERR_error_string_n(e, buf, sizeof buf);
  ERR_clear_error();
  return buf;
}

Status CheckSelector(std::string_view selector) {
  bool ok = !selector.empty() && selector.size() <= 200;
  for (char c : selector) {
    ok &= std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.';
  }
  if (!ok) {
    return Status::InvalidArgument(
        fmt::format("DKIM selector \"{}\" must be DNS labels (letters, digits, - _ .)", selector));
  }
  return Status::Ok();
}

Result<std::string> RecordFor(std::string_view domain, std::string_view selector, EVP_PKEY* key) {
  auto ascii_domain = NormalizeDomain(domain);
  if (!ascii_domain.ok()) return ascii_domain.status();
  if (Status s = CheckSelector(selector); !s.ok()) return s;
  std::string text;
  if (EVP_PKEY_is_a(key, "RSA")) {
    unsigned char* der = nullptr;
    int len = i2d_PUBKEY(key, &der);
    if (len <= 0) return Status::Internal("cannot encode RSA public key: " + LastOpenSslError());
    text = "v=DKIM1; k=rsa; p=" +
           Base64Encode(std::string_view(reinterpret_cast<char*>(der), static_cast<size_t>(len)));
    OPENSSL_free(der);
  } else if (EVP_PKEY_is_a(key, "ED25519")) {
    unsigned char raw[32];
    size_t len = sizeof raw;
    if (EVP_PKEY_get_raw_public_key(key, raw, &len) != 1 || len != 32) {
      return Status::Internal("cannot read Ed25519 public key: " + LastOpenSslError());
    }
    text = "v=DKIM1; k=ed25519; p=" +
           Base64Encode(std::string_view(reinterpret_cast<char*>(raw), len));
  } else {
    return Status::InvalidArgument("DKIM keys are RSA or Ed25519");
  }
  // A TXT record is a list of strings of at most 255 octets each.
  std::string strings;
  for (size_t i = 0; i < text.size(); i += 255) {
    if (i > 0) strings.push_back(' ');
    strings.push_back('"');
    strings.append(text, i, 255);
    strings.push_back('"');
  }
  return fmt::format("{}._domainkey.{}. IN TXT {}", selector, *ascii_domain, strings);
}

}  // namespace

Result<std::string> GenerateDkimKey(std::string_view domain, std::string_view selector,
                                    DkimAlgorithm algorithm, const std::string& private_key_path,
                                    int rsa_bits) {
  if (auto d = NormalizeDomain(domain); !d.ok()) return d.status();
  if (Status s = CheckSelector(selector); !s.ok()) return s;
  if (algorithm == DkimAlgorithm::kRsaSha256 && (rsa_bits < 2048 || rsa_bits > 8192)) {
    return Status::InvalidArgument(
        fmt::format("RSA DKIM keys must have 2048 to 8192 bits, not {}", rsa_bits));
  }
  ERR_clear_error();
  Pkey key(algorithm == DkimAlgorithm::kRsaSha256
               ? EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", static_cast<size_t>(rsa_bits))
               : EVP_PKEY_Q_keygen(nullptr, nullptr, "ED25519"));
  if (!key) return Status::Internal("DKIM key generation failed: " + LastOpenSslError());
  auto record = RecordFor(domain, selector, key.get());
  if (!record.ok()) return record.status();

  BIO* bio = BIO_new(BIO_s_mem());
  if (bio == nullptr ||
      PEM_write_bio_PrivateKey(bio, key.get(), nullptr, nullptr, 0, nullptr, nullptr) != 1) {
    BIO_free(bio);
    return Status::Internal("cannot encode the private key: " + LastOpenSslError());
  }
  char* pem = nullptr;
  long pem_len = BIO_get_mem_data(bio, &pem);
  int fd = open(private_key_path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) {
    int err = errno;
    BIO_free(bio);
    if (err == EEXIST) {
      return Status::AlreadyExists(fmt::format(
          "{} already exists; refusing to overwrite a private key (remove it or choose another "
          "path)",
          private_key_path));
    }
    return Status::IoError(
        fmt::format("cannot create {}: {}", private_key_path, std::strerror(err)));
  }
  Status status;
  for (long off = 0; off < pem_len && status.ok();) {
    ssize_t n = write(fd, pem + off, static_cast<size_t>(pem_len - off));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      status =
          Status::IoError(fmt::format("writing {}: {}", private_key_path, std::strerror(errno)));
      break;
    }
    off += n;
  }
  if (status.ok() && fsync(fd) != 0) {
    status = Status::IoError(fmt::format("fsync {}: {}", private_key_path, std::strerror(errno)));
  }
  close(fd);
  OPENSSL_cleanse(pem, static_cast<size_t>(pem_len));
  BIO_free(bio);
  if (!status.ok()) {
    unlink(private_key_path.c_str());
    return status;
  }
  return record;
}

Result<std::string> DkimDnsRecordForKey(std::string_view domain, std::string_view selector,
                                        std::string_view private_key_pem) {
  ERR_clear_error();
  BIO* bio = BIO_new_mem_buf(private_key_pem.data(), static_cast<int>(private_key_pem.size()));
  if (bio == nullptr) return Status::Internal("out of memory");
  Pkey key(PEM_read_bio_PrivateKey(bio, nullptr, nullptr, const_cast<char*>("")));
  BIO_free(bio);
  if (!key) return Status::InvalidArgument("not a PEM private key: " + LastOpenSslError());
  return RecordFor(domain, selector, key.get());
}

}  // namespace postino::templates
