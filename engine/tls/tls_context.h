// tls_context.h: shared TLS settings (an SSL_CTX) for client or server
// TlsTransports. Clients: TLS 1.2 minimum, optional verification against the
// system CA store plus an extra CA file. Servers: a certificate and key.
#pragma once

#include <memory>
#include <string>

#include "common/status.h"

struct ssl_ctx_st;

namespace postino::tls {

struct ClientContextOptions {
  // Load the system CA store and the extra CA file so peers can be verified.
  // Whether a given connection requires verification is per TlsTransport.
  bool load_trust_store = true;
  std::string ca_file;  // extra PEM bundle; "" = none
};

class TlsContext {
 public:
  static Result<std::shared_ptr<TlsContext>> NewClient(const ClientContextOptions& options);
  // PEM text of the certificate (chain) and private key.
  static Result<std::shared_ptr<TlsContext>> NewServer(const std::string& cert_pem,
                                                       const std::string& key_pem);
  ~TlsContext();
  TlsContext(const TlsContext&) = delete;
  TlsContext& operator=(const TlsContext&) = delete;

  bool is_server() const { return server_; }
  ssl_ctx_st* native() const { return ctx_; }

 private:
  TlsContext(ssl_ctx_st* ctx, bool server) : ctx_(ctx), server_(server) {}
  ssl_ctx_st* ctx_;
  bool server_;
};

// The last OpenSSL error queue entries as text (and clears the queue).
std::string DrainOpenSslErrors();

}  // namespace postino::tls
