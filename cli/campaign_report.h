// campaign_report.h: `postino campaign report NAME [--format
// table|csv|json|html] [--out FILE]`: what happened to a campaign's
// recipients, per status, domain and source, with the reasons; the HTML
// format is one self-contained page (report_html.h).
#pragma once

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "cli/context.h"

namespace postino::cli {

struct ReportOptions {
  std::string name;
  std::string format = "table";  // table, csv, json or html
  std::string out;               // "" = stdout
};

int RunCampaignReportAll(Context& ctx, const ReportOptions& options);

// Everything a report shows, read once.
struct ReportData {
  std::string name;
  db::CampaignProgress progress;
  struct Domain {
    std::string domain;
    std::vector<std::pair<std::string, int64_t>> counts;  // status -> count, every status
    int64_t total = 0;
    int64_t Count(const std::string& status) const;
  };
  std::vector<Domain> domains;  // largest first
  struct Reason {
    std::string status;  // bounced, expired, deferred
    std::string reply;   // "550 5.1.1 user unknown": code and enhanced code once
    int64_t recipients = 0;  // deferral reasons: attempts
    int code = 0;        // as stored
    std::string enhanced, reason;
  };
  std::vector<Reason> bounce_reasons, deferral_reasons;
  struct Source {
    std::string source_ip;
    std::vector<std::pair<std::string, int64_t>> counts;
  };
  std::vector<Source> sources;
  std::vector<db::Database::TimelinePoint> timeline;
  int bucket_seconds = 60;
  std::optional<std::pair<db::TimePoint, db::TimePoint>> span;  // first and last event
  std::vector<db::Database::EgressEvent> egress;                // during the span
};

// The statuses of a delivery row, in report order.
const std::vector<std::string>& ReportStatuses();

// "550 5.1.1 user unknown" from a code, an enhanced code and a reply text
// that may start with the enhanced code again (as SMTP replies do, and as
// the normalized "<n>.<n>.<n>" form of it): the codes appear once.
std::string ReplyLine(int code, const std::string& enhanced, const std::string& text);

}  // namespace postino::cli
