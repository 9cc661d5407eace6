// campaign_check.cc: `campaign check` (every recipient rendered, nothing
// sent) and `campaign plan` (the run estimate per MX site). `campaign
// test` is in campaign_test_send.cc.
#include "cli/campaign_check.h"

#include <fmt/format.h>

#include <algorithm>
#include <map>
#include <nlohmann/json.hpp>

#include "cli/output.h"
#include "cli/plan_build.h"
#include "cli/template_commands.h"
#include "scheduler/message_renderer.h"
#include "templates/mime_decode.h"

namespace postino::cli {
namespace {

using scheduler::MessageRenderer;
using scheduler::PreparedCampaign;
using scheduler::RenderedMessage;

std::string RateText(double per_second) {
  if (per_second <= 0) return "0";
  if (per_second >= 1) return fmt::format("{:.1f}/s", per_second);
  return fmt::format("{:.1f}/min", per_second * 60);
}

std::string Limit(const std::optional<Rate>& r) {
  return r ? r->ToString() : std::string("none");
}

std::string Cap(const std::optional<uint64_t>& c) { return c ? std::to_string(*c) : "none"; }

std::string Finish(const std::optional<scheduler::PlanTime>& t, scheduler::PlanTime now) {
  if (!t) return "never (see why)";
  double in = std::chrono::duration<double>(*t - now).count();
  return fmt::format("{} (in {})", IsoTime(*t), FormatDuration(std::max(in, 0.0)));
}

nlohmann::json PlanJson(const BuiltPlan& p) {
  nlohmann::json sites = nlohmann::json::array();
  for (size_t i = 0; i < p.input.sites.size(); ++i) {
    const scheduler::PlanSite& s = p.input.sites[i];
    const scheduler::PlanSiteResult& r = p.result.sites[i];
    auto opt = [](const std::optional<uint64_t>& v) {
      return v ? nlohmann::json(*v) : nlohmann::json(nullptr);
    };
    sites.push_back({{"site", s.key},
                     {"domains", s.domains},
                     {"recipients", s.recipients},
                     {"max_connections", s.limits.max_connections},
                     {"max_site_connections", s.limits.max_site_connections},
                     {"max_messages_per_connection", s.limits.max_messages_per_connection},
                     {"max_recipients_per_message", s.limits.max_recipients_per_message},
                     {"max_message_rate", s.limits.max_message_rate
                                              ? nlohmann::json(s.limits.max_message_rate->ToString())
                                              : nlohmann::json(nullptr)},
                     {"warmup_left_today", opt(r.cap_today)},
                     {"warmup_cap_tomorrow", opt(r.cap_tomorrow)},
                     {"held_until", JsonTime(r.held_until)},
                     {"rate_per_second", r.rate},
                     {"days", r.days},
                     {"finish", JsonTime(r.finish)},
                     {"bound", r.bound},
                     {"problem", s.problem}});
  }
  nlohmann::json sources = nlohmann::json::array();
  for (const auto& s : p.input.sources) sources.push_back({{"name", s.name}, {"address", s.address}});
  return {{"pool", p.pool},
          {"sources", sources},
          {"start", IsoTime(p.input.start)},
          {"assumed_per_connection_rate", p.input.per_connection_rate},
          {"recipients", [&] {
             int64_t n = 0;
             for (const auto& s : p.input.sites) n += s.recipients;
             return n;
           }()},
          {"finish", JsonTime(p.result.finish)},
          {"sites", sites}};
}

void PrintPlan(const BuiltPlan& p) {
  std::vector<std::vector<std::string>> rows;
  for (size_t i = 0; i < p.input.sites.size(); ++i) {
    const scheduler::PlanSite& s = p.input.sites[i];
    const scheduler::PlanSiteResult& r = p.result.sites[i];
    std::string domains = s.domains.empty() ? "" : s.domains[0];
    if (s.domains.size() > 1) domains += fmt::format(" +{}", s.domains.size() - 1);
    std::string conns = std::to_string(s.limits.max_connections);
    if (s.limits.max_site_connections > 0) {
      conns += fmt::format(" (site {})", s.limits.max_site_connections);
    }
    rows.push_back({s.key, domains, std::to_string(s.recipients), conns,
                    Limit(s.limits.max_message_rate), Cap(r.cap_today), RateText(r.rate),
                    r.finish ? IsoTime(r.finish) : "never", r.bound});
  }
  PrintTable({"SITE", "DOMAINS", ">RECIPIENTS", "CONNECTIONS", "RATE LIMIT", ">WARM-UP LEFT",
              ">RATE", "FINISH (UTC)", "DECIDED BY"},
             rows);
  for (const auto& s : p.input.sites) {
    if (!s.problem.empty()) fmt::print("note: site {}: {}\n", Printable(s.key), Printable(s.problem));
  }
  std::string sources;
  for (const auto& s : p.input.sources) sources += (sources.empty() ? "" : ", ") + s.name;
  fmt::print("\nsources ({}): {}\n", p.pool.empty() ? "all" : "pool " + p.pool,
             sources.empty() ? "none" : sources);
  fmt::print("rates without max_message_rate assume {:g} messages/s per connection\n",
             p.input.per_connection_rate);
  if (p.input.start > p.input.now) fmt::print("starts {}\n", IsoTime(p.input.start));
  if (!p.input.sites.empty()) {
    const auto& last = p.result.sites[p.result.last_site];
    fmt::print("expected finish: {}; last site {} ({})\n", Finish(p.result.finish, p.input.now),
               Printable(p.input.sites[p.result.last_site].key), last.bound);
  } else {
    fmt::print("nothing left to send\n");
  }
}

struct CheckStats {
  int64_t rendered = 0, skipped = 0, failed = 0;
  std::map<std::string, int64_t> missing;  // field -> recipients lacking it
  int64_t recipients_missing = 0;
  size_t min_size = SIZE_MAX, max_size = 0;
  double total_size = 0;
  std::vector<std::string> failures;  // first few
};

}  // namespace

int RunCampaignPlan(Context& ctx, const std::string& name, const std::string& format) {
  Result<const config::Config*> cfg = ctx.Config();
  if (!cfg.ok()) return ctx.SetupFailure(cfg.status());
  Result<db::Database*> db = ctx.Database();
  if (!db.ok()) return ctx.SetupFailure(db.status());
  Result<db::CampaignRow> c = (*db)->GetCampaign(name);
  if (!c.ok()) return Fail(c.status());
  if (c->status == "finished" || c->status == "cancelled") {
    return Fail(Status::FailedPrecondition(
        fmt::format("campaign \"{}\" is {}; nothing left to plan", name, c->status)));
  }
  Result<BuiltPlan> plan = BuildPlan(**cfg, **db, *c);
  if (!plan.ok()) return Fail(plan.status());
  if (format == "json") {
    nlohmann::json j = PlanJson(*plan);
    j["campaign"] = name;
    j["status"] = c->status;
    PrintJson(j);
    return kExitOk;
  }
  fmt::print("Plan for campaign {} ({})\n\n", name, c->status);
  PrintPlan(*plan);
  if (c->status == "paused") fmt::print("the campaign is paused: times assume it resumes now\n");
  return kExitOk;
}

int RunCampaignCheck(Context& ctx, const std::string& name, const std::string& format) {
  Result<const config::Config*> cfg = ctx.Config();
  if (!cfg.ok()) return ctx.SetupFailure(cfg.status());
  Result<db::Database*> db = ctx.Database();
  if (!db.ok()) return ctx.SetupFailure(db.status());
  Result<db::CampaignRow> c = (*db)->GetCampaign(name);
  if (!c.ok()) return Fail(c.status());
  Result<db::TemplateRow> tpl = (*db)->GetTemplateById(c->template_id);
  if (!tpl.ok()) return Fail(tpl.status());
  Result<std::unique_ptr<MessageRenderer>> renderer = MessageRenderer::Create(**cfg);
  if (!renderer.ok()) return Fail(renderer.status());
  std::vector<std::string> problems, notes;
  Result<std::shared_ptr<const PreparedCampaign>> prepared = (*renderer)->Prepare(*c, *tpl);
  if (!prepared.ok()) {
    return Fail(Status::InvalidArgument(
        fmt::format("campaign \"{}\" cannot be rendered: {}", name, prepared.status().message())));
  }
  const PreparedCampaign& pc = **prepared;
  CheckStats st;
  std::optional<templates::DecodedMessage> first;
  size_t signature_bytes = 0;
  auto count_size = [&](size_t n) {
    st.min_size = std::min(st.min_size, n);
    st.max_size = std::max(st.max_size, n);
    st.total_size += static_cast<double>(n);
  };
  if (pc.recipients_per_message() > 1) {
    Result<RenderedMessage> m = (*renderer)->RenderShared(pc, "");
    if (!m.ok()) return Fail(m.status());
    first = templates::DecodeMessage(*m->data);
    count_size(m->data->size());
    st.rendered = 1;
    notes.push_back(fmt::format("{} recipients share one message: rendered once",
                                pc.recipients_per_message()));
  } else {
    int64_t after = 0;
    for (;;) {
      Result<std::vector<db::Database::ListRecipient>> page =
          (*db)->ListRecipients(c->list_id, after, 1000);
      if (!page.ok()) return Fail(page.status());
      if (page->empty()) break;
      after = page->back().subscriber_id;
      for (const auto& r : *page) {
        if (!r.sendable) {
          ++st.skipped;
          continue;
        }
        // The first message is signed to learn the signature's size.
        Result<RenderedMessage> m =
            first ? (*renderer)->RenderUnsigned(pc, r.email, r.attributes_json, 0)
                  : (*renderer)->Render(pc, r.email, r.attributes_json, 0, "");
        if (!m.ok()) {
          ++st.failed;
          if (st.failures.size() < 5) st.failures.push_back(r.email + ": " + m.status().message());
          continue;
        }
        if (!first) {
          first = templates::DecodeMessage(*m->data);
          Result<RenderedMessage> unsigned_m =
              (*renderer)->RenderUnsigned(pc, r.email, r.attributes_json, 0);
          if (unsigned_m.ok() && m->data->size() > unsigned_m->data->size()) {
            signature_bytes = m->data->size() - unsigned_m->data->size();
          }
          count_size(m->data->size());
        } else {
          count_size(m->data->size() + signature_bytes);
        }
        ++st.rendered;
        if (!m->missing_fields.empty()) ++st.recipients_missing;
        for (const std::string& f : m->missing_fields) ++st.missing[f];
      }
    }
  }
  // Problems.
  for (const auto& [field, n] : st.missing) {
    problems.push_back(fmt::format("{} recipient{} lack {{{{{}}}}} (rendered empty)", n,
                                   n == 1 ? "" : "s", field));
  }
  if (st.failed > 0) {
    problems.push_back(fmt::format("{} recipient{} cannot be rendered (they would be recorded "
                                   "failed)",
                                   st.failed, st.failed == 1 ? "" : "s"));
    for (const auto& f : st.failures) notes.push_back("cannot render " + f);
  }
  bool unsubscribe_header = first && !first->Header("List-Unsubscribe").empty();
  bool one_click = first && first->Header("List-Unsubscribe").find("https:") != std::string::npos;
  if (first) {
    for (const std::string& w : PreviewWarnings(**cfg, *first, pc.dkim_signed(), c->from_address)) {
      problems.push_back(w);
    }
  }
  if (first && !unsubscribe_header) {
    problems.push_back("no List-Unsubscribe header: set [unsubscribe] url_base (one-click) or "
                       "mailto; Gmail and Yahoo require it from bulk senders");
  } else if (first && !one_click && pc.recipients_per_message() <= 1) {
    notes.push_back("List-Unsubscribe has no one-click https URL ([unsubscribe] url_base unset)");
  }
  if (st.rendered == 0 && st.failed == 0) {
    problems.push_back("the list has no recipient to send to");
  }
  std::optional<BuiltPlan> plan;
  if (c->status != "finished" && c->status != "cancelled") {
    Result<BuiltPlan> p = BuildPlan(**cfg, **db, *c);
    if (!p.ok()) return Fail(p.status());
    plan = std::move(p).value();
  }
  double avg = st.rendered ? st.total_size / static_cast<double>(st.rendered) : 0;
  if (format == "json") {
    nlohmann::json missing = nlohmann::json::object();
    for (const auto& [f, n] : st.missing) missing[f] = n;
    nlohmann::json j = {
        {"campaign", name},
        {"status", c->status},
        {"rendered", st.rendered},
        {"skipped", st.skipped},
        {"failed", st.failed},
        {"recipients_missing_fields", st.recipients_missing},
        {"missing_fields", missing},
        {"size", {{"min", st.rendered ? st.min_size : 0},
                  {"max", st.max_size},
                  {"avg", avg},
                  {"dkim_signature_bytes", signature_bytes}}},
        {"list_unsubscribe", unsubscribe_header},
        {"one_click_unsubscribe", one_click},
        {"dkim_key", pc.dkim_signed()},
        {"problems", problems},
        {"notes", notes}};
    if (plan) j["estimate"] = PlanJson(*plan);
    PrintJson(j);
    return problems.empty() ? kExitOk : kExitCheck;
  }
  fmt::print("Check of campaign {} ({}): template \"{}\", list \"{}\"\n", name, c->status,
             c->template_name, c->list_name);
  fmt::print("  rendered      {} recipient{} ({} skipped: unsubscribed or suppressed)\n",
             st.rendered, st.rendered == 1 ? "" : "s", st.skipped);
  if (st.rendered) {
    fmt::print("  size          min {} / avg {:.0f} / max {} bytes{}\n", st.min_size, avg,
               st.max_size,
               signature_bytes ? fmt::format(" (DKIM signature {} bytes included)", signature_bytes)
                               : "");
  }
  fmt::print("  unsubscribe   {}\n", !unsubscribe_header ? "NO List-Unsubscribe header"
                                     : one_click         ? "one-click URL and header present"
                                                         : "header present (mailto only)");
  fmt::print("  DKIM          {}\n",
             pc.dkim_signed() ? "key configured for the From domain" : "NO key for the From domain");
  if (plan && !plan->input.sites.empty()) {
    fmt::print("  estimate      {} site{}, finish {}\n", plan->input.sites.size(),
               plan->input.sites.size() == 1 ? "" : "s",
               Finish(plan->result.finish, plan->input.now));
  }
  for (const std::string& n : notes) fmt::print("note: {}\n", Printable(n));
  if (problems.empty()) {
    fmt::print("\nOK: no problems found\n");
    return kExitOk;
  }
  fmt::print("\n{} PROBLEM{}:\n", problems.size(), problems.size() == 1 ? "" : "S");
  for (const std::string& p : problems) fmt::print("  - {}\n", Printable(p));
  fmt::print(stderr, "postino: campaign \"{}\": {} problem{} found (see above)\n", name,
             problems.size(), problems.size() == 1 ? "" : "s");
  return kExitCheck;
}

}  // namespace postino::cli
