// marketer_cli.cc: declares the marketers' commands (see marketer_cli.h).
#include "cli/marketer_cli.h"

#include <string>
#include <vector>

#include "cli/campaign_check.h"
#include "cli/campaign_commands.h"
#include "cli/campaign_report.h"
#include "cli/manage_commands.h"
#include "cli/template_commands.h"

namespace postino::cli {
namespace {

struct Options {
  std::string name, email, format = "table";
  TemplatePreviewOptions preview;
  CampaignTestOptions test;
  ReportOptions report;
};

CLI::Validator FormatOf(std::vector<std::string> allowed) {
  return CLI::IsMember(std::move(allowed));
}

}  // namespace

void AddMarketerCommands(CLI::App& app, CLI::App* list, CLI::App* tpl, CLI::App* campaign,
                         std::function<int(Context&)>& action) {
  static Options o;
  auto with_format = [&](CLI::App* sub) {
    sub->add_option("--format", o.format, "table (default) or json")
        ->check(FormatOf({"table", "json"}));
  };
  auto named = [&](CLI::App* parent, const char* cmd, const char* help, const char* what,
                   int (*fn)(Context&, const std::string&)) {
    CLI::App* sub = parent->add_subcommand(cmd, help);
    sub->add_option("name", o.name, what)->required();
    sub->callback([&action, fn] { action = [fn](Context& ctx) { return fn(ctx, o.name); }; });
    return sub;
  };

  // list
  CLI::App* list_ls = list->add_subcommand("ls", "show lists and their sizes");
  with_format(list_ls);
  list_ls->callback([&action] { action = [](Context& ctx) { return RunListLsFormat(ctx, o.format); }; });
  named(list, "rm", "delete a list and its memberships (refused while a campaign uses it)",
        "list name", RunListRm);

  // template
  CLI::App* tpl_ls = tpl->add_subcommand("ls", "show templates, their subjects and use");
  with_format(tpl_ls);
  tpl_ls->callback([&action] { action = [](Context& ctx) { return RunTemplateLs(ctx, o.format); }; });
  CLI::App* tpl_show = tpl->add_subcommand("show", "a template's parts and the fields they use");
  tpl_show->add_option("name", o.name, "template name")->required();
  with_format(tpl_show);
  tpl_show->callback([&action] {
    action = [](Context& ctx) { return RunTemplateShow(ctx, o.name, o.format); };
  });
  named(tpl, "rm", "delete a template (refused while a campaign uses it)", "template name",
        RunTemplateRm);
  CLI::App* preview = tpl->add_subcommand(
      "preview",
      "render one recipient's message readably; lists the fields it lacks (exit 8 if any)");
  preview->add_option("name", o.preview.name, "template name")->required();
  preview->add_option("--email", o.preview.email, "subscriber whose attributes to use")->required();
  preview->add_option("--from", o.preview.from, "From address")
      ->default_val("Preview <preview@example.com>");
  preview->add_option("--campaign", o.preview.campaign, "campaign name shown in {{campaign.name}}")
      ->default_val("preview");
  preview->add_option("--html", o.preview.html_file, "write the decoded HTML part to FILE");
  preview->add_flag("--raw", o.preview.raw, "print the signed MIME message as it would be sent");
  preview->add_option("--format", o.preview.format, "text (default) or json")
      ->check(FormatOf({"text", "json"}));
  preview->callback([&action] {
    action = [](Context& ctx) { return RunTemplatePreview(ctx, o.preview); };
  });

  // campaign
  CLI::App* c_ls = campaign->add_subcommand("ls", "show campaigns, their status and progress");
  with_format(c_ls);
  c_ls->callback([&action] { action = [](Context& ctx) { return RunCampaignLs(ctx, o.format); }; });
  named(campaign, "rm", "delete a draft campaign (refused for any other status: exit 7)",
        "campaign name", RunCampaignRm);
  CLI::App* check = campaign->add_subcommand(
      "check",
      "before launch: render every recipient without sending; missing fields, sizes, unsubscribe "
      "link, DKIM, estimate (exit 8 on problems)");
  check->add_option("name", o.name, "campaign name")->required();
  with_format(check);
  check->callback([&action] {
    action = [](Context& ctx) { return RunCampaignCheck(ctx, o.name, o.format); };
  });
  CLI::App* plan = campaign->add_subcommand(
      "plan", "per MX site: recipients, limits and warm-up caps that apply, expected finish");
  plan->add_option("name", o.name, "campaign name")->required();
  with_format(plan);
  plan->callback([&action] {
    action = [](Context& ctx) { return RunCampaignPlan(ctx, o.name, o.format); };
  });
  CLI::App* test = campaign->add_subcommand(
      "test", "send the real (signed) message to seed addresses, outside the campaign's counts");
  test->add_option("name", o.test.name, "campaign name")->required();
  test->add_option("--to", o.test.to, "seed address (repeatable, at most 50)")
      ->required()
      ->expected(1, 50);
  test->add_option("--as", o.test.as,
                   "subscriber whose attributes fill the template (default: each seed's own, "
                   "if a subscriber, else the first recipient of the list)");
  test->callback([&action] { action = [](Context& ctx) { return RunCampaignTest(ctx, o.test); }; });
  CLI::App* report = campaign->add_subcommand(
      "report", "counts per status, domain and source; reasons; --format html: one page");
  report->add_option("name", o.report.name, "campaign name")->required();
  report->add_option("--format", o.report.format, "table (default), csv, json or html")
      ->check(FormatOf({"table", "csv", "json", "html"}));
  report->add_option("--out", o.report.out, "write to FILE instead of stdout");
  report->callback([&action] { action = [](Context& ctx) { return RunCampaignReportAll(ctx, o.report); }; });

  // subscriber
  CLI::App* sub = app.add_subcommand("subscriber", "one subscriber: show, unsubscribe, erase");
  sub->require_subcommand(1);
  CLI::App* show = sub->add_subcommand("show", "attributes, lists, suppression, recent deliveries");
  show->add_option("email", o.email, "address")->required();
  with_format(show);
  show->callback([&action] {
    action = [](Context& ctx) { return RunSubscriberShow(ctx, o.email, o.format); };
  });
  CLI::App* unsub = sub->add_subcommand(
      "unsubscribe", "mark unsubscribed and suppress (no campaign sends to it any more)");
  unsub->add_option("email", o.email, "address")->required();
  unsub->callback([&action] {
    action = [](Context& ctx) { return RunSubscriberUnsubscribe(ctx, o.email); };
  });
  CLI::App* rm = sub->add_subcommand(
      "rm", "erase a subscriber: memberships and delivery history (a suppression stays)");
  rm->add_option("email", o.email, "address")->required();
  rm->callback([&action] { action = [](Context& ctx) { return RunSubscriberRm(ctx, o.email); }; });
}

}  // namespace postino::cli
