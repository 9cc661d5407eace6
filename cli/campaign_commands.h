// campaign_commands.h: `postino campaign create|launch|pause|resume|cancel|status` (the
// others: manage_commands.h, campaign_check.h, campaign_report.h).
#pragma once

#include <string>
#include <vector>

#include "cli/context.h"

namespace postino::cli {

struct CampaignCreateOptions {
  std::string name, list, template_name, from, reply_to, at, pool, max_age;
  std::vector<std::string> headers;  // "Name: value"
  bool verp = false;
  // Recipients of one domain sharing one message (and one SMTP transaction);
  // 1 = a personalised message each. > 1 needs templates that only use
  // {{campaign.*}} and no VERP (docs/campaigns.md).
  int recipients_per_message = 1;
};

int RunCampaignCreate(Context& ctx, const CampaignCreateOptions& options);
int RunCampaignLaunch(Context& ctx, const std::string& name);
int RunCampaignPause(Context& ctx, const std::string& name);
int RunCampaignResume(Context& ctx, const std::string& name);
int RunCampaignCancel(Context& ctx, const std::string& name);
// Prints progress once, or refreshes every second until the campaign is over
// when `watch` is set. A progress bar on a terminal, one plain line otherwise.
// `format`: "table" (a line, or a progress bar on a terminal) or "json"
// (one object per line).
int RunCampaignStatus(Context& ctx, const std::string& name, bool watch,
                      const std::string& format);

}  // namespace postino::cli
