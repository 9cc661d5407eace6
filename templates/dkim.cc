// dkim.cc: DKIM signing — key loading, header and body canonicalization
// (simple/relaxed), body hash in one pass, RSA-SHA256 and Ed25519-SHA256
// (RFC 8463: Ed25519 signs the SHA-256 of the canonicalized header data).
#include "templates/dkim.h"

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include <fmt/format.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <cstring>

#include "templates/mime_encoding.h"

namespace postino::templates {
namespace {

std::string OpenSslError() {
  std::string all;
  while (unsigned long e = ERR_get_error()) {
    char buf[256];
    ERR_error_string_n(e, buf, sizeof buf);
    if (!all.empty()) all += "; ";
    all += buf;
  }
  return all.empty() ? "unknown OpenSSL error" : all;
}

const EVP_MD* Sha256() {
  static EVP_MD* md = EVP_MD_fetch(nullptr, "SHA256", nullptr);
  return md;
}

struct MdCtxDeleter {
  void operator()(EVP_MD_CTX* ctx) const { EVP_MD_CTX_free(ctx); }
};
using MdCtx = std::unique_ptr<EVP_MD_CTX, MdCtxDeleter>;

char Lower(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c + 32) : c; }

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (Lower(a[i]) != Lower(b[i])) return false;
  }
  return true;
}

bool IsWsp(char c) { return c == ' ' || c == '\t'; }

struct HeaderField {
  std::string_view name;
  std::string_view raw;  // the whole field including its final CRLF
};

// Splits the header block (which ends with the CRLF of its last field).
void ParseHeaderFields(std::string_view headers, std::vector<HeaderField>* fields) {
  size_t pos = 0;
  while (pos < headers.size()) {
    size_t start = pos;
    size_t eol;
    do {
      eol = headers.find("\r\n", pos);
      if (eol == std::string_view::npos) {
        pos = headers.size();
        break;
      }
      pos = eol + 2;
    } while (pos < headers.size() && IsWsp(headers[pos]));
    std::string_view raw = headers.substr(start, pos - start);
    size_t colon = raw.find(':');
    std::string_view name = raw.substr(0, colon == std::string_view::npos ? raw.size() : colon);
    while (!name.empty() && IsWsp(name.back())) name.remove_suffix(1);
    fields->push_back({name, raw});
  }
}

// RFC 6376 §3.4.2 relaxed header canonicalization of one field, appended
// with CRLF.
void AppendRelaxedHeader(const HeaderField& field, std::string* out) {
  for (char c : field.name) out->push_back(Lower(c));
  out->push_back(':');
  size_t colon = field.raw.find(':');
  std::string_view value =
      colon == std::string_view::npos ? std::string_view() : field.raw.substr(colon + 1);
  bool started = false;
  bool pending_space = false;
  for (char c : value) {
    if (c == '\r' || c == '\n') continue;
    if (IsWsp(c)) {
      pending_space = started;
      continue;
    }
    if (pending_space) out->push_back(' ');
    pending_space = false;
    started = true;
    out->push_back(c);
  }
  out->append("\r\n");
}

// Feeds canonicalized body bytes to a digest through a small buffer.
class DigestSink {
 public:
  explicit DigestSink(EVP_MD_CTX* ctx) : ctx_(ctx) {}
  char* Reserve(size_t n) {
    if (used_ + n > sizeof buf_) Flush();
    return buf_ + used_;
  }
  void Commit(char* end) { used_ = static_cast<size_t>(end - buf_); }
  size_t Room() const { return sizeof buf_ - used_; }
  void Flush() {
    if (used_ > 0) EVP_DigestUpdate(ctx_, buf_, used_);
    used_ = 0;
  }
  static constexpr size_t kCapacity = 16384;

 private:
  EVP_MD_CTX* ctx_;
  size_t used_ = 0;
  char buf_[kCapacity];
};

void HashSimpleBody(std::string_view body, EVP_MD_CTX* ctx);

// True if relaxed canonicalization would change some line of p[0, n): a
// tab, a space followed by a space or CR, or a final space.
bool NeedsRelaxedRewrite(const char* p, size_t n) {
  size_t i = 0;
#if defined(__SSE2__)
  const __m128i space = _mm_set1_epi8(' ');
  const __m128i tab = _mm_set1_epi8('\t');
  const __m128i cr = _mm_set1_epi8('\r');
  for (; i + 17 <= n; i += 16) {
    __m128i here = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p + i));
    __m128i next = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p + i + 1));
    __m128i bad = _mm_or_si128(
        _mm_cmpeq_epi8(here, tab),
        _mm_and_si128(_mm_cmpeq_epi8(here, space),
                      _mm_or_si128(_mm_cmpeq_epi8(next, space), _mm_cmpeq_epi8(next, cr))));
    if (_mm_movemask_epi8(bad) != 0) return true;
  }
#endif
  for (; i < n; ++i) {
    if (p[i] == '\t') return true;
    if (p[i] == ' ' && (i + 1 == n || p[i + 1] == ' ' || p[i + 1] == '\r')) return true;
  }
  return false;
}

// RFC 6376 §3.4.4 relaxed body canonicalization, streamed into the digest.
// Lines end with CRLF (a bare CR or LF is an ordinary character).
void HashRelaxedBody(std::string_view body, EVP_MD_CTX* ctx) {
  const char* p = body.data();
  const size_t n = body.size();
  // Fast path, the usual case for quoted-printable bodies: no tab, no run
  // of spaces, no space before a line end. Then relaxed equals simple except
  // for the empty body. Three vectorized scans, no copy.
  if (n > 0 && !NeedsRelaxedRewrite(p, n)) {
    size_t end = n;
    while (end >= 2 && p[end - 2] == '\r' && p[end - 1] == '\n') end -= 2;
    if (end > 0) HashSimpleBody(body, ctx);
    return;
  }
  auto sink = std::make_unique<DigestSink>(ctx);
  size_t pos = 0;
  size_t pending_crlf = 0;  // empty lines seen, written only if content follows
  while (pos < n) {
    size_t line_end = body.find("\r\n", pos);
    if (line_end == std::string_view::npos) line_end = n;
    size_t next = line_end == n ? n : line_end + 2;
    size_t e = line_end;
    while (e > pos && IsWsp(p[e - 1])) --e;
    if (e == pos) {
      ++pending_crlf;
      pos = next;
      continue;
    }
    for (; pending_crlf > 0; --pending_crlf) {
      char* w = sink->Reserve(2);
      *w++ = '\r';
      *w++ = '\n';
      sink->Commit(w);
    }
    bool in_space = false;
    size_t i = pos;
    while (i < e) {
      size_t chunk = std::min(e - i, sink->Room());
      if (chunk == 0) {
        sink->Flush();
        continue;
      }
      char* w = sink->Reserve(chunk);
      for (size_t stop = i + chunk; i < stop; ++i) {
        char c = p[i];
        if (IsWsp(c)) {
          if (!in_space) *w++ = ' ';
          in_space = true;
        } else {
          *w++ = c;
          in_space = false;
        }
      }
      sink->Commit(w);
    }
    char* w = sink->Reserve(2);
    *w++ = '\r';
    *w++ = '\n';
    sink->Commit(w);
    pos = next;
  }
  sink->Flush();
}

// RFC 6376 §3.4.3 simple body canonicalization: trailing empty lines
// dropped, a final CRLF ensured. No copy.
void HashSimpleBody(std::string_view body, EVP_MD_CTX* ctx) {
  size_t end = body.size();
  while (end >= 2 && body[end - 2] == '\r' && body[end - 1] == '\n') end -= 2;
  if (end > 0) EVP_DigestUpdate(ctx, body.data(), end);
  EVP_DigestUpdate(ctx, "\r\n", 2);
}

// The domain of the first From field, lower case, or "".
std::string FromDomain(const std::vector<HeaderField>& fields) {
  for (const auto& f : fields) {
    if (!EqualsIgnoreCase(f.name, "from")) continue;
    size_t at = f.raw.rfind('@');
    if (at == std::string_view::npos) return {};
    std::string domain;
    for (size_t i = at + 1; i < f.raw.size(); ++i) {
      char c = f.raw[i];
      if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '.')) break;
      domain.push_back(Lower(c));
    }
    return domain;
  }
  return {};
}

int PassphraseRefused(char*, int, int, void*) { return -1; }

// Per-thread Ed25519 signing contexts, initialized once per key and reused
// (EdDSA one-shot EVP_DigestSign may be called repeatedly on one context, as
// `openssl speed` does); saves an EVP_DigestSignInit per message. Keyed by
// a process-unique key id, never by address.
class Ed25519ContextCache {
 public:
  ~Ed25519ContextCache() {
    for (auto& e : entries_) EVP_MD_CTX_free(e.ctx);
  }
  EVP_MD_CTX* Get(uint64_t key_id, EVP_PKEY* pkey) {
    for (auto& e : entries_) {
      if (e.id == key_id) return e.ctx;
    }
    EVP_MD_CTX* ctx = EVP_MD_CTX_new();
    if (ctx == nullptr) return nullptr;
    if (EVP_DigestSignInit(ctx, nullptr, nullptr, nullptr, pkey) != 1) {
      EVP_MD_CTX_free(ctx);
      return nullptr;
    }
    if (entries_.size() >= 16) {
      EVP_MD_CTX_free(entries_.front().ctx);
      entries_.erase(entries_.begin());
    }
    entries_.push_back({key_id, ctx});
    return ctx;
  }
  void Drop(uint64_t key_id) {
    for (auto it = entries_.begin(); it != entries_.end(); ++it) {
      if (it->id == key_id) {
        EVP_MD_CTX_free(it->ctx);
        entries_.erase(it);
        return;
      }
    }
  }

 private:
  struct Entry {
    uint64_t id;
    EVP_MD_CTX* ctx;
  };
  std::vector<Entry> entries_;
};

std::atomic<uint64_t> next_key_id{1};

}  // namespace

std::string_view DkimAlgorithmName(DkimAlgorithm algorithm) {
  return algorithm == DkimAlgorithm::kRsaSha256 ? "rsa-sha256" : "ed25519-sha256";
}

bool ParseDkimAlgorithm(std::string_view name, DkimAlgorithm* out) {
  if (name == "rsa-sha256" || name == "rsa") {
    *out = DkimAlgorithm::kRsaSha256;
  } else if (name == "ed25519-sha256" || name == "ed25519") {
    *out = DkimAlgorithm::kEd25519Sha256;
  } else {
    return false;
  }
  return true;
}

std::vector<std::string> DefaultDkimSignedHeaders() {
  return {"from",
          "to",
          "subject",
          "date",
          "message-id",
          "mime-version",
          "content-type",
          "list-unsubscribe",
          "list-unsubscribe-post",
          "list-id",
          "reply-to",
          "feedback-id"};
}

struct DkimSigner::Key {
  std::string domain;  // lower case A-labels
  std::string selector;
  DkimAlgorithm algorithm;
  std::string label;  // file path or selector._domainkey.domain
  EVP_PKEY* pkey = nullptr;
  uint64_t id = next_key_id.fetch_add(1);
  ~Key() { EVP_PKEY_free(pkey); }
};

DkimSigner::~DkimSigner() = default;

Result<std::unique_ptr<DkimSigner>> DkimSigner::Create(const std::vector<DkimKeyConfig>& keys,
                                                       const DkimOptions& options) {
  std::unique_ptr<DkimSigner> signer(new DkimSigner());
  signer->options_ = options;
  for (auto& name : signer->options_.signed_headers) {
    std::transform(name.begin(), name.end(), name.begin(), Lower);
    if (!IsValidHeaderName(name)) {
      return Status::InvalidArgument(
          fmt::format("DKIM signed header \"{}\" is not a header name", name));
    }
  }
  if (std::find(signer->options_.signed_headers.begin(), signer->options_.signed_headers.end(),
                "from") == signer->options_.signed_headers.end()) {
    return Status::InvalidArgument("DKIM signed headers must include \"from\" (RFC 6376 §5.4)");
  }
  for (auto& name : signer->options_.oversigned_headers) {
    std::transform(name.begin(), name.end(), name.begin(), Lower);
  }
  if (keys.empty()) return Status::InvalidArgument("no DKIM keys configured");
  for (const DkimKeyConfig& config : keys) {
    auto key = std::make_unique<Key>();
    key->algorithm = config.algorithm;
    auto domain = NormalizeDomain(config.domain);
    if (!domain.ok()) {
      return Status::InvalidArgument("DKIM key domain: " + domain.status().message());
    }
    key->domain = *domain;
    std::transform(key->domain.begin(), key->domain.end(), key->domain.begin(), Lower);
    key->selector = config.selector;
    bool selector_ok = !key->selector.empty() && key->selector.size() <= 63 * 4;
    for (char c : key->selector) {
      selector_ok &=
          std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.';
    }
    if (!selector_ok) {
      return Status::InvalidArgument(fmt::format(
          "DKIM selector \"{}\" must be DNS labels (letters, digits, - _ .)", config.selector));
    }
    key->label = !config.private_key_path.empty()
                     ? config.private_key_path
                     : fmt::format("{}._domainkey.{} (inline PEM)", key->selector, key->domain);
    ERR_clear_error();
    BIO* bio = config.private_key_path.empty()
                   ? BIO_new_mem_buf(config.private_key_pem.data(),
                                     static_cast<int>(config.private_key_pem.size()))
                   : BIO_new_file(config.private_key_path.c_str(), "r");
    if (bio == nullptr) {
      return Status::IoError(
          fmt::format("DKIM key {}: cannot open: {}", key->label, std::strerror(errno)));
    }
    key->pkey = PEM_read_bio_PrivateKey(bio, nullptr, PassphraseRefused, nullptr);
    BIO_free(bio);
    if (key->pkey == nullptr) {
      return Status::InvalidArgument(fmt::format(
          "DKIM key {}: not an unencrypted PEM private key ({})", key->label, OpenSslError()));
    }
    if (config.algorithm == DkimAlgorithm::kRsaSha256) {
      if (!EVP_PKEY_is_a(key->pkey, "RSA")) {
        return Status::InvalidArgument(fmt::format(
            "DKIM key {}: configured as rsa-sha256 but the key is not RSA", key->label));
      }
      int bits = EVP_PKEY_get_bits(key->pkey);
      if (bits < 2048) {
        return Status::InvalidArgument(
            fmt::format("DKIM key {}: RSA key has {} bits; at least 2048 are required (RFC 8301) — "
                        "generate a new one with `postino dkim keygen`",
                        key->label, bits));
      }
    } else if (!EVP_PKEY_is_a(key->pkey, "ED25519")) {
      return Status::InvalidArgument(fmt::format(
          "DKIM key {}: configured as ed25519-sha256 but the key is not Ed25519", key->label));
    }
    signer->keys_.push_back(std::move(key));
  }
  return signer;
}

bool DkimSigner::HasKeyFor(std::string_view domain) const {
  std::string d(domain);
  std::transform(d.begin(), d.end(), d.begin(), Lower);
  while (true) {
    for (const auto& k : keys_) {
      if (k->domain == d) return true;
    }
    size_t dot = d.find('.');
    if (dot == std::string::npos) return false;
    d.erase(0, dot + 1);
  }
}

Result<std::string> DkimSigner::Sign(std::string_view message, WallTime now) const {
  size_t sep = message.find("\r\n\r\n");
  if (sep == std::string_view::npos) {
    return Status::InvalidArgument("DKIM: message has no empty line between header and body");
  }
  std::string_view header_block = message.substr(0, sep + 2);
  std::string_view body = message.substr(sep + 4);
  std::vector<HeaderField> fields;
  fields.reserve(32);
  ParseHeaderFields(header_block, &fields);

  // Keys of the From domain, or of its closest parent that has keys.
  std::string domain = FromDomain(fields);
  if (domain.empty()) return Status::InvalidArgument("DKIM: message has no From address");
  std::vector<const Key*> keys;
  for (std::string d = domain; keys.empty();) {
    for (const auto& k : keys_) {
      if (k->domain == d) keys.push_back(k.get());
    }
    size_t dot = d.find('.');
    if (dot == std::string::npos) break;
    d.erase(0, dot + 1);
  }
  if (keys.empty()) {
    return Status::NotFound(fmt::format("DKIM: no key for From domain {}", domain));
  }

  // Body hash: one pass over the body, shared by all keys.
  MdCtx md(EVP_MD_CTX_new());
  unsigned char body_hash[EVP_MAX_MD_SIZE];
  unsigned int body_hash_len = 0;
  if (!md || EVP_DigestInit_ex(md.get(), Sha256(), nullptr) != 1) {
    return Status::Internal("DKIM: SHA-256 unavailable: " + OpenSslError());
  }
  if (options_.body_canonicalization == DkimCanonicalization::kRelaxed) {
    HashRelaxedBody(body, md.get());
  } else {
    HashSimpleBody(body, md.get());
  }
  EVP_DigestFinal_ex(md.get(), body_hash, &body_hash_len);
  std::string bh =
      Base64Encode(std::string_view(reinterpret_cast<const char*>(body_hash), body_hash_len));

  // h=: every occurrence of each configured name, plus one more for the
  // over-signed names.
  std::vector<std::string_view> h;
  for (const auto& name : options_.signed_headers) {
    size_t count = 0;
    for (const auto& f : fields) count += EqualsIgnoreCase(f.name, name);
    bool over = std::find(options_.oversigned_headers.begin(), options_.oversigned_headers.end(),
                          name) != options_.oversigned_headers.end();
    for (size_t i = 0; i < count + (over ? 1 : 0); ++i) h.push_back(name);
  }
  // Canonicalized signed header fields (same for every key): each h= entry
  // takes the next instance from the bottom.
  const bool relaxed_headers = options_.header_canonicalization == DkimCanonicalization::kRelaxed;
  std::string signed_data;
  signed_data.reserve(header_block.size() + 1024);
  {
    std::vector<std::pair<std::string_view, size_t>> used;
    for (std::string_view name : h) {
      auto u = std::find_if(used.begin(), used.end(), [&](auto& e) { return e.first == name; });
      if (u == used.end()) u = used.insert(used.end(), {name, 0});
      size_t skip = u->second++;
      for (size_t i = fields.size(); i-- > 0;) {
        if (!EqualsIgnoreCase(fields[i].name, name)) continue;
        if (skip > 0) {
          --skip;
          continue;
        }
        if (relaxed_headers) {
          AppendRelaxedHeader(fields[i], &signed_data);
        } else {
          signed_data.append(fields[i].raw);
        }
        break;
      }
    }
  }
  const size_t common_len = signed_data.size();

  std::string result;
  std::string_view canon_name =
      options_.header_canonicalization == DkimCanonicalization::kRelaxed ? "relaxed" : "simple";
  std::string_view body_canon_name =
      options_.body_canonicalization == DkimCanonicalization::kRelaxed ? "relaxed" : "simple";
  auto seconds = std::chrono::duration_cast<std::chrono::seconds>(now.time_since_epoch()).count();
  for (const Key* key : keys) {
    std::string field = fmt::format("DKIM-Signature: v=1; a={}; c={}/{};\r\n\td={}; s={};",
                                    DkimAlgorithmName(key->algorithm), canon_name, body_canon_name,
                                    key->domain, key->selector);
    if (options_.add_timestamp) {
      field += fmt::format("\r\n\tt={};", seconds);
      if (options_.expiration.count() > 0) {
        field += fmt::format(" x={};", seconds + options_.expiration.count());
      }
    }
    field += "\r\n\th=";
    size_t col = 3;
    for (size_t i = 0; i < h.size(); ++i) {
      if (i > 0) {
        field.push_back(':');
        ++col;
      }
      if (col + h[i].size() > 76) {
        field += "\r\n\t";
        col = 1;
      }
      field.append(h[i]);
      col += h[i].size();
    }
    field += ";\r\n\tbh=" + bh + ";\r\n\tb=";

    // Header hash input: signed fields + this field with empty b=, no CRLF.
    signed_data.resize(common_len);
    if (relaxed_headers) {
      std::string_view name = "DKIM-Signature";
      field.append("\r\n");
      AppendRelaxedHeader({name, field}, &signed_data);
      field.resize(field.size() - 2);
      signed_data.resize(signed_data.size() - 2);
    } else {
      signed_data.append(field);
    }

    // Sign with a per-thread (Ed25519) or per-call (RSA) context over the
    // shared read-only key.
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int digest_len = 0;
    const unsigned char* tbs = reinterpret_cast<const unsigned char*>(signed_data.data());
    size_t tbs_len = signed_data.size();
    const EVP_MD* md_for_sign = Sha256();
    if (key->algorithm == DkimAlgorithm::kEd25519Sha256) {
      // RFC 8463 §3: Ed25519 (PureEdDSA) signs the SHA-256 hash of the data.
      if (EVP_Digest(tbs, tbs_len, digest, &digest_len, Sha256(), nullptr) != 1) {
        return Status::Internal("DKIM: SHA-256 failed: " + OpenSslError());
      }
      tbs = digest;
      tbs_len = digest_len;
      md_for_sign = nullptr;
    }
    unsigned char sig[1024];
    size_t sig_len = sizeof sig;
    bool signed_ok = false;
    if (key->algorithm == DkimAlgorithm::kEd25519Sha256) {
      thread_local Ed25519ContextCache cache;
      EVP_MD_CTX* cached = cache.Get(key->id, key->pkey);
      signed_ok = cached != nullptr && EVP_DigestSign(cached, sig, &sig_len, tbs, tbs_len) == 1;
      if (!signed_ok) cache.Drop(key->id);  // retried below with a fresh context
    }
    if (!signed_ok) {
      MdCtx ctx(EVP_MD_CTX_new());
      sig_len = sizeof sig;
      if (!ctx || EVP_DigestSignInit(ctx.get(), nullptr, md_for_sign, nullptr, key->pkey) != 1 ||
          EVP_DigestSign(ctx.get(), sig, &sig_len, tbs, tbs_len) != 1) {
        return Status::Internal(
            fmt::format("DKIM: signing with {} failed: {}", key->label, OpenSslError()));
      }
    }
    std::string b64 = Base64Encode(std::string_view(reinterpret_cast<char*>(sig), sig_len));
    for (size_t i = 0; i < b64.size(); i += 72) {
      if (i > 0) field += "\r\n\t";
      field.append(b64, i, 72);
    }
    field += "\r\n";
    result += field;
  }
  return result;
}

Status DkimSigner::SignInPlace(std::string* message, WallTime now) const {
  auto fields = Sign(*message, now);
  if (!fields.ok()) return fields.status();
  message->insert(0, *fields);
  return Status::Ok();
}

}  // namespace postino::templates
