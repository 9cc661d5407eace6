// manage_commands.h: listing and deleting what marketers manage:
// `campaign ls|rm`, `template ls|show|rm`, `list ls|rm`, and
// `subscriber show|unsubscribe|rm`. Lists print as a table or, with
// `--format json`, as JSON.
#pragma once

#include <string>

#include "cli/context.h"

namespace postino::cli {

int RunCampaignLs(Context& ctx, const std::string& format);
// Drafts only; any other status exits kExitState with the reason.
int RunCampaignRm(Context& ctx, const std::string& name);
int RunTemplateLs(Context& ctx, const std::string& format);
// The template's parts and the fields it uses.
int RunTemplateShow(Context& ctx, const std::string& name, const std::string& format);
int RunTemplateRm(Context& ctx, const std::string& name);
int RunListLsFormat(Context& ctx, const std::string& format);
int RunListRm(Context& ctx, const std::string& name);
int RunSubscriberShow(Context& ctx, const std::string& email, const std::string& format);
int RunSubscriberUnsubscribe(Context& ctx, const std::string& email);
int RunSubscriberRm(Context& ctx, const std::string& email);

}  // namespace postino::cli
