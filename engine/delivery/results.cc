// results.cc: what a finished transaction means. Each distinct reply is
// classified once by the policy, and the engine acts on the whole Decision:
// the recipient's disposition, the path action (suspend, slow down), the
// next MX for a host's refusal before the transaction, and the 452 "too
// many recipients" overflow into the next transaction. Also the Outcomes.
#include <algorithm>

#include "common/log.h"
#include "engine/delivery/engine_impl.h"

namespace postino::delivery {

namespace {

bool PassedRcpt(const RcptResult& r) {
  return r.phase == smtp::Phase::kData || r.phase == smtp::Phase::kBody ||
         r.phase == smtp::Phase::kEndOfData;
}

Disposition DispositionOf(const policy::Decision& d) {
  switch (d.recipient) {
    case policy::RecipientAction::kDelivered:
      return Disposition::kDelivered;
    case policy::RecipientAction::kBounce:
      return Disposition::kBounced;
    case policy::RecipientAction::kRetryLater:
    case policy::RecipientAction::kTryNextMx:
      break;
  }
  return Disposition::kDeferred;
}

}  // namespace

policy::Decision Engine::Impl::Classify(const Site* site, smtp::Phase phase,
                                        const smtp::Reply& reply) const {
  const std::string_view key = site != nullptr ? std::string_view(site->key) : "";
  return policy_ ? policy_->Classify(phase, reply, key)
                 : policy::DefaultPolicy().Classify(phase, reply, key);
}

void Engine::Impl::OnMessageResult(Connection* conn, std::unique_ptr<Pending> message,
                                   std::vector<RcptResult> results) {
  auto* dest = static_cast<Destination*>(conn->destination);
  auto* path = static_cast<Path*>(conn->path);
  const std::string& mx_host = conn->target().host_name;
  const size_t host_index = conn->target().host_index;
  // Recipients refused only because the transaction was full go in the next
  // transaction, once the server took some (else a server answering 452 to
  // everything would loop).
  const bool some_passed = std::any_of(results.begin(), results.end(), PassedRcpt);
  std::unique_ptr<Pending> overflow;
  std::optional<size_t> first_overflow;
  std::unique_ptr<Pending> next_mx;
  const RcptResult* next_mx_reason = nullptr;
  const policy::Decision* next_mx_decision = nullptr;
  // Each distinct reply of the transaction is classified once, not once
  // per recipient, and its path action (if any) carried out once.
  struct Verdict {
    const RcptResult* result;
    policy::Decision decision;
  };
  std::vector<Verdict> verdicts;
  verdicts.reserve(results.size());
  // One path action of each kind per transaction: replies that differ only
  // by the recipient's address must not report the same suspension 50 times.
  bool acted[3] = {false, false, false};
  auto verdict_for = [&](const RcptResult& r) -> const Verdict& {
    for (const Verdict& v : verdicts) {
      if (v.result->phase == r.phase && v.result->reply.code == r.reply.code &&
          v.result->reply.lines == r.reply.lines && v.result->reply.local == r.reply.local) {
        return v;
      }
    }
    Verdict v{&r, Classify(path->site, r.phase, r.reply)};
    // A transaction's "too many recipients" is about its size, not the path.
    bool& done = acted[static_cast<size_t>(v.decision.path)];
    if (!done && !r.reply.local && !shutting_down_ &&
        v.decision.category != policy::Category::kTooManyRecipients) {
      done = ApplyPathAction(path, message->domain, r.reply, v.decision);
    }
    verdicts.push_back(std::move(v));
    return verdicts.back();
  };
  auto carry = [&](std::unique_ptr<Pending>* into, size_t i) {
    if (!*into) *into = SameMessage(*message);
    (*into)->rcpts.push_back(std::move(message->rcpts[i]));
  };
  for (size_t i = 0; i < results.size() && i < message->rcpts.size(); ++i) {
    const RcptResult& r = results[i];
    const uint64_t id = message->rcpts[i].id;
    const Verdict& v = verdict_for(r);
    // RFC 5321 §4.5.3.1.10: a server out of recipient slots answers RCPT
    // with 452 (the policy's kTooManyRecipients category).
    if (some_passed && r.phase == smtp::Phase::kRcpt && !r.reply.local &&
        v.decision.category == policy::Category::kTooManyRecipients && !shutting_down_) {
      if (!first_overflow) first_overflow = i;
      carry(&overflow, i);
      continue;
    }
    if (v.decision.recipient == policy::RecipientAction::kTryNextMx) {
      if (!next_mx_reason) {
        next_mx_reason = &r;
        next_mx_decision = &v.decision;
      }
      carry(&next_mx, i);
      continue;
    }
    Emit(id, DispositionOf(v.decision), r.reply, r.phase, v.decision, conn, mx_host);
  }
  if (overflow) {
    Site* site = path->site;
    if (*first_overflow > 0 && *first_overflow < RcptLimit(site)) {
      site->learned_rcpt_limit = *first_overflow;
      // A limit per hour or per connection may lift again: try the
      // configured one after a while.
      site->learned_rcpt_limit_until = Now() + std::chrono::hours(1);
      log::Info("delivery: {} [{}] takes {} recipients per transaction; sending at most that many",
                mx_host, conn->target().ip, *first_overflow);
    }
    dest->queue.push_front(std::move(overflow));
    SchedulePump(dest);
  }
  if (next_mx) {
    if (host_index < 64) next_mx->tried_hosts |= uint64_t{1} << host_index;
    dest->last_failure = next_mx_reason->reply;
    dest->last_failure_phase = next_mx_reason->phase;
    if (shutting_down_ || !CanStillTry(dest, *next_mx)) {
      EmitAll(std::move(next_mx), Disposition::kDeferred, next_mx_reason->reply,
              next_mx_reason->phase, *next_mx_decision, conn, mx_host);
      return;
    }
    dest->queue.push_front(std::move(next_mx));
    dest->has_tried_messages = true;
    SchedulePump(dest);
  }
}

// ---- Outcomes -------------------------------------------------------------------

void Engine::Impl::EmitAll(std::unique_ptr<Pending> p, Disposition d, const smtp::Reply& reply,
                           smtp::Phase phase, const policy::Decision& decision,
                           const Connection* conn, const std::string& mx_host) {
  std::vector<PendingRcpt> rcpts = std::move(p->rcpts);
  p.reset();  // no per-message state survives its Outcomes
  for (const PendingRcpt& r : rcpts) Emit(r.id, d, reply, phase, decision, conn, mx_host);
}

void Engine::Impl::Emit(uint64_t id, Disposition d, const smtp::Reply& reply, smtp::Phase phase,
                        const policy::Decision& decision, const Connection* conn,
                        const std::string& mx_host) {
  Outcome o;
  o.id = id;
  o.disposition = d;
  o.reply = reply;
  o.phase = phase;
  o.decision = decision;
  o.mx_host = mx_host;
  if (conn != nullptr) {
    o.source_address = conn->source_address();
    if (const auto* path = static_cast<const Path*>(conn->path)) o.site = path->site->key;
    if (const auto& tls = conn->session().tls()) {
      o.tls_version = tls->version;
      o.tls_cipher = tls->cipher;
    }
  }
  o.finished_at = clock().WallNow();
  --in_flight_;
  handler_(std::move(o));
  if (shutting_down_) SchedulePump(nullptr);
}

}  // namespace postino::delivery
