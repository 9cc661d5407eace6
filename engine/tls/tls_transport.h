// tls_transport.h: a Transport that runs TLS (OpenSSL, memory BIOs) over
// another Transport. Client mode for outbound SMTP (STARTTLS or implicit TLS
// on 465), server mode for listeners and test servers. Verification failures
// are errors: the transport never falls back to plain text by itself.
#pragma once

#include <memory>
#include <string>

#include "engine/net/transport.h"
#include "engine/tls/tls_context.h"

struct ssl_st;
struct bio_st;

namespace postino::tls {

struct ClientParams {
  std::string sni;          // server name to send (ignored when empty or an IP literal)
  bool verify = false;      // require a trusted chain matching `verify_name`
  std::string verify_name;  // host name or IP literal the certificate must match
};

class TlsTransport final : public net::Transport, private net::TransportHandler {
 public:
  // Wraps `inner`, taking it over (its handler becomes this transport). The
  // handshake starts with StartHandshake(), or by itself when `inner`
  // reports that it connected (implicit TLS). The handler's
  // OnTransportConnected means the handshake completed.
  static Result<std::unique_ptr<TlsTransport>> NewClient(std::unique_ptr<net::Transport> inner,
                                                         std::shared_ptr<TlsContext> context,
                                                         const ClientParams& params,
                                                         net::TransportHandler* handler);
  static Result<std::unique_ptr<TlsTransport>> NewServer(std::unique_ptr<net::Transport> inner,
                                                         std::shared_ptr<TlsContext> context,
                                                         net::TransportHandler* handler);
  ~TlsTransport() override;

  // Begins the handshake over an already connected inner transport. Only a
  // local setup error (rare) reaches the handler synchronously, as
  // OnTransportClosed.
  void StartHandshake();

  void SetHandler(net::TransportHandler* handler) override { handler_ = handler; }
  // Buffered until the handshake is done. Never calls the handler; a TLS
  // state error closes the connection silently (the owner's timer notices).
  void Write(std::string bytes) override;
  void Close() override;                    // sends close_notify, closes the inner transport
  bool open() const override { return inner_ != nullptr && inner_->open(); }
  std::string local_address() const override;
  std::string peer_address() const override;

  bool handshake_done() const { return handshake_done_; }
  std::string version() const;  // "TLSv1.3"; "" before the handshake
  std::string cipher() const;   // "TLS_AES_256_GCM_SHA384"
  bool verified() const;        // the chain and name verified

 private:
  TlsTransport(std::unique_ptr<net::Transport> inner, std::shared_ptr<TlsContext> context,
               net::TransportHandler* handler);

  // From the inner transport.
  void OnTransportConnected() override;
  void OnTransportData(std::string_view bytes) override;
  void OnTransportClosed(const Status& reason) override;

  // Runs the handshake / reads; returns false if this object was closed or
  // destroyed by a handler callback during the call.
  bool Advance();
  void FlushOutput();
  void Fail(const Status& status);
  std::string ErrorText(int ssl_error);

  std::unique_ptr<net::Transport> inner_;
  std::shared_ptr<TlsContext> context_;
  net::TransportHandler* handler_;
  ssl_st* ssl_ = nullptr;
  bio_st* read_bio_ = nullptr;   // ciphertext from the peer
  bio_st* write_bio_ = nullptr;  // ciphertext to the peer
  bool started_ = false;
  bool handshake_done_ = false;
  bool closed_ = false;
  std::string pending_plain_;    // written before the handshake finished
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

}  // namespace postino::tls
