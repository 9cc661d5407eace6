// ses_json.h: Amazon SES notifications (Bounce, Complaint, Delivery) that
// arrive by mail as JSON (SNS e-mail subscriptions), read into a report.
#pragma once

#include <string_view>

#include "inbound/returns/report.h"

namespace postino::inbound::returns {

// True when `text` holds an SES notification; fills `out` from it.
bool ReadSesNotification(std::string_view text, ReturnReport& out);

}  // namespace postino::inbound::returns
