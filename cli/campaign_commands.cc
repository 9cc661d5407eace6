// campaign_commands.cc: creating, launching and steering campaigns, and
// reading their progress and reports.
#include "cli/campaign_commands.h"

#include <fmt/format.h>
#include <unistd.h>

#include <chrono>
#include <map>
#include <nlohmann/json.hpp>
#include <thread>

#include "address/address.h"
#include "scheduler/message_renderer.h"
#include "cli/output.h"
#include "cli/plan_build.h"
#include "cli/status_eta.h"
#include "cli/time_parse.h"
#include "common/strings.h"
#include "templates/header_rules.h"

namespace postino::cli {

using scheduler::CheckSharedTemplates;
using scheduler::kMaxRecipientsPerMessage;
using scheduler::RecipientsPerMessageSetting;
namespace {

Result<db::Database*> Db(Context& ctx, int* exit_code) {
  Result<db::Database*> db = ctx.Database();
  if (!db.ok()) *exit_code = ctx.SetupFailure(db.status());
  return db;
}

// Recipients handed to a server per second since the start (suppressed and
// cancelled ones were never sent).
double SendRate(const db::CampaignProgress& p) {
  if (p.elapsed_seconds <= 0) return 0;
  return static_cast<double>(p.done() - p.suppressed - p.cancelled) / p.elapsed_seconds;
}

// `per_message` > 1 is shown as the campaign's grouping.
std::string ProgressLine(const std::string& name, const db::CampaignProgress& p, bool tty,
                         int per_message, const Eta& eta) {
  int64_t done = p.done();
  double rate = SendRate(p);
  double frac = p.total > 0 ? static_cast<double>(done) / static_cast<double>(p.total) : 0;
  std::string counts = fmt::format(
      "delivered {} deferred {} bounced {} expired {} suppressed {} cancelled {} failed {}",
      p.delivered, p.deferred, p.bounced, p.expired, p.suppressed, p.cancelled, p.failed);
  std::string grouping =
      per_message > 1 ? fmt::format(", {} recipients per message", per_message) : "";
  std::string eta_text = eta.seconds ? FormatDuration(*eta.seconds) : "--";
  std::string note = eta.note.empty() ? "" : " (" + eta.note + ")";
  if (!tty) {
    return fmt::format("{}: {} {}/{} done ({:.1f}%) {} rate {:.1f}/s eta {}{}{}", name, p.status,
                       done, p.total, frac * 100, counts, rate, eta_text, note, grouping);
  }
  counts += grouping;
  constexpr int kWidth = 30;
  int filled = static_cast<int>(frac * kWidth);
  std::string bar;
  for (int i = 0; i < kWidth; ++i) bar += i < filled ? "\u2588" : "\u2591";
  return fmt::format("{} [{}] {:5.1f}% {}/{} {:.0f} msg/s ETA {} ({}){}\n  {}", name, bar,
                     frac * 100, done, p.total, rate, eta_text, p.status, note, counts);
}

// The same progress as one JSON object (`campaign status --format json`, one
// line per refresh with --watch): counts, rate, ETA and times; null where
// there is none.
nlohmann::json ProgressJson(const std::string& name, const db::CampaignProgress& p,
                            int per_message, const Eta& eta) {
  int64_t done = p.done();
  double rate = SendRate(p);
  auto time_or_null = [](const std::optional<TimePoint>& t) -> nlohmann::json {
    return t ? nlohmann::json(IsoTime(*t)) : nlohmann::json(nullptr);
  };
  nlohmann::json j = {
      {"campaign", name},
      {"status", p.status},
      {"total", p.total},
      {"done", done},
      {"pending", p.pending},
      {"deferred", p.deferred},
      {"delivered", p.delivered},
      {"bounced", p.bounced},
      {"expired", p.expired},
      {"suppressed", p.suppressed},
      {"cancelled", p.cancelled},
      {"failed", p.failed},
      {"rate_per_second", rate},
      {"eta_seconds", eta.seconds ? nlohmann::json(*eta.seconds) : nlohmann::json(nullptr)},
      {"eta_note", eta.note},
      {"recipients_per_message", per_message},
      {"started_at", time_or_null(p.started_at)},
      {"finished_at", time_or_null(p.finished_at)},
      {"elapsed_seconds", p.elapsed_seconds},
  };
  return j;
}

// Every header in a campaign's settings.headers passes ValidateExtraHeader.
Status CheckStoredHeaders(const std::string& settings_json) {
  nlohmann::json settings = nlohmann::json::parse(settings_json, nullptr, false);
  if (!settings.is_object() || !settings.contains("headers")) return Status::Ok();
  if (!settings["headers"].is_array())
    return Status::InvalidArgument("settings.headers is not a list");
  for (const auto& h : settings["headers"]) {
    if (!h.is_object() || !h.contains("name") || !h.contains("value") || !h["name"].is_string() ||
        !h["value"].is_string()) {
      return Status::InvalidArgument("settings.headers holds an entry without a name and value");
    }
    Status st =
        templates::ValidateExtraHeader(h["name"].get<std::string>(), h["value"].get<std::string>());
    if (!st.ok()) return st;
  }
  return Status::Ok();
}

}  // namespace

int RunCampaignCreate(Context& ctx, const CampaignCreateOptions& o) {
  db::CampaignSpec spec;
  spec.name = o.name;
  spec.list = o.list;
  spec.template_name = o.template_name;
  if (o.name.empty()) return Fail(Status::InvalidArgument("the campaign name is empty"));
  if (o.recipients_per_message < 1 || o.recipients_per_message > kMaxRecipientsPerMessage) {
    return Fail(
        Status::InvalidArgument(fmt::format("--recipients-per-message {}: expected 1 to {}",
                                            o.recipients_per_message, kMaxRecipientsPerMessage)));
  }
  if (o.recipients_per_message > 1 && o.verp) {
    return Fail(Status::InvalidArgument(fmt::format(
        "--verp cannot be combined with --recipients-per-message {}: VERP gives every recipient "
        "its own envelope sender, so a message cannot be shared; drop one of the two",
        o.recipients_per_message)));
  }
  Result<address::NameAddr> from = address::ParseNameAddr(o.from);
  if (!from.ok()) {
    return Fail(Status::InvalidArgument(
        fmt::format("--from \"{}\": {}", o.from, from.status().message())));
  }
  spec.from_name = from->display_name;
  spec.from_address = from->address.ToString();
  if (!o.reply_to.empty()) {
    Result<address::NameAddr> rt = address::ParseNameAddr(o.reply_to);
    if (!rt.ok()) {
      return Fail(Status::InvalidArgument(
          fmt::format("--reply-to \"{}\": {}", o.reply_to, rt.status().message())));
    }
    spec.reply_to = o.reply_to;
  }
  std::string scheduled;  // what --at was understood as
  if (!o.at.empty()) {
    Result<ScheduleTime> at = ParseScheduleTime(o.at, std::chrono::system_clock::now());
    if (!at.ok()) return Fail(Status::InvalidArgument(fmt::format("--at: {}", at.status().message())));
    for (const std::string& w : at->warnings) fmt::print(stderr, "postino: warning: --at: {}\n", w);
    spec.scheduled_at = at->utc;
    scheduled = at->understood;
  }
  if (!o.max_age.empty()) {
    Result<Nanos> age = ParseCliDuration("--max-age", o.max_age, kMaxMaxAge);
    if (!age.ok()) return Fail(age.status());
    auto secs = std::chrono::duration_cast<std::chrono::seconds>(*age);
    if (secs.count() < 1) {
      return Fail(Status::InvalidArgument(
          fmt::format("--max-age \"{}\" is shorter than one second", o.max_age)));
    }
    spec.max_age = fmt::format("{} seconds", secs.count());
  }
  nlohmann::json settings = nlohmann::json::object();
  if (!o.headers.empty()) {
    nlohmann::json headers = nlohmann::json::array();
    for (const std::string& h : o.headers) {
      size_t colon = h.find(':');
      if (colon == std::string::npos) {
        return Fail(Status::InvalidArgument(
            fmt::format("--header \"{}\": expected \"Name: value\"", EscapeControl(h))));
      }
      std::string name = h.substr(0, colon);
      std::string value(TrimBlanks(std::string_view(h).substr(colon + 1)));
      // The renderer's own check: what passes here renders at run time.
      if (Status st = templates::ValidateExtraHeader(name, value); !st.ok()) {
        return Fail(Status::InvalidArgument(fmt::format("--header: {}", st.message())));
      }
      headers.push_back({{"name", name}, {"value", value}});
    }
    settings["headers"] = headers;
  }
  if (o.verp) settings["verp"] = true;
  if (o.recipients_per_message > 1) settings["recipients_per_message"] = o.recipients_per_message;
  spec.settings_json = settings.dump();
  spec.pool = o.pool;
  int code = kExitOk;
  Result<db::Database*> db = Db(ctx, &code);
  if (!db.ok()) return code;
  if (o.max_age.empty()) {
    // The configured default ([retry] max_age).
    Result<const config::Config*> cfg = ctx.Config();
    if (cfg.ok()) {
      spec.max_age = fmt::format(
          "{} seconds",
          std::chrono::duration_cast<std::chrono::seconds>((*cfg)->retry.max_age).count());
    }
  }
  if (!o.pool.empty()) {
    Result<const config::Config*> cfg = ctx.Config();
    if (cfg.ok() && !(*cfg)->FindPool(o.pool)) {
      return Fail(Status::NotFound(fmt::format("--pool \"{}\": no such pool in {}", o.pool,
                                               (*cfg)->file)));
    }
  }
  if (o.recipients_per_message > 1) {
    // Refuse now rather than at the first claim. A missing template is
    // reported by CreateCampaign below.
    Result<db::TemplateRow> tpl = (*db)->GetTemplate(o.template_name);
    if (tpl.ok()) {
      Status shared = CheckSharedTemplates(o.name, o.recipients_per_message, *tpl);
      if (!shared.ok()) return Fail(shared);
    }
  }
  Status st = (*db)->CreateCampaign(spec);
  if (!st.ok()) return Fail(st);
  fmt::print("campaign \"{}\" created (draft): list \"{}\", template \"{}\"{}{}\n", o.name, o.list,
             o.template_name, spec.scheduled_at ? ", scheduled for " + scheduled : "",
             o.recipients_per_message > 1
                 ? fmt::format(", {} recipients per message", o.recipients_per_message)
                 : "");
  return kExitOk;
}

int RunCampaignLaunch(Context& ctx, const std::string& name) {
  int code = kExitOk;
  Result<db::Database*> db = Db(ctx, &code);
  if (!db.ok()) return code;
  // The template may have been replaced (template add --replace) since the
  // campaign was created: check again that a shared message is possible.
  Result<db::CampaignRow> campaign = (*db)->GetCampaign(name);
  if (campaign.ok()) {
    // Headers stored by an older version were not checked at create.
    if (Status st = CheckStoredHeaders(campaign->settings_json); !st.ok()) {
      return Fail(Status::InvalidArgument(
          fmt::format("campaign \"{}\" cannot be launched: {}; create it again with valid "
                      "--header options",
                      name, st.message())));
    }
    int per_message = RecipientsPerMessageSetting(campaign->settings_json);
    if (per_message > 1) {
      Result<db::TemplateRow> tpl = (*db)->GetTemplateById(campaign->template_id);
      if (tpl.ok()) {
        Status shared = CheckSharedTemplates(name, per_message, *tpl);
        if (!shared.ok()) return Fail(shared);
      }
    }
  }
  Result<db::LaunchResult> r = (*db)->LaunchCampaign(name);
  if (!r.ok()) return Fail(r.status());
  fmt::print("campaign \"{}\" launched ({}): {} recipients, {} suppressed\n", name, r->status,
             r->deliveries, r->suppressed);
  return kExitOk;
}

int RunCampaignPause(Context& ctx, const std::string& name) {
  int code = kExitOk;
  Result<db::Database*> db = Db(ctx, &code);
  if (!db.ok()) return code;
  Status st = (*db)->PauseCampaign(name);
  if (!st.ok()) return Fail(st);
  fmt::print("campaign \"{}\" paused\n", name);
  return kExitOk;
}

int RunCampaignResume(Context& ctx, const std::string& name) {
  int code = kExitOk;
  Result<db::Database*> db = Db(ctx, &code);
  if (!db.ok()) return code;
  Status st = (*db)->ResumeCampaign(name);
  if (!st.ok()) return Fail(st);
  fmt::print("campaign \"{}\" resumed\n", name);
  return kExitOk;
}

int RunCampaignCancel(Context& ctx, const std::string& name) {
  int code = kExitOk;
  Result<db::Database*> db = Db(ctx, &code);
  if (!db.ok()) return code;
  Result<int64_t> n = (*db)->CancelCampaign(name);
  if (!n.ok()) return Fail(n.status());
  fmt::print("campaign \"{}\" cancelled: {} recipients will not be sent\n", name, *n);
  return kExitOk;
}

int RunCampaignStatus(Context& ctx, const std::string& name, bool watch,
                      const std::string& format) {
  bool json = format == "json";
  int code = kExitOk;
  Result<db::Database*> db = Db(ctx, &code);
  if (!db.ok()) return code;
  bool tty = !json && isatty(STDOUT_FILENO) == 1;
  bool first = true;
  Result<db::CampaignRow> c = (*db)->GetCampaign(name);
  if (!c.ok()) return Fail(c.status());
  int per_message = RecipientsPerMessageSetting(c->settings_json);
  // The run estimate (sites, caps, suspensions) for the ETA: rebuilt every
  // 30 s while watching. Without a usable configuration the ETA is the rate's.
  std::optional<BuiltPlan> plan;
  std::optional<std::chrono::steady_clock::time_point> plan_built;
  for (;;) {
    Result<db::CampaignProgress> p = (*db)->Progress(name);
    if (!p.ok()) return Fail(p.status());
    if (p->status == "running" &&
        (!plan_built || std::chrono::steady_clock::now() - *plan_built > std::chrono::seconds(30))) {
      plan_built = std::chrono::steady_clock::now();
      Result<const config::Config*> cfg = ctx.Config();
      Result<db::CampaignRow> fresh = (*db)->GetCampaign(name);
      if (cfg.ok() && fresh.ok()) {
        Result<BuiltPlan> built = BuildPlan(**cfg, **db, *fresh);
        if (built.ok()) plan = std::move(built).value();
      }
    }
    Eta eta = ComputeEta(**db, *c, *p, plan ? &*plan : nullptr);
    std::string line = json ? ProgressJson(name, *p, per_message, eta)
                                  .dump(-1, ' ', false, nlohmann::json::error_handler_t::replace)
                            : ProgressLine(name, *p, tty, per_message, eta);
    if (tty && !first) fmt::print("\x1b[2A\r\x1b[J");
    fmt::print("{}\n", line);
    std::fflush(stdout);
    first = false;
    bool over = p->status == "finished" || p->status == "cancelled" || p->status == "draft";
    if (!watch || over) break;
    std::this_thread::sleep_for(std::chrono::seconds(1));
  }
  return kExitOk;
}

}  // namespace postino::cli
