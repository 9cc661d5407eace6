// password.cc: Argon2id hashing and verification (see password.h).
#include "inbound/password.h"

#include <argon2.h>
#include <sys/random.h>

#include <vector>

namespace postino::inbound {

namespace {

constexpr uint32_t kTimeCost = 2;
constexpr uint32_t kMemoryKiB = 19456;
constexpr uint32_t kParallelism = 1;
constexpr size_t kSaltLen = 16;
constexpr size_t kHashLen = 32;

}  // namespace

Result<std::string> HashPassword(std::string_view password) {
  unsigned char salt[kSaltLen];
  size_t got = 0;
  while (got < kSaltLen) {
    ssize_t n = getrandom(salt + got, kSaltLen - got, 0);
    if (n <= 0) return Status::Internal("getrandom failed: no salt for the password hash");
    got += static_cast<size_t>(n);
  }
  size_t len = argon2_encodedlen(kTimeCost, kMemoryKiB, kParallelism, kSaltLen, kHashLen,
                                 Argon2_id);
  std::vector<char> encoded(len);
  int rc = argon2id_hash_encoded(kTimeCost, kMemoryKiB, kParallelism, password.data(),
                                 password.size(), salt, kSaltLen, kHashLen, encoded.data(), len);
  if (rc != ARGON2_OK) {
    return Status::Internal(std::string("argon2id: ") + argon2_error_message(rc));
  }
  return std::string(encoded.data());
}

bool VerifyPassword(const std::string& hash, std::string_view password) {
  if (hash.rfind("$argon2id$", 0) != 0) return false;
  return argon2id_verify(hash.c_str(), password.data(), password.size()) == ARGON2_OK;
}

const std::string& DummyHash() {
  static const std::string kHash = [] {
    Result<std::string> h = HashPassword("postino-dummy-password-never-valid");
    return h.ok() ? *h : std::string();
  }();
  return kHash;
}

}  // namespace postino::inbound
