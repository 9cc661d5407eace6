// client_session_transaction.cc: ClientSession::Impl's transactions: going
// idle and taking the next queued one, local checks before MAIL (addresses,
// SMTPUTF8, SIZE, dot-stuffing), MAIL/RCPT/DATA sent at once with PIPELINING
// or one per reply without, each recipient's result, the body and RSET after
// a failed transaction.
#include <string>
#include <utility>

#include "engine/smtp/client_session_impl.h"
#include "engine/smtp/commands.h"
#include "engine/smtp/data_encoder.h"

namespace postino::smtp {

// ---- Transactions ----------------------------------------------------------

void ClientSession::Impl::GoIdle() {
  if (state_ != State::kReady) Enter(State::kReady);
  while (!queued_.empty()) {
    if (transactions_done_ >= params_.max_transactions) {
      FailPending(LocalReply(451, "4.3.0", "max_transactions reached on this connection"),
                  Phase::kMail);
      break;
    }
    Transaction txn = std::move(queued_.front());
    queued_.pop_front();
    if (StartTransaction(std::move(txn))) return;
  }
  if (quit_requested_ || transactions_done_ >= params_.max_transactions) {
    Enter(State::kQuit);
    return;
  }
  Action a;
  a.kind = Action::Kind::kReady;
  actions_.push_back(std::move(a));
}

void ClientSession::Impl::FailTransactionLocally(Transaction& txn, const Reply& reply,
                                                 Phase phase) {
  for (size_t i = 0; i < txn.rcpts.size(); ++i) EmitResult(txn.id, i, reply, phase);
}

bool ClientSession::Impl::StartTransaction(Transaction txn) {
  if (!IsSafePathAddress(txn.mail_from, /*allow_empty=*/true)) {
    FailTransactionLocally(txn, LocalReply(553, "5.1.7", "invalid sender address syntax"),
                           Phase::kMail);
    return false;
  }
  if (txn.smtputf8 && !caps_.smtputf8) {
    FailTransactionLocally(
        txn, LocalReply(553, "5.6.7", "message needs SMTPUTF8, which the server does not offer"),
        Phase::kMail);
    return false;
  }
  Active a;
  std::string_view message = txn.data ? std::string_view(*txn.data) : std::string_view();
  Status st = DotStuff(message, &a.body);
  if (!st.ok()) {
    FailTransactionLocally(txn, LocalReply(554, "5.6.0", "message not sendable: " + st.message()),
                           Phase::kMail);
    return false;
  }
  if (caps_.size > 0 && message.size() > caps_.size) {
    FailTransactionLocally(
        txn,
        LocalReply(552, "5.3.4",
                   "message size " + std::to_string(message.size()) +
                       " exceeds the server's SIZE limit " + std::to_string(caps_.size)),
        Phase::kMail);
    return false;
  }
  a.rcpts.assign(txn.rcpts.size(), RcptState::kPending);
  a.txn = std::move(txn);
  active_ = std::move(a);
  for (size_t i = 0; i < active_->txn.rcpts.size(); ++i) {
    if (IsSafePathAddress(active_->txn.rcpts[i], /*allow_empty=*/false)) {
      active_->rcpt_order.push_back(i);
    } else {
      RecipientResult(i, LocalReply(501, "5.1.3", "invalid recipient address syntax"),
                      Phase::kRcpt);
    }
  }
  if (active_->rcpt_order.empty()) {
    active_.reset();
    return false;
  }
  active_->pipelined = params_.pipelining && caps_.pipelining;
  Enter(State::kMail);
  return true;
}

std::string ClientSession::Impl::TransactionCommand(size_t i) const {
  const Active& a = *active_;
  if (i == 0) {
    size_t size = a.txn.data ? a.txn.data->size() : 0;
    return MailCommand(a.txn.mail_from, a.txn.smtputf8 && caps_.smtputf8,
                       a.txn.eightbit && caps_.eightbitmime, caps_.size_announced, size);
  }
  if (i <= a.rcpt_order.size()) return RcptCommand(a.txn.rcpts[a.rcpt_order[i - 1]]);
  return "DATA\r\n";
}

void ClientSession::Impl::SendTransactionCommands() {
  Active& a = *active_;
  if (a.pipelined) {
    if (a.sent == a.CommandCount()) return;
    std::string batch;
    while (a.sent < a.CommandCount()) batch += TransactionCommand(a.sent++);
    Write(std::move(batch));  // RFC 2920: the whole group in one write
  } else if (a.sent == a.received && a.sent < a.CommandCount()) {
    Write(TransactionCommand(a.sent++));
  }
}

void ClientSession::Impl::OnTransactionReply(const Reply& reply) {
  Active& a = *active_;
  if (a.received >= a.sent) {
    FailSession(LocalReply(451, "4.5.0",
                           "protocol error from the server during " +
                               std::string(PhaseName(Info(state_).phase)) +
                               ": reply to a command not sent: " + reply.ToString()),
                Info(state_).phase, /*send_quit=*/false);
    return;
  }
  const size_t index = a.received++;
  const size_t n = a.rcpt_order.size();
  bool positive = reply.code >= 200 && reply.code < 300;
  if (index == 0) {  // MAIL FROM
    if (positive) {
      a.mail_ok = true;
    } else {
      a.failed = true;
      for (size_t i : a.rcpt_order) RecipientResult(i, reply, Phase::kMail);
    }
  } else if (index <= n) {  // RCPT TO
    size_t rcpt = a.rcpt_order[index - 1];
    if (a.mail_ok) {
      if (positive) {
        a.rcpts[rcpt] = RcptState::kAccepted;
        ++a.accepted;
      } else {
        RecipientResult(rcpt, reply, Phase::kRcpt);
      }
    }
  } else {  // DATA
    if (reply.code == 354) {
      if (a.accepted == 0) {
        // Nobody to deliver to but the server wants the body: send an
        // empty one (RFC 2920 §3.1) and throw its reply away.
        a.failed = true;
        a.body = ".\r\n";
      }
      Enter(State::kEndOfData);
      return;
    }
    a.failed = true;
    // Only 354 lets the body go. A 4xx/5xx refuses the transaction; any
    // other reply (a 2xx, 3xx or 1xx) is a protocol error: no body was
    // sent, so nothing was delivered, whatever the code says.
    const Reply failure =
        reply.code >= 400 && reply.code < 600
            ? reply
            : LocalReply(451, "4.5.0",
                         "protocol error: the server answered DATA with \"" + reply.ToString() +
                             "\" instead of 354; the message was not sent");
    for (size_t i : a.rcpt_order) {
      if (a.rcpts[i] == RcptState::kAccepted) RecipientResult(i, failure, Phase::kData);
    }
    EndTransaction();
    return;
  }
  // Without PIPELINING, stop early when nothing can be delivered.
  if (!a.pipelined && (!a.mail_ok || (index == n && a.accepted == 0))) {
    a.failed = true;
    EndTransaction();
    return;
  }
  Enter(index + 1 < n + 1 ? State::kRcpt : State::kData);
}

void ClientSession::Impl::OnEndOfDataReply(const Reply& reply) {
  Active& a = *active_;
  if (a.accepted > 0) {
    if (!(reply.code >= 200 && reply.code < 300)) a.failed = true;
    for (size_t i : a.rcpt_order) {
      if (a.rcpts[i] == RcptState::kAccepted) RecipientResult(i, reply, Phase::kEndOfData);
    }
  }
  EndTransaction();
}

void ClientSession::Impl::EndTransaction() {
  bool failed = active_->failed;
  active_.reset();
  ++transactions_done_;
  if (failed) {
    Enter(State::kRset);
  } else {
    GoIdle();
  }
}

}  // namespace postino::smtp
