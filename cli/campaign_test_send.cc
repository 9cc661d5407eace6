// campaign_test_send.cc: `campaign test NAME --to ADDR...`: renders the
// campaign's real message (signed, with its headers, List-Unsubscribe and
// Feedback-ID) and sends it to seed addresses through the delivery engine,
// with the configured sources, routes and TLS. Nothing is written to the
// campaign's deliveries or events: the sends are logged and printed only.
#include <fmt/format.h>
#include <uv.h>

#include <map>

#include "address/address.h"
#include "cli/campaign_check.h"
#include "common/log.h"
#include "common/strings.h"
#include "engine/delivery/engine.h"
#include "scheduler/engine_config.h"
#include "scheduler/message_renderer.h"

namespace postino::cli {
namespace {

using scheduler::MessageRenderer;
using scheduler::PreparedCampaign;
using scheduler::RenderedMessage;

constexpr size_t kMaxSeeds = 50;
// The whole test gives up after this long (a seed whose server does not
// answer is reported as not delivered).
constexpr auto kGiveUp = std::chrono::minutes(5);

const char* DispositionName(delivery::Disposition d) {
  switch (d) {
    case delivery::Disposition::kDelivered: return "delivered";
    case delivery::Disposition::kDeferred: return "deferred";
    case delivery::Disposition::kBounced: return "bounced";
  }
  return "?";
}

struct Send {
  std::string address, domain, attributes;
  std::optional<delivery::Outcome> outcome;
};

// Sends every message on a loop of our own; returns when each recipient has
// its outcome or kGiveUp has passed (the engine then reports the rest as
// deferred, "shutting down").
void SendAll(delivery::EngineConfig ec, std::vector<Send>& sends,
             std::vector<delivery::OutboundMessage> messages) {
  uv_loop_t loop;
  uv_loop_init(&loop);
  {
    struct State {
      std::vector<Send>* sends;
      size_t done = 0;
      uint64_t deadline_ms = 0;
      bool stopping = false;
      delivery::Engine* engine = nullptr;
      uv_timer_t timer{};
    } state;
    state.sends = &sends;
    delivery::Engine engine(&loop, std::move(ec), [&state](delivery::Outcome o) {
      std::vector<Send>& v = *state.sends;
      if (o.id < v.size() && !v[o.id].outcome) {
        v[o.id].outcome = std::move(o);
        ++state.done;
      }
    });
    state.engine = &engine;
    state.deadline_ms =
        uv_now(&loop) +
        static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(kGiveUp).count());
    uv_timer_init(&loop, &state.timer);
    state.timer.data = &state;
    for (auto& m : messages) engine.Submit(std::move(m));
    uv_timer_start(
        &state.timer,
        [](uv_timer_t* t) {
          auto* s = static_cast<State*>(t->data);
          if (s->stopping) return;
          if (s->done < s->sends->size() && uv_now(t->loop) < s->deadline_ms) return;
          s->stopping = true;
          uv_timer_stop(t);
          s->engine->Shutdown(
              [s] { uv_close(reinterpret_cast<uv_handle_t*>(&s->timer), nullptr); });
        },
        50, 50);
    uv_run(&loop, UV_RUN_DEFAULT);
  }
  uv_run(&loop, UV_RUN_NOWAIT);
  uv_loop_close(&loop);
}

}  // namespace

int RunCampaignTest(Context& ctx, const CampaignTestOptions& o) {
  if (o.to.empty()) return Fail(Status::InvalidArgument("--to: give at least one seed address"));
  if (o.to.size() > kMaxSeeds) {
    return Fail(Status::InvalidArgument(
        fmt::format("--to: {} addresses; at most {} seeds per test", o.to.size(), kMaxSeeds)));
  }
  std::vector<Send> sends;
  for (const std::string& to : o.to) {
    Result<address::MailAddress> a = address::ParseAddress(to);
    if (!a.ok()) {
      return Fail(Status::InvalidArgument(
          fmt::format("--to \"{}\": {}", EscapeControl(to), a.status().message())));
    }
    sends.push_back({a->ToString(), a->domain, "", std::nullopt});
  }
  Result<const config::Config*> cfg = ctx.Config();
  if (!cfg.ok()) return ctx.SetupFailure(cfg.status());
  Result<db::Database*> db = ctx.Database();
  if (!db.ok()) return ctx.SetupFailure(db.status());
  Result<db::CampaignRow> c = (*db)->GetCampaign(o.name);
  if (!c.ok()) return Fail(c.status());
  Result<db::TemplateRow> tpl = (*db)->GetTemplateById(c->template_id);
  if (!tpl.ok()) return Fail(tpl.status());

  // Whose attributes fill the template: --as, else the seed's own when it
  // is a subscriber, else the list's first recipient.
  std::string fallback = "{}";
  if (!o.as.empty()) {
    Result<std::string> attrs = (*db)->SubscriberAttributes(o.as);
    if (!attrs.ok()) return Fail(attrs.status());
    fallback = *attrs;
  } else {
    Result<std::vector<db::Database::ListRecipient>> firsts =
        (*db)->ListRecipients(c->list_id, 0, 1);
    if (firsts.ok() && !firsts->empty()) fallback = firsts->front().attributes_json;
  }
  for (Send& s : sends) {
    Result<std::string> own =
        o.as.empty() ? (*db)->SubscriberAttributes(s.address) : Result<std::string>(fallback);
    s.attributes = own.ok() ? *own : fallback;
  }

  Result<std::unique_ptr<MessageRenderer>> renderer = MessageRenderer::Create(**cfg);
  if (!renderer.ok()) return Fail(renderer.status());
  Result<std::shared_ptr<const PreparedCampaign>> prepared = (*renderer)->Prepare(*c, *tpl);
  if (!prepared.ok()) return Fail(prepared.status());
  Result<delivery::EngineConfig> ec = scheduler::MakeEngineConfig(**cfg, (*cfg)->node.id);
  if (!ec.ok()) {
    Fail(ec.status());
    return kExitConfig;
  }
  std::string pool = c->pool.empty() ? (*cfg)->default_pool : c->pool;
  std::vector<delivery::OutboundMessage> messages;
  for (size_t i = 0; i < sends.size(); ++i) {
    // Delivery 0: the unsubscribe token names no delivery of the campaign.
    Result<RenderedMessage> m =
        (*prepared)->recipients_per_message() > 1
            ? (*renderer)->RenderShared(**prepared, "")
            : (*renderer)->Render(**prepared, sends[i].address, sends[i].attributes, 0, "");
    if (!m.ok()) return Fail(m.status());
    delivery::OutboundMessage msg;
    msg.mail_from = m->envelope_from;
    msg.recipients.push_back({i, sends[i].address, sends[i].domain});
    msg.data = m->data;
    msg.pool = pool;
    log::Info("campaign \"{}\": test message {} to {} ({} bytes{}), not counted in the campaign",
              c->name, m->message_id, sends[i].address, m->data->size(),
              m->dkim_signed ? ", DKIM-signed" : ", unsigned");
    messages.push_back(std::move(msg));
  }
  SendAll(std::move(ec).value(), sends, std::move(messages));

  int failed = 0;
  for (const Send& s : sends) {
    if (!s.outcome) {
      ++failed;
      fmt::print("{}: no answer within {} min\n", s.address,
                 std::chrono::duration_cast<std::chrono::minutes>(kGiveUp).count());
      log::Warn("campaign \"{}\": test message to {}: no outcome", c->name, s.address);
      continue;
    }
    const delivery::Outcome& out = *s.outcome;
    bool ok = out.disposition == delivery::Disposition::kDelivered;
    if (!ok) ++failed;
    std::string reply = EscapeControl(out.reply.ToString());
    fmt::print("{}: {} via {} -> {}: {}\n", s.address, DispositionName(out.disposition),
               out.source_address.empty() ? "-" : out.source_address,
               out.mx_host.empty() ? "-" : EscapeControl(out.mx_host), reply);
    log::Info("campaign \"{}\": test message to {}: {} ({})", c->name, s.address,
              DispositionName(out.disposition), reply);
  }
  if (failed > 0) {
    fmt::print(stderr, "postino: {} of {} test message{} not delivered\n", failed, sends.size(),
               sends.size() == 1 ? "" : "s");
    return kExitFailure;
  }
  return kExitOk;
}

}  // namespace postino::cli
