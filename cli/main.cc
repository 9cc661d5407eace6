// main.cc: the `postino` command line (CLI11). Each subcommand is a small
// function in cli/*_commands.cc; this file only declares the interface.
#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include "cli/bounces_commands.h"
#include "cli/campaign_commands.h"
#include "cli/context.h"
#include "cli/db_commands.h"
#include "cli/dkim_commands.h"
#include "cli/list_commands.h"
#include "cli/marketer_cli.h"
#include "cli/operator_cli.h"
#include "cli/run_command.h"
#include "cli/serve_command.h"
#include "cli/user_commands.h"
#include "cli/sources_command.h"
#include "cli/submitted_commands.h"
#include "cli/suppress_commands.h"
#include "cli/template_commands.h"
#include "common/log.h"

namespace postino::cli {
namespace {

int Main(int argc, char** argv) {
  CLI::App app{"postino: high-volume bulk and newsletter email sending engine", "postino"};
  app.require_subcommand(1);
  app.set_version_flag("--version", "postino 0.1.0");
  std::string config_flag;
  app.add_option("-c,--config", config_flag,
                 "configuration file (default: $POSTINO_CONFIG, else ./postino.toml)");
  std::string log_level;
  app.add_option("--log-level", log_level, "debug, info, warn, error or off (default info)")
      ->check(CLI::IsMember({"debug", "info", "warn", "error", "off"}));

  std::function<int(Context&)> action;

  // db
  CLI::App* db = app.add_subcommand("db", "database schema");
  db->require_subcommand(1);
  db->add_subcommand("migrate", "create or upgrade the schema (idempotent)")->callback([&] {
    action = [](Context& ctx) { return RunDbMigrate(ctx); };
  });
  // Issue 15: delivery_events partitions and retention.
  db->add_subcommand("partitions", "list the monthly partitions of delivery_events")
      ->callback([&] { action = [](Context& ctx) { return RunDbPartitions(ctx); }; });
  DbPruneOptions prune_opts;
  CLI::App* prune = db->add_subcommand(
      "prune", "drop the months of delivery_events older than a period (whole partitions)");
  prune->add_option("--older-than", prune_opts.older_than,
                    "period to keep: a count and d, w, m (months) or y, e.g. 13m")
      ->required();
  prune->add_flag("--dry-run", prune_opts.dry_run, "say what would be dropped, change nothing");
  prune->callback([&] { action = [&](Context& ctx) { return RunDbPrune(ctx, prune_opts); }; });

  // list
  CLI::App* list = app.add_subcommand("list", "recipient lists");
  list->require_subcommand(1);
  ListImportOptions import_opts;
  CLI::App* import = list->add_subcommand(
      "import", "import recipients from a CSV file (header row; `email` column required)");
  import->add_option("name", import_opts.list, "list name (created if new)")->required();
  import->add_option("file", import_opts.file, "CSV file")->required();
  import->add_flag("--dry-run", import_opts.dry_run, "validate and count, write nothing");
  import->add_option("--delimiter", import_opts.delimiter,
                     "field separator: ',' (default), ';', '|' or tab");
  import->add_option("--encoding", import_opts.encoding,
                     "file encoding: utf-8 (default), latin1 or windows-1252");
  import->callback([&] { action = [&](Context& ctx) { return RunListImport(ctx, import_opts); }; });

  // template
  CLI::App* tpl = app.add_subcommand("template", "message templates");
  tpl->require_subcommand(1);
  TemplateAddOptions tpl_opts;
  CLI::App* tpl_add = tpl->add_subcommand("add", "add a template (parsed and checked first)");
  tpl_add->add_option("name", tpl_opts.name, "template name")->required();
  tpl_add->add_option("--subject", tpl_opts.subject, "subject template")->required();
  tpl_add->add_option("--html", tpl_opts.html_file, "HTML part template file")->required();
  tpl_add->add_option("--text", tpl_opts.text_file, "text part template file")->required();
  tpl_add->add_flag("--replace", tpl_opts.replace, "overwrite a template of the same name");
  tpl_add->callback([&] { action = [&](Context& ctx) { return RunTemplateAdd(ctx, tpl_opts); }; });

  // campaign
  CLI::App* campaign = app.add_subcommand("campaign", "campaigns");
  campaign->require_subcommand(1);
  CampaignCreateOptions create_opts;
  CLI::App* create = campaign->add_subcommand("create", "create a draft campaign");
  create->add_option("name", create_opts.name, "campaign name")->required();
  create->add_option("--list", create_opts.list, "recipient list")->required();
  create->add_option("--template", create_opts.template_name, "template")->required();
  create->add_option("--from", create_opts.from, "From: \"Name <address>\"")->required();
  create->add_option("--reply-to", create_opts.reply_to, "Reply-To address");
  create->add_option("--at", create_opts.at,
                     "start time, e.g. \"2027-01-05 09:00 Europe/Rome\" or "
                     "\"2027-01-05T09:00+01:00\" (default: at launch)");
  create->add_option("--pool", create_opts.pool, "source pool (default: the config's default)");
  create->add_option(
      "--max-age", create_opts.max_age,
      "give up on a recipient after, e.g. 3d or 1h30m, at most 365d (default [retry] max_age)");
  create->add_option("--header", create_opts.headers, "extra header \"Name: value\" (repeatable)");
  create->add_flag("--verp", create_opts.verp, "per-recipient Return-Path (bounces+TOKEN@domain)");
  create->add_option("--recipients-per-message", create_opts.recipients_per_message,
                     "recipients of one domain sharing one message (default 1; > 1 needs "
                     "templates using only {{campaign.*}}, see docs/campaigns.md)");
  create->callback([&] { action = [&](Context& ctx) { return RunCampaignCreate(ctx, create_opts); }; });

  std::string campaign_name;
  auto simple = [&](const char* name, const char* help, int (*fn)(Context&, const std::string&)) {
    CLI::App* sub = campaign->add_subcommand(name, help);
    sub->add_option("name", campaign_name, "campaign name")->required();
    sub->callback([&, fn] { action = [&, fn](Context& ctx) { return fn(ctx, campaign_name); }; });
  };
  simple("launch", "create the deliveries and start sending (or schedule)", RunCampaignLaunch);
  simple("pause", "stop sending until resumed (takes effect within 2 s)", RunCampaignPause);
  simple("resume", "continue a paused campaign", RunCampaignResume);
  simple("cancel", "stop for good; recipients not yet sent become cancelled", RunCampaignCancel);
  bool watch = false;
  CLI::App* status = campaign->add_subcommand("status", "progress, rate and ETA");
  status->add_option("name", campaign_name, "campaign name")->required();
  status->add_flag("-w,--watch", watch, "refresh every second until the campaign is over");
  std::string status_format = "table";
  status->add_option("--format", status_format, "table (default) or json (one object per line)")
      ->check(CLI::IsMember({"table", "json"}));
  status->callback([&] {
    action = [&](Context& ctx) {
      return RunCampaignStatus(ctx, campaign_name, watch, status_format);
    };
  });

  // dkim
  CLI::App* dkim = app.add_subcommand("dkim", "DKIM keys");
  dkim->require_subcommand(1);
  DkimKeygenOptions keygen_opts;
  CLI::App* keygen = dkim->add_subcommand(
      "keygen", "generate a private key (mode 0600) and print the DNS TXT record to publish");
  keygen->add_option("--domain", keygen_opts.domain, "signing domain (d=)")->required();
  keygen->add_option("--selector", keygen_opts.selector, "selector (s=)")->required();
  keygen->add_option("--algo", keygen_opts.algo, "rsa (default) or ed25519")
      ->check(CLI::IsMember({"rsa", "ed25519"}));
  keygen->add_option("--bits", keygen_opts.bits, "RSA key size (default 2048, at least 2048)")
      ->check(CLI::Range(2048, 8192));
  keygen->add_option("--out", keygen_opts.out,
                     "private key file (default SELECTOR.DOMAIN.ALGO.pem; never overwritten)");
  keygen->callback([&] { action = [&](Context&) { return RunDkimKeygen(keygen_opts); }; });

  // suppress
  CLI::App* sup = app.add_subcommand("suppress", "the suppression list (never sent to)");
  sup->require_subcommand(1);
  std::string sup_email, sup_file, sup_reason = "manual";
  int sup_limit = 100;
  CLI::App* sup_add = sup->add_subcommand("add", "suppress one address");
  sup_add->add_option("email", sup_email, "address")->required();
  sup_add->add_option("--reason", sup_reason, "hard_bounce, unsubscribe, complaint or manual");
  sup_add->callback([&] {
    action = [&](Context& ctx) { return RunSuppressAdd(ctx, sup_email, sup_reason); };
  });
  CLI::App* sup_imp = sup->add_subcommand("import", "suppress the addresses of a CSV file");
  sup_imp->add_option("file", sup_file, "CSV with an `email` column (and optional `reason`)")
      ->required();
  sup_imp->add_option("--reason", sup_reason, "reason for rows without one");
  sup_imp->callback([&] {
    action = [&](Context& ctx) { return RunSuppressImport(ctx, sup_file, sup_reason); };
  });
  CLI::App* sup_ls = sup->add_subcommand("ls", "show suppressed addresses, newest first");
  sup_ls->add_option("--limit", sup_limit, "rows to show (default 100)");
  std::string sup_format = "table";
  sup_ls->add_option("--format", sup_format, "table (default) or json")
      ->check(CLI::IsMember({"table", "json"}));
  sup_ls->callback(
      [&] { action = [&](Context& ctx) { return RunSuppressLs(ctx, sup_limit, sup_format); }; });
  CLI::App* sup_rm = sup->add_subcommand("rm", "remove an address from the suppression list");
  sup_rm->add_option("email", sup_email, "address")->required();
  sup_rm->callback([&] { action = [&](Context& ctx) { return RunSuppressRm(ctx, sup_email); }; });

  // sources
  int source_events = 10;
  CLI::App* sources = app.add_subcommand(
      "sources", "each source's state, today's count and warm-up cap; suspended or slowed paths");
  sources->add_option("--events", source_events, "recent path events to show (default 10)");
  std::string sources_format = "table";
  sources->add_option("--format", sources_format, "table (default) or json")
      ->check(CLI::IsMember({"table", "json"}));
  sources->callback([&, sources] {
    if (sources->get_subcommands().empty()) {  // not `sources resume`
      action = [&](Context& ctx) { return RunSources(ctx, source_events, sources_format); };
    }
  });

  // submitted (issue 12)
  AddSubmittedCommands(app, action);

  // bounces (issue 13: returned mail)
  CLI::App* bounces = app.add_subcommand("bounces", "bounces and complaints that arrive by mail");
  bounces->require_subcommand(1);
  std::vector<std::string> bounce_paths;
  bool bounce_json = false;
  CLI::App* bparse = bounces->add_subcommand(
      "parse", "print one JSON line per recipient of each report (no database)");
  bparse->add_option("files", bounce_paths, ".eml files, mboxes or maildirs")->required();
  bparse->callback([&] { action = [&](Context&) { return RunBouncesParse(bounce_paths); }; });
  CLI::App* bimport = bounces->add_subcommand(
      "import", "match reports to deliveries and record them (idempotent)");
  bimport->add_option("paths", bounce_paths, ".eml files, mboxes or maildirs")->required();
  bimport->add_flag("--json", bounce_json, "print the summary as JSON");
  bimport->callback([&] {
    action = [&](Context& ctx) { return RunBouncesImport(ctx, bounce_paths, bounce_json); };
  });

  // run
  RunOptions run_opts;
  CLI::App* run = app.add_subcommand("run", "the engine: send every running campaign");
  run->add_flag("--until-idle", run_opts.until_idle,
                "exit 0 when nothing is left to send now (for cron)");
  run->add_option("--node", run_opts.node_id, "node id (default: config node.id, else host name)");
  run->callback([&] { action = [&](Context& ctx) { return RunEngine(ctx, run_opts); }; });

  // user (issue 12: accounts of the submission listener)
  CLI::App* user = app.add_subcommand("user", "accounts of the SMTP submission listener");
  user->require_subcommand(1);
  UserOptions user_opts;
  auto password_flag = [&](CLI::App* sub) {
    sub->add_flag("--password-stdin", user_opts.password_stdin,
                  "read the password from the first line of stdin (default: prompt, no echo)");
  };
  CLI::App* user_add = user->add_subcommand("add", "add a user (asks for its password)");
  user_add->add_option("name", user_opts.name, "user name (the AUTH login)")->required();
  user_add->add_option("--domain", user_opts.domains, "sender domain the user may use (repeatable)");
  user_add->add_option("--address", user_opts.addresses,
                       "sender address the user may use (repeatable)");
  user_add->add_option("--rate", user_opts.rate, "message rate, e.g. 100/min (default: none)");
  user_add->add_option("--daily", user_opts.daily, "messages per UTC day (default: no quota)");
  password_flag(user_add);
  user_add->callback([&] { action = [&](Context& ctx) { return RunUserAdd(ctx, user_opts); }; });
  CLI::App* user_passwd = user->add_subcommand("passwd", "set a user's password");
  user_passwd->add_option("name", user_opts.name, "user name")->required();
  password_flag(user_passwd);
  user_passwd->callback(
      [&] { action = [&](Context& ctx) { return RunUserPasswd(ctx, user_opts); }; });
  CLI::App* user_rm = user->add_subcommand("rm", "remove a user");
  user_rm->add_option("name", user_opts.name, "user name")->required();
  user_rm->callback([&] { action = [&](Context& ctx) { return RunUserRm(ctx, user_opts.name); }; });
  user->add_subcommand("ls", "show users (never their passwords)")->callback([&] {
    action = [](Context& ctx) { return RunUserLs(ctx); };
  });
  for (bool disable : {true, false}) {
    CLI::App* sub = user->add_subcommand(disable ? "disable" : "enable",
                                         disable ? "refuse the user's AUTH from now on"
                                                 : "accept the user's AUTH again");
    sub->add_option("name", user_opts.name, "user name")->required();
    sub->callback([&, disable] {
      action = [&, disable](Context& ctx) { return RunUserSetDisabled(ctx, user_opts.name, disable); };
    });
  }
  // serve: the listeners without the sending engine (docs/submission.md, docs/http.md)
  ServeOptions serve_opts;
  CLI::App* serve = app.add_subcommand(
      "serve", "run the configured listeners without sending ([submission], [returns], "
               "[http]); flags pick some of them");
  serve->add_flag("--submission", serve_opts.submission,
                  "the [submission] SMTP listener (587/465)");
  serve->add_flag("--returns", serve_opts.returns,
                  "the [returns] intake SMTP listener (bounces and complaints, port 25)");
  serve->add_flag("--http", serve_opts.http,
                  "the [http] listener: one-click unsubscribe, /metrics, /healthz");
  serve->callback([&] { action = [&](Context& ctx) { return RunServe(ctx, serve_opts); }; });
  // Marketers' commands (issue 14): ls/rm/show, preview, check, plan, test,
  // report, subscriber (cli/marketer_cli.cc).
  AddMarketerCommands(app, list, tpl, campaign, action);
  // Operators (issue 14): config check, dns check, queue, sources resume, --log-format.
  std::shared_ptr<OperatorCliState> operator_cli = AddOperatorCommands(app, &action);

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int rc = app.exit(e);
    return rc == 0 ? kExitOk : kExitUsage;
  }
  if (!log_level.empty()) {
    log::Level level;
    if (log::ParseLevel(log_level, &level)) log::SetLevel(level);
  }
  ApplyOperatorGlobals(*operator_cli);
  if (!action) return kExitUsage;
  Context ctx(config_flag);
  return action(ctx);
}

}  // namespace
}  // namespace postino::cli

int main(int argc, char** argv) {
  try {
    return postino::cli::Main(argc, argv);
  } catch (const std::exception& e) {
    fmt::print(stderr, "postino: internal error: {}\n", e.what());
    return postino::cli::kExitFailure;
  }
}
