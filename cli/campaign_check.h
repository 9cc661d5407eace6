// campaign_check.h: before a launch: `campaign check` (render every
// recipient without sending), `campaign plan` (per MX site: recipients,
// limits, warm-up caps, expected finish) and `campaign test` (the real
// message to seed addresses, outside the campaign's counts).
#pragma once

#include <string>
#include <vector>

#include "cli/context.h"

namespace postino::cli {

struct CampaignTestOptions {
  std::string name;
  std::vector<std::string> to;  // seed addresses
  std::string as;               // subscriber whose attributes to use ("" = see the help)
};

// Exit kExitCheck when recipients lack fields, the unsubscribe link is
// empty, no DKIM key covers the From domain, or a recipient cannot be rendered.
int RunCampaignCheck(Context& ctx, const std::string& name, const std::string& format);
int RunCampaignPlan(Context& ctx, const std::string& name, const std::string& format);
// Exit kExitFailure when a seed address was not delivered.
int RunCampaignTest(Context& ctx, const CampaignTestOptions& options);

}  // namespace postino::cli
