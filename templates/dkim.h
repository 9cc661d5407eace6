// dkim.h: DKIM signing (RFC 6376) with RSA-SHA256 and Ed25519-SHA256
// (RFC 8463), and DKIM key generation.
//
// One DkimSigner holds every configured key (loaded once, shared read-only)
// and is used concurrently by the render/sign worker threads:
//
//   auto signer = DkimSigner::Create({{.domain = "example.com", .selector = "s1",
//                                      .algorithm = DkimAlgorithm::kRsaSha256,
//                                      .private_key_path = "/etc/postino/s1.pem"}});
//   Status s = (*signer)->SignInPlace(&message.bytes, clock.WallNow());
//
// The key(s) are chosen by the domain of the message's From address (exact
// match, else the closest parent domain that has keys); the message is signed
// with EVERY key of that domain (e.g. RSA and Ed25519 side by side).
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/clock.h"
#include "common/status.h"

namespace postino::templates {

enum class DkimAlgorithm { kRsaSha256, kEd25519Sha256 };
enum class DkimCanonicalization { kSimple, kRelaxed };

// "rsa-sha256" / "ed25519-sha256"; parses the same names (and "rsa",
// "ed25519") for configuration.
std::string_view DkimAlgorithmName(DkimAlgorithm algorithm);
bool ParseDkimAlgorithm(std::string_view name, DkimAlgorithm* out);

struct DkimKeyConfig {
  std::string domain{};    // d=; an IDN is converted to A-labels
  std::string selector{};  // s=
  DkimAlgorithm algorithm = DkimAlgorithm::kRsaSha256;
  // The private key: a PEM file path, or (when the path is empty) PEM text.
  std::string private_key_path{};
  std::string private_key_pem{};
};

// The header fields signed by default, in h= order. "from" is also
// over-signed (listed once more than it occurs) so that no From can be added.
std::vector<std::string> DefaultDkimSignedHeaders();

struct DkimOptions {
  DkimCanonicalization header_canonicalization = DkimCanonicalization::kRelaxed;
  DkimCanonicalization body_canonicalization = DkimCanonicalization::kRelaxed;
  // Lower-case names; those present in the message are signed (each
  // occurrence).
  std::vector<std::string> signed_headers = DefaultDkimSignedHeaders();
  // Names listed once more in h= than they occur.
  std::vector<std::string> oversigned_headers = {"from"};
  bool add_timestamp = true;           // t=
  std::chrono::seconds expiration{0};  // x= = t= + expiration; 0 = no x=
};

class DkimSigner {
 public:
  // Loads every key. Errors name the key file (or "selector._domainkey.domain"
  // for inline PEM): unreadable, not a private key, algorithm mismatch, RSA
  // key shorter than 2048 bits.
  static Result<std::unique_ptr<DkimSigner>> Create(const std::vector<DkimKeyConfig>& keys,
                                                    const DkimOptions& options = {});
  ~DkimSigner();
  DkimSigner(const DkimSigner&) = delete;
  DkimSigner& operator=(const DkimSigner&) = delete;

  // True iff some key signs mail From `domain` (or a subdomain of it).
  bool HasKeyFor(std::string_view domain) const;

  // Computes the DKIM-Signature header field(s) for `message` (RFC 5322,
  // CRLF lines, as PreparedCampaign renders it), one per key of the From
  // domain, each ending in CRLF, in configuration order. The body is read
  // once. NotFound when no key matches the From domain; InvalidArgument when
  // the message has no From address or no header/body separator.
  Result<std::string> Sign(std::string_view message, WallTime now) const;

  // Sign + prepend the fields to *message.
  Status SignInPlace(std::string* message, WallTime now) const;

 private:
  struct Key;
  DkimSigner() = default;
  std::vector<std::unique_ptr<Key>> keys_;
  DkimOptions options_;
  std::string signed_header_list_;  // for error messages
};

// Generates a new key pair: writes the private key (PKCS#8 PEM) to
// `private_key_path` with mode 0600, refusing to overwrite an existing file,
// and returns the DNS TXT record to publish, e.g.
//   s1._domainkey.example.com. IN TXT "v=DKIM1; k=rsa; p=MIIB..." "...rest"
// (strings of at most 255 characters). `rsa_bits` (>= 2048) is used for RSA.
Result<std::string> GenerateDkimKey(std::string_view domain, std::string_view selector,
                                    DkimAlgorithm algorithm, const std::string& private_key_path,
                                    int rsa_bits = 2048);

// The DNS TXT record for an existing private key (PEM text).
Result<std::string> DkimDnsRecordForKey(std::string_view domain, std::string_view selector,
                                        std::string_view private_key_pem);

}  // namespace postino::templates
