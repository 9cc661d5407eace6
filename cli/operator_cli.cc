// operator_cli.cc: CLI11 declarations of the operators' commands (see
// operator_cli.h); each runs a function of queue_commands.h,
// config_check_command.h or dns_check_command.h.
#include "cli/operator_cli.h"

#include "cli/config_check_command.h"
#include "cli/dns_check_command.h"
#include "cli/queue_commands.h"
#include "common/log.h"

namespace postino::cli {

struct OperatorCliState {
  std::string log_format;
  std::string config_file;
  DnsCheckOptions dns;
  QueueOptions queue;
  std::string resume_source, resume_site;
};

std::shared_ptr<OperatorCliState> AddOperatorCommands(CLI::App& app,
                                                      std::function<int(Context&)>* action) {
  auto st = std::make_shared<OperatorCliState>();
  OperatorCliState* s = st.get();
  app.add_option("--log-format", s->log_format,
                 "log lines as text (default) or json (one object per line: time, level, "
                 "message, campaign, delivery, connection, site, host)")
      ->check(CLI::IsMember({"text", "json"}));

  // config check
  CLI::App* config = app.add_subcommand("config", "the configuration file");
  config->require_subcommand(1);
  CLI::App* check = config->add_subcommand(
      "check",
      "validate a configuration without a database: every key, DKIM key files (readable, "
      "matching their algorithm), certificate files, secrets. Exit 0 valid, 3 invalid");
  check->add_option("file", s->config_file, "file to check (default: --config, $POSTINO_CONFIG, "
                                            "./postino.toml)");
  check->callback([s, action] {
    *action = [s](Context& ctx) { return RunConfigCheck(ctx, s->config_file); };
  });

  // dns check
  CLI::App* dns = app.add_subcommand("dns", "DNS records for sending");
  dns->require_subcommand(1);
  CLI::App* dcheck = dns->add_subcommand(
      "check",
      "check a sending domain's DNS: MX, SPF for each source address, DKIM keys, DMARC and "
      "alignment, PTR with forward confirmation, MTA-STS. Exit 0 no failure, 1 a check failed");
  dcheck->add_option("--domain", s->dns.domain, "the From domain to check")->required();
  dcheck->add_option("--dns-server", s->dns.servers,
                     "DNS server HOST:PORT to ask (repeatable; default [dns] servers, else "
                     "/etc/resolv.conf)");
  dcheck->add_option("--format", s->dns.format, "table (default) or json")
      ->check(CLI::IsMember({"table", "json"}));
  dcheck->callback([s, action] {
    *action = [s](Context& ctx) { return RunDnsCheck(ctx, s->dns); };
  });

  // queue
  CLI::App* queue = app.add_subcommand("queue", "recipients still to send, without SQL");
  queue->require_subcommand(1);
  auto filters = [s](CLI::App* sub) {
    sub->add_option("--campaign", s->queue.campaign, "only this campaign");
    sub->add_option("--domain", s->queue.domain, "only recipients of this domain");
  };
  CLI::App* ls = queue->add_subcommand(
      "ls", "per campaign and domain: due now, waiting for a retry, held, being sent; next "
            "attempt and last reply");
  filters(ls);
  ls->add_option("--format", s->queue.format, "table (default) or json")
      ->check(CLI::IsMember({"table", "json"}));
  ls->callback([s, action] { *action = [s](Context& ctx) { return RunQueueLs(ctx, s->queue); }; });
  CLI::App* retry = queue->add_subcommand(
      "retry-now", "make recipients waiting for a later attempt due now (says how many)");
  filters(retry);
  retry->callback(
      [s, action] { *action = [s](Context& ctx) { return RunQueueRetryNow(ctx, s->queue); }; });
  CLI::App* hold = queue->add_subcommand(
      "hold", "hold recipients still to send: no node sends them until `queue release`");
  filters(hold);
  hold->callback(
      [s, action] { *action = [s](Context& ctx) { return RunQueueHold(ctx, s->queue); }; });
  CLI::App* release =
      queue->add_subcommand("release", "make held recipients due now (says how many)");
  filters(release);
  release->callback(
      [s, action] { *action = [s](Context& ctx) { return RunQueueRelease(ctx, s->queue); }; });

  // sources resume
  if (CLI::App* sources = app.get_subcommand("sources")) {
    CLI::App* resume = sources->add_subcommand(
        "resume", "lift a source's suspension or slow-down now (all sites, or --site)");
    resume->add_option("source", s->resume_source, "source name")->required();
    resume->add_option("--site", s->resume_site,
                       "site key or host pattern, e.g. gmail-smtp-in.l.google.com or "
                       "*.google.com (default: every site)");
    resume->callback([s, action] {
      *action = [s](Context& ctx) { return RunSourcesResume(ctx, s->resume_source, s->resume_site); };
    });
  }
  return st;
}

void ApplyOperatorGlobals(const OperatorCliState& state) {
  log::Format format;
  if (!state.log_format.empty() && log::ParseFormat(state.log_format, &format)) {
    log::SetFormat(format);
  }
}

}  // namespace postino::cli
