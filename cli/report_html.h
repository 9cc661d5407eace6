// report_html.h: a campaign report as one self-contained HTML page: inline
// CSS and SVG charts (delivery curve with suspensions on its timeline,
// per-domain and per-source bars), reason tables; no script, no external
// asset, every text from the database or a peer HTML-escaped.
#pragma once

#include <string>

#include "cli/campaign_report.h"

namespace postino::cli {

std::string RenderReportHtml(const ReportData& data);

}  // namespace postino::cli
