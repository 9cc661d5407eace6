// connection.cc: the session driver (see connection.h).
#include "engine/delivery/connection.h"

#include "common/log.h"
#include "engine/tls/tls_transport.h"

namespace postino::delivery {

struct Connection::TimerBox {
  uv_timer_t timer;
  Connection* owner;  // null once the connection is gone
};

Connection::Connection(uv_loop_t* loop, ConnectionParams params, ConnectionOwner* owner)
    : loop_(loop), params_(std::move(params)), owner_(owner), session_(params_.session) {
  timer_ = new TimerBox();
  timer_->owner = this;
  uv_timer_init(loop_, &timer_->timer);
  timer_->timer.data = timer_;
}

Connection::~Connection() {
  if (transport_) transport_->Close();
  transport_.reset();
  timer_->owner = nullptr;
  uv_timer_stop(&timer_->timer);
  uv_close(reinterpret_cast<uv_handle_t*>(&timer_->timer),
           [](uv_handle_t* h) { delete static_cast<TimerBox*>(h->data); });
}

void Connection::Start() {
  session_.Start();
  net::ConnectOptions options;
  options.peer = params_.target.address;
  options.source = params_.source;
  options.timeout = std::chrono::milliseconds(0);  // the session's connect timer rules
  auto tcp = net::TcpTransport::Connect(loop_, options, this);
  if (params_.target.tls == smtp::TlsMode::kImplicit) {
    tls::ClientParams tp;
    tp.sni = params_.target.host_name;
    tp.verify = params_.target.tls_verify;
    tp.verify_name = params_.target.host_name;
    auto wrapped = tls::TlsTransport::NewClient(std::move(tcp), params_.tls_context, tp, this);
    if (!wrapped.ok()) {
      session_.OnClosed("TLS setup failed: " + wrapped.status().message());
      Process();
      return;
    }
    tls_ = wrapped->get();
    transport_ = std::move(*wrapped);
  } else {
    transport_ = std::move(tcp);
  }
  Process();
}

void Connection::Send(std::unique_ptr<Pending> message) {
  smtp::Transaction txn;
  txn.id = message->seq;
  txn.mail_from = message->mail_from;
  txn.data = message->data;
  auto non_ascii = [](const std::string& s) {
    for (unsigned char c : s) {
      if (c >= 0x80) return true;
    }
    return false;
  };
  txn.smtputf8 = non_ascii(message->mail_from);
  for (const PendingRcpt& r : message->rcpts) {
    txn.rcpts.push_back(r.address);
    txn.smtputf8 = txn.smtputf8 || non_ascii(r.address);
  }
  ready_ = false;
  ++transactions_started_;
  Carried carried;
  carried.results.resize(message->rcpts.size());
  carried.missing = message->rcpts.size();
  carried.message = std::move(message);
  in_flight_.emplace(txn.id, std::move(carried));
  session_.Submit(std::move(txn));
  Process();
}

void Connection::Quit() {
  // Takes no more messages from now on, even while still connected.
  quitting_ = true;
  ready_ = false;
  session_.Quit();
  Process();
}

void Connection::Abort(std::string_view reason) {
  session_.Abort(reason);
  Process();
}

void Connection::OnTransportConnected() {
  if (tls_ != nullptr && params_.target.tls == smtp::TlsMode::kImplicit &&
      !session_.tls().has_value()) {
    session_.OnConnected();
    smtp::TlsInfo info{tls_->version(), tls_->cipher(), tls_->verified()};
    session_.OnTlsReady(info);
  } else if (tls_ != nullptr) {
    smtp::TlsInfo info{tls_->version(), tls_->cipher(), tls_->verified()};
    session_.OnTlsReady(info);
  } else {
    session_.OnConnected();
  }
  Process();
}

void Connection::OnTransportData(std::string_view bytes) {
  session_.OnBytes(bytes);
  Process();
}

void Connection::OnTransportClosed(const Status& reason) {
  if (tls_ != nullptr && !tls_->handshake_done() &&
      params_.target.tls != smtp::TlsMode::kImplicit) {
    tls_failed_ = true;
    session_.OnTlsFailed(reason.message());
  } else {
    session_.OnClosed(reason.message());
  }
  Process();
}

void Connection::StartTls() {
  tls::ClientParams tp;
  tp.sni = params_.target.host_name;
  tp.verify = params_.target.tls_verify;
  tp.verify_name = params_.target.host_name;
  auto wrapped = tls::TlsTransport::NewClient(std::move(transport_), params_.tls_context, tp, this);
  if (!wrapped.ok()) {
    tls_failed_ = true;
    session_.OnTlsFailed(wrapped.status().message());
    return;
  }
  tls_ = wrapped->get();
  transport_ = std::move(*wrapped);
  tls_->StartHandshake();  // a setup failure comes back through OnTransportClosed
}

void Connection::ArmTimer(std::chrono::milliseconds timeout, bool idle) {
  idle_timer_ = idle;
  uv_timer_start(
      &timer_->timer,
      [](uv_timer_t* t) {
        auto* box = static_cast<TimerBox*>(t->data);
        if (box->owner != nullptr) box->owner->OnTimer();
      },
      static_cast<uint64_t>(std::max<int64_t>(timeout.count(), 1)), 0);
}

void Connection::OnTimer() {
  if (idle_timer_) {
    idle_timer_ = false;
    if (ready_) {
      Quit();
      return;
    }
  } else {
    session_.OnTimeout();
  }
  Process();
}

void Connection::Process() {
  if (processing_) return;  // the outer call picks the new actions up
  processing_ = true;
  for (;;) {
    std::vector<smtp::Action> actions = session_.TakeActions();
    if (actions.empty()) break;
    for (smtp::Action& a : actions) {
      switch (a.kind) {
        case smtp::Action::Kind::kWrite:
          if (transport_) transport_->Write(std::move(a.bytes));
          break;
        case smtp::Action::Kind::kStartTls:
          StartTls();
          break;
        case smtp::Action::Kind::kArmTimer:
          ArmTimer(a.timeout, /*idle=*/false);
          break;
        case smtp::Action::Kind::kClose:
          closed_ = true;
          ready_ = false;
          uv_timer_stop(&timer_->timer);
          if (transport_) transport_->Close();
          break;
        case smtp::Action::Kind::kRecipientResult: {
          auto it = in_flight_.find(a.txn_id);
          if (it == in_flight_.end() || a.rcpt_index >= it->second.results.size() ||
              it->second.results[a.rcpt_index].has_value()) {
            log::Error("delivery: unexpected result for transaction {} recipient {}", a.txn_id,
                       a.rcpt_index);
            break;
          }
          it->second.results[a.rcpt_index] = RcptResult{std::move(a.reply), a.phase};
          if (--it->second.missing == 0) Deliver(a.txn_id);
          break;
        }
        case smtp::Action::Kind::kReady:
          if (closed_ || quitting_) break;
          ready_ = true;
          was_ready_ = true;
          ArmTimer(params_.idle_timeout, /*idle=*/true);
          owner_->OnConnectionReady(this);
          break;
      }
    }
  }
  processing_ = false;
  if (closed_) Finish();
}

void Connection::Finish() {
  if (close_reported_) return;
  close_reported_ = true;
  // The session reports every recipient before kClose; anything left is a bug
  // in the contract, but each recipient must still get its one result.
  while (!in_flight_.empty()) {
    auto it = in_flight_.begin();
    smtp::Reply reply;
    reply.code = 451;
    reply.enhanced = "4.3.0";
    reply.lines.push_back("4.3.0 connection closed with the message in flight");
    reply.local = true;
    for (auto& r : it->second.results) {
      if (!r) r = RcptResult{reply, smtp::Phase::kEndOfData};
    }
    Deliver(it->first);
  }
  owner_->OnConnectionClosed(this);
}

void Connection::Deliver(uint64_t seq) {
  auto it = in_flight_.find(seq);
  if (it == in_flight_.end()) return;
  Carried carried = std::move(it->second);
  in_flight_.erase(it);
  std::vector<RcptResult> results;
  results.reserve(carried.results.size());
  for (auto& r : carried.results) results.push_back(std::move(*r));
  owner_->OnMessageResult(this, std::move(carried.message), std::move(results));
}

}  // namespace postino::delivery
