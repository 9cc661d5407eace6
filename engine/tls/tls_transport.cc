// tls_transport.cc: TLS over a Transport through memory BIOs (see tls_transport.h).
#include "engine/tls/tls_transport.h"

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "engine/net/address.h"

namespace postino::tls {

TlsTransport::TlsTransport(std::unique_ptr<net::Transport> inner,
                           std::shared_ptr<TlsContext> context, net::TransportHandler* handler)
    : inner_(std::move(inner)), context_(std::move(context)), handler_(handler) {}

Result<std::unique_ptr<TlsTransport>> TlsTransport::NewClient(std::unique_ptr<net::Transport> inner,
                                                              std::shared_ptr<TlsContext> context,
                                                              const ClientParams& params,
                                                              net::TransportHandler* handler) {
  if (context == nullptr || context->is_server()) {
    return Status::InvalidArgument("TLS client needs a client context");
  }
  std::unique_ptr<TlsTransport> t(new TlsTransport(std::move(inner), std::move(context), handler));
  t->ssl_ = SSL_new(t->context_->native());
  if (t->ssl_ == nullptr) return Status::Internal("SSL_new: " + DrainOpenSslErrors());
  t->read_bio_ = BIO_new(BIO_s_mem());
  t->write_bio_ = BIO_new(BIO_s_mem());
  SSL_set_bio(t->ssl_, t->read_bio_, t->write_bio_);  // the SSL owns both BIOs
  SSL_set_connect_state(t->ssl_);
  if (!params.sni.empty() && !net::IsIpLiteral(params.sni)) {
    SSL_set_tlsext_host_name(t->ssl_, params.sni.c_str());
  }
  if (params.verify) {
    SSL_set_verify(t->ssl_, SSL_VERIFY_PEER, nullptr);
    if (params.verify_name.empty()) {
      return Status::InvalidArgument("TLS verification needs a host name to check");
    }
    X509_VERIFY_PARAM* vp = SSL_get0_param(t->ssl_);
    int ok = net::IsIpLiteral(params.verify_name)
                 ? X509_VERIFY_PARAM_set1_ip_asc(vp, params.verify_name.c_str())
                 : SSL_set1_host(t->ssl_, params.verify_name.c_str());
    if (ok != 1) {
      return Status::InvalidArgument("cannot check TLS name '" + params.verify_name +
                                     "': " + DrainOpenSslErrors());
    }
  }
  t->inner_->SetHandler(t.get());
  return t;
}

Result<std::unique_ptr<TlsTransport>> TlsTransport::NewServer(std::unique_ptr<net::Transport> inner,
                                                              std::shared_ptr<TlsContext> context,
                                                              net::TransportHandler* handler) {
  if (context == nullptr || !context->is_server()) {
    return Status::InvalidArgument("TLS server needs a server context");
  }
  std::unique_ptr<TlsTransport> t(new TlsTransport(std::move(inner), std::move(context), handler));
  t->ssl_ = SSL_new(t->context_->native());
  if (t->ssl_ == nullptr) return Status::Internal("SSL_new: " + DrainOpenSslErrors());
  t->read_bio_ = BIO_new(BIO_s_mem());
  t->write_bio_ = BIO_new(BIO_s_mem());
  SSL_set_bio(t->ssl_, t->read_bio_, t->write_bio_);
  SSL_set_accept_state(t->ssl_);
  t->inner_->SetHandler(t.get());
  return t;
}

TlsTransport::~TlsTransport() {
  *alive_ = false;
  Close();
  if (ssl_ != nullptr) SSL_free(ssl_);
}

void TlsTransport::StartHandshake() {
  if (started_ || closed_) return;
  started_ = true;
  // A client produces its ClientHello now; a server waits for it.
  int rc = SSL_do_handshake(ssl_);
  if (rc != 1) {
    int err = SSL_get_error(ssl_, rc);
    if (err != SSL_ERROR_WANT_READ && err != SSL_ERROR_WANT_WRITE) {
      Fail(Status::IoError("TLS handshake failed: " + ErrorText(err)));
      return;
    }
  }
  FlushOutput();
}

void TlsTransport::OnTransportConnected() { StartHandshake(); }

void TlsTransport::OnTransportData(std::string_view bytes) {
  if (closed_) return;
  BIO_write(read_bio_, bytes.data(), static_cast<int>(bytes.size()));
  if (!started_) started_ = true;  // a server learns of the client this way
  Advance();
}

void TlsTransport::OnTransportClosed(const Status& reason) {
  if (closed_) return;
  closed_ = true;
  net::TransportHandler* handler = handler_;
  handler_ = nullptr;
  if (handler == nullptr) return;
  if (!handshake_done_) {
    handler->OnTransportClosed(Status(reason.code() == Status::Code::kTimeout
                                          ? Status::Code::kTimeout
                                          : Status::Code::kIoError,
                                      "TLS handshake failed: " + reason.message()));
  } else {
    handler->OnTransportClosed(reason);
  }
}

bool TlsTransport::Advance() {
  std::shared_ptr<bool> alive = alive_;
  if (!handshake_done_) {
    int rc = SSL_do_handshake(ssl_);
    if (rc != 1) {
      int err = SSL_get_error(ssl_, rc);
      FlushOutput();
      if (err == SSL_ERROR_WANT_READ || err == SSL_ERROR_WANT_WRITE) return true;
      Fail(Status::IoError("TLS handshake failed: " + ErrorText(err)));
      return false;
    }
    handshake_done_ = true;
    FlushOutput();
    if (!pending_plain_.empty()) {
      std::string plain = std::move(pending_plain_);
      pending_plain_.clear();
      Write(std::move(plain));
    }
    if (handler_ != nullptr) handler_->OnTransportConnected();
    if (!*alive || closed_) return false;
  }
  std::string plain;
  char buf[16 * 1024];
  for (;;) {
    int n = SSL_read(ssl_, buf, sizeof(buf));
    if (n > 0) {
      plain.append(buf, static_cast<size_t>(n));
      continue;
    }
    int err = SSL_get_error(ssl_, n);
    if (err == SSL_ERROR_WANT_READ || err == SSL_ERROR_WANT_WRITE) break;
    FlushOutput();
    if (!plain.empty() && handler_ != nullptr) {
      handler_->OnTransportData(plain);
      if (!*alive || closed_) return false;
    }
    if (err == SSL_ERROR_ZERO_RETURN) {
      Fail(Status::IoError("TLS connection closed by " + peer_address()));
    } else {
      Fail(Status::IoError("TLS read failed: " + ErrorText(err)));
    }
    return false;
  }
  FlushOutput();  // key updates, session tickets, alerts
  if (!plain.empty() && handler_ != nullptr) {
    handler_->OnTransportData(plain);
    if (!*alive || closed_) return false;
  }
  return true;
}

void TlsTransport::Write(std::string bytes) {
  if (closed_ || bytes.empty()) return;
  if (!handshake_done_) {
    pending_plain_ += bytes;
    return;
  }
  int n = SSL_write(ssl_, bytes.data(), static_cast<int>(bytes.size()));
  if (n <= 0) {
    // Memory BIOs grow as needed, so this is a TLS state error; report it
    // from the inner transport's close path, never synchronously.
    ERR_clear_error();
    closed_ = true;
    if (inner_) inner_->Close();
    return;
  }
  FlushOutput();
}

void TlsTransport::FlushOutput() {
  if (inner_ == nullptr) return;
  size_t pending = BIO_ctrl_pending(write_bio_);
  if (pending == 0) return;
  std::string out(pending, '\0');
  int n = BIO_read(write_bio_, out.data(), static_cast<int>(pending));
  if (n <= 0) return;
  out.resize(static_cast<size_t>(n));
  inner_->Write(std::move(out));
}

void TlsTransport::Fail(const Status& status) {
  net::TransportHandler* handler = handler_;
  Close();
  if (handler != nullptr) handler->OnTransportClosed(status);
}

void TlsTransport::Close() {
  if (inner_ == nullptr) return;
  if (!closed_ && handshake_done_) {
    SSL_shutdown(ssl_);  // queue close_notify
    FlushOutput();
  }
  closed_ = true;
  handler_ = nullptr;
  inner_->Close();
  inner_.reset();
  ERR_clear_error();
}

std::string TlsTransport::ErrorText(int ssl_error) {
  std::string out;
  if (ssl_error == SSL_ERROR_SSL) {
    long verify = SSL_get_verify_result(ssl_);
    if (verify != X509_V_OK && SSL_get_verify_mode(ssl_) != SSL_VERIFY_NONE) {
      out = std::string("certificate verification failed: ") +
            X509_verify_cert_error_string(verify);
      ERR_clear_error();
      return out;
    }
    return DrainOpenSslErrors();
  }
  if (ssl_error == SSL_ERROR_SYSCALL) {
    ERR_clear_error();
    return "unexpected end of TLS stream";
  }
  ERR_clear_error();
  return "SSL error " + std::to_string(ssl_error);
}

std::string TlsTransport::local_address() const {
  return inner_ ? inner_->local_address() : std::string();
}
std::string TlsTransport::peer_address() const {
  return inner_ ? inner_->peer_address() : std::string();
}

std::string TlsTransport::version() const {
  return handshake_done_ ? SSL_get_version(ssl_) : "";
}
std::string TlsTransport::cipher() const {
  return handshake_done_ ? SSL_get_cipher_name(ssl_) : "";
}
bool TlsTransport::verified() const {
  return handshake_done_ && SSL_get0_peer_certificate(ssl_) != nullptr &&
         SSL_get_verify_result(ssl_) == X509_V_OK;
}

}  // namespace postino::tls
