// manage_commands.cc: `campaign ls|rm`, `template ls|show|rm`, `list ls|rm`
// and `subscriber show|unsubscribe|rm`. The SQL is in db/catalog.cc; this
// file prints.
#include "cli/manage_commands.h"

#include <fmt/format.h>

#include <nlohmann/json.hpp>

#include "cli/output.h"
#include "templates/template.h"

namespace postino::cli {
namespace {

Result<db::Database*> Db(Context& ctx, int* exit_code) {
  Result<db::Database*> db = ctx.Database();
  if (!db.ok()) *exit_code = ctx.SetupFailure(db.status());
  return db;
}

std::string Percent(int64_t part, int64_t whole) {
  if (whole <= 0) return "-";
  return fmt::format("{:.1f}%", 100.0 * static_cast<double>(part) / static_cast<double>(whole));
}

// The first path segments a template part uses, or the compile error.
nlohmann::json PartFields(const std::string& source, const char* part) {
  templates::CompileOptions options;
  options.part_name = part;
  Result<templates::CompiledTemplate> t = templates::CompileTemplate(source, options);
  if (!t.ok()) return {{"error", t.status().message()}};
  return t->referenced_names();
}

}  // namespace

int RunCampaignLs(Context& ctx, const std::string& format) {
  int code = kExitOk;
  Result<db::Database*> db = Db(ctx, &code);
  if (!db.ok()) return code;
  Result<std::vector<db::Database::CampaignListRow>> rows = (*db)->ListCampaigns();
  if (!rows.ok()) return Fail(rows.status());
  if (format == "json") {
    nlohmann::json out = nlohmann::json::array();
    for (const auto& c : *rows) {
      out.push_back({{"name", c.name},
                     {"status", c.status},
                     {"list", c.list_name},
                     {"template", c.template_name},
                     {"from", c.from_address},
                     {"total", c.total},
                     {"delivered", c.delivered},
                     {"bounced", c.bounced},
                     {"remaining", c.remaining},
                     {"created_at", IsoTime(c.created_at)},
                     {"scheduled_at", JsonTime(c.scheduled_at)},
                     {"started_at", JsonTime(c.started_at)},
                     {"finished_at", JsonTime(c.finished_at)}});
    }
    PrintJson(out);
    return kExitOk;
  }
  std::vector<std::vector<std::string>> table;
  for (const auto& c : *rows) {
    std::string when = c.finished_at  ? "finished " + IsoTime(c.finished_at)
                       : c.started_at ? "started " + IsoTime(c.started_at)
                       : c.scheduled_at ? "scheduled " + IsoTime(c.scheduled_at)
                                        : "created " + IsoTime(c.created_at);
    table.push_back({c.name, c.status, c.list_name, c.template_name, std::to_string(c.total),
                     Percent(c.delivered, c.total), std::to_string(c.remaining), when});
  }
  PrintTable({"CAMPAIGN", "STATUS", "LIST", "TEMPLATE", ">RECIPIENTS", ">DELIVERED", ">REMAINING",
              "WHEN (UTC)"},
             table);
  return kExitOk;
}

int RunCampaignRm(Context& ctx, const std::string& name) {
  int code = kExitOk;
  Result<db::Database*> db = Db(ctx, &code);
  if (!db.ok()) return code;
  Status st = (*db)->DeleteDraftCampaign(name);
  if (!st.ok()) return Fail(st);
  fmt::print("campaign \"{}\" deleted\n", name);
  return kExitOk;
}

int RunTemplateLs(Context& ctx, const std::string& format) {
  int code = kExitOk;
  Result<db::Database*> db = Db(ctx, &code);
  if (!db.ok()) return code;
  Result<std::vector<db::Database::TemplateInfo>> rows = (*db)->ListTemplates();
  if (!rows.ok()) return Fail(rows.status());
  if (format == "json") {
    nlohmann::json out = nlohmann::json::array();
    for (const auto& t : *rows) {
      out.push_back({{"name", t.name},
                     {"subject", t.subject},
                     {"campaigns", t.campaigns},
                     {"updated_at", IsoTime(t.updated_at)}});
    }
    PrintJson(out);
    return kExitOk;
  }
  std::vector<std::vector<std::string>> table;
  for (const auto& t : *rows) {
    table.push_back({t.name, std::to_string(t.campaigns), IsoTime(t.updated_at), t.subject});
  }
  PrintTable({"TEMPLATE", ">CAMPAIGNS", "UPDATED (UTC)", "SUBJECT"}, table);
  return kExitOk;
}

int RunTemplateShow(Context& ctx, const std::string& name, const std::string& format) {
  int code = kExitOk;
  Result<db::Database*> db = Db(ctx, &code);
  if (!db.ok()) return code;
  Result<db::TemplateRow> t = (*db)->GetTemplate(name);
  if (!t.ok()) return Fail(t.status());
  nlohmann::json fields = {{"subject", PartFields(t->subject, "subject")},
                           {"text", PartFields(t->text, "text")},
                           {"html", PartFields(t->html, "html")}};
  if (format == "json") {
    PrintJson({{"name", t->name},
               {"subject", t->subject},
               {"text", t->text},
               {"html", t->html},
               {"fields", fields}});
    return kExitOk;
  }
  auto list = [](const nlohmann::json& f) {
    if (f.is_object()) return "(does not compile: " + f["error"].get<std::string>() + ")";
    std::string out;
    for (const auto& n : f) out += (out.empty() ? "" : ", ") + n.get<std::string>();
    return out.empty() ? std::string("(none)") : out;
  };
  fmt::print("Template {}\n", name);
  fmt::print("Subject: {}\n", Printable(t->subject));
  fmt::print("Fields:  subject: {}; text: {}; html: {}\n", list(fields["subject"]),
             list(fields["text"]), list(fields["html"]));
  fmt::print("\n--- text ---\n{}\n--- html ---\n{}\n", Printable(t->text, true),
             Printable(t->html, true));
  return kExitOk;
}

int RunTemplateRm(Context& ctx, const std::string& name) {
  int code = kExitOk;
  Result<db::Database*> db = Db(ctx, &code);
  if (!db.ok()) return code;
  Status st = (*db)->DeleteTemplate(name);
  if (!st.ok()) return Fail(st);
  fmt::print("template \"{}\" deleted\n", name);
  return kExitOk;
}

int RunListLsFormat(Context& ctx, const std::string& format) {
  int code = kExitOk;
  Result<db::Database*> db = Db(ctx, &code);
  if (!db.ok()) return code;
  Result<std::vector<db::ListInfo>> lists = (*db)->Lists();
  if (!lists.ok()) return Fail(lists.status());
  if (format == "json") {
    nlohmann::json out = nlohmann::json::array();
    for (const auto& l : *lists) {
      out.push_back({{"name", l.name},
                     {"members", l.members},
                     {"active", l.active},
                     {"created_at", IsoTime(l.created_at)}});
    }
    PrintJson(out);
    return kExitOk;
  }
  std::vector<std::vector<std::string>> table;
  for (const auto& l : *lists) {
    table.push_back({l.name, std::to_string(l.members), std::to_string(l.active),
                     IsoTime(l.created_at)});
  }
  PrintTable({"LIST", ">MEMBERS", ">ACTIVE", "CREATED (UTC)"}, table);
  return kExitOk;
}

int RunListRm(Context& ctx, const std::string& name) {
  int code = kExitOk;
  Result<db::Database*> db = Db(ctx, &code);
  if (!db.ok()) return code;
  Result<int64_t> n = (*db)->DeleteList(name);
  if (!n.ok()) return Fail(n.status());
  fmt::print("list \"{}\" deleted ({} memberships; the subscribers stay)\n", name, *n);
  return kExitOk;
}

int RunSubscriberShow(Context& ctx, const std::string& email, const std::string& format) {
  int code = kExitOk;
  Result<db::Database*> db = Db(ctx, &code);
  if (!db.ok()) return code;
  Result<db::Database::SubscriberInfo> s = (*db)->GetSubscriber(email);
  if (!s.ok()) return Fail(s.status());
  nlohmann::json attrs = nlohmann::json::parse(s->attributes_json, nullptr, false);
  if (format == "json") {
    nlohmann::json deliveries = nlohmann::json::array();
    for (const auto& d : s->deliveries) {
      deliveries.push_back({{"campaign", d.campaign},
                            {"status", d.status},
                            {"attempts", d.attempts},
                            {"last_attempt_at", JsonTime(d.last_attempt_at)},
                            {"reply", d.reply}});
    }
    PrintJson({{"email", s->email},
               {"domain", s->domain},
               {"status", s->status},
               {"suppressed", s->suppression_reason.empty()
                                  ? nlohmann::json(nullptr)
                                  : nlohmann::json(s->suppression_reason)},
               {"attributes", attrs},
               {"lists", s->lists},
               {"created_at", IsoTime(s->created_at)},
               {"updated_at", IsoTime(s->updated_at)},
               {"deliveries", deliveries}});
    return kExitOk;
  }
  std::string lists;
  for (const auto& l : s->lists) lists += (lists.empty() ? "" : ", ") + l;
  fmt::print("Subscriber {}\n", Printable(s->email));
  fmt::print("  status      {}{}\n", s->status,
             s->suppression_reason.empty() ? ""
                                           : " (suppressed: " + s->suppression_reason + ")");
  fmt::print("  lists       {}\n", lists.empty() ? "(none)" : Printable(lists));
  fmt::print("  created     {}   updated {}\n", IsoTime(s->created_at), IsoTime(s->updated_at));
  fmt::print("  attributes  {}\n",
             Printable(
                 attrs.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace)));
  if (!s->deliveries.empty()) {
    fmt::print("\n");
    std::vector<std::vector<std::string>> table;
    for (const auto& d : s->deliveries) {
      table.push_back({d.campaign, d.status, std::to_string(d.attempts),
                       IsoTime(d.last_attempt_at), d.reply.substr(0, 100)});
    }
    PrintTable({"CAMPAIGN", "STATUS", ">ATTEMPTS", "LAST ATTEMPT (UTC)", "LAST REPLY"}, table);
  }
  return kExitOk;
}

int RunSubscriberUnsubscribe(Context& ctx, const std::string& email) {
  int code = kExitOk;
  Result<db::Database*> db = Db(ctx, &code);
  if (!db.ok()) return code;
  Result<bool> added = (*db)->UnsubscribeSubscriber(email, "postino subscriber unsubscribe");
  if (!added.ok()) return Fail(added.status());
  fmt::print("{} unsubscribed{}; no campaign will send to it\n", email,
             *added ? " and suppressed" : " (it was already suppressed)");
  return kExitOk;
}

int RunSubscriberRm(Context& ctx, const std::string& email) {
  int code = kExitOk;
  Result<db::Database*> db = Db(ctx, &code);
  if (!db.ok()) return code;
  Status st = (*db)->DeleteSubscriber(email);
  if (!st.ok()) return Fail(st);
  fmt::print("{} deleted, with its list memberships and delivery history (a suppression entry, "
             "if any, stays)\n",
             email);
  return kExitOk;
}

}  // namespace postino::cli
