// report_html.cc: the HTML campaign report (see report_html.h). Charts are
// SVG drawn here from ReportData; sizes are fixed so the page renders the
// same everywhere, and long lists are cut (top 20 domains, 500 events).
#include "cli/report_html.h"

#include <fmt/chrono.h>
#include <fmt/format.h>

#include <algorithm>
#include <chrono>

#include "cli/output.h"
#include "templates/template.h"

namespace postino::cli {
namespace {

std::string Esc(std::string_view s) {
  std::string out;
  templates::AppendHtmlEscaped(s, &out);
  return out;
}

const char* Color(const std::string& status) {
  if (status == "delivered") return "#2e7d32";
  if (status == "deferred") return "#f9a825";
  if (status == "bounced") return "#c62828";
  if (status == "expired") return "#6d4c41";
  if (status == "suppressed") return "#757575";
  if (status == "cancelled") return "#bdbdbd";
  if (status == "failed") return "#ad1457";
  if (status == "pending") return "#64b5f6";
  return "#9e9e9e";
}

double Secs(db::TimePoint t) { return std::chrono::duration<double>(t.time_since_epoch()).count(); }

std::string Clock(double epoch, bool with_date) {
  auto t = static_cast<std::time_t>(epoch);
  return with_date ? fmt::format("{:%m-%d %H:%M}", fmt::gmtime(t))
                   : fmt::format("{:%H:%M:%S}", fmt::gmtime(t));
}

// The delivery curve: cumulative delivered, bounced and other final results,
// deferrals per bucket as bars, suspensions and slow-downs as bands.
std::string Curve(const ReportData& d) {
  if (!d.span || d.timeline.empty()) return "<p class=\"note\">No attempts recorded yet.</p>\n";
  constexpr double kW = 900, kH = 280, kL = 60, kR = 20, kT = 20, kB = 40;
  double t0 = Secs(d.span->first);
  double t1 = std::max(Secs(d.span->second), Secs(d.timeline.back().at) + d.bucket_seconds);
  if (t1 - t0 < 1) t1 = t0 + 1;
  int64_t total = 0, max_deferred = 0;
  for (const auto& p : d.timeline) {
    total += p.delivered + p.bounced + p.other;
    max_deferred = std::max(max_deferred, p.deferred);
  }
  // A top that four grid lines divide into whole numbers.
  double ymax = static_cast<double>((std::max<int64_t>(total, 1) + 3) / 4 * 4);
  auto x = [&](double t) { return kL + (std::clamp(t, t0, t1) - t0) / (t1 - t0) * (kW - kL - kR); };
  auto y = [&](double v) { return kT + (kH - kT - kB) * (1 - v / ymax); };
  std::string svg = fmt::format(
      "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{0}\" height=\"{1}\" viewBox=\"0 0 {0} "
      "{1}\" role=\"img\" aria-label=\"delivery curve\" id=\"curve\">\n",
      kW, kH);
  // Suspensions and slow-downs first, behind the lines.
  for (const auto& e : d.egress) {
    if (e.action != "suspended" && e.action != "slowed") continue;
    double a = Secs(e.at), b = e.until ? Secs(*e.until) : a;
    if (b < t0 || a > t1) continue;
    double xa = x(a), xb = std::max(x(b), xa + 2);
    svg += fmt::format(
        "<rect class=\"{}\" x=\"{:.1f}\" y=\"{}\" width=\"{:.1f}\" height=\"{}\" fill=\"{}\" "
        "fill-opacity=\"0.18\"><title>{} {} \u2192 {} from {} until {}: {}</title></rect>\n",
        e.action == "suspended" ? "suspension" : "slowdown", xa, kT, xb - xa, kH - kT - kB,
        e.action == "suspended" ? "#c62828" : "#f9a825", Esc(e.action), Esc(e.source_name),
        Esc(e.site), IsoTime(e.at), IsoTime(e.until), Esc(e.reply.substr(0, 200)));
  }
  // Axes and grid.
  bool with_date = t1 - t0 > 86400;
  for (int i = 0; i <= 4; ++i) {
    double v = ymax * i / 4, yy = y(v);
    svg += fmt::format(
        "<line x1=\"{}\" y1=\"{:.1f}\" x2=\"{}\" y2=\"{:.1f}\" stroke=\"#e0e0e0\"/>"
        "<text x=\"{}\" y=\"{:.1f}\" text-anchor=\"end\" class=\"axis\">{}</text>\n",
        kL, yy, kW - kR, yy, kL - 6, yy + 4, static_cast<int64_t>(v + 0.5));
    double t = t0 + (t1 - t0) * i / 4;
    svg += fmt::format("<text x=\"{:.1f}\" y=\"{}\" text-anchor=\"{}\" class=\"axis\">{}</text>\n",
                       x(t), kH - kB + 18, i == 0 ? "start" : i == 4 ? "end" : "middle",
                       Clock(t, with_date));
  }
  svg += fmt::format("<text x=\"{}\" y=\"{}\" text-anchor=\"end\" class=\"axis\">UTC</text>\n",
                     kW - kR, kH - 4);
  // Deferrals per bucket: bars along the bottom, scaled to a quarter of the height.
  double bucket_w = std::max(1.0, (kW - kL - kR) * d.bucket_seconds / (t1 - t0) - 1);
  for (const auto& p : d.timeline) {
    if (p.deferred == 0) continue;
    double h = (kH - kT - kB) / 4.0 * static_cast<double>(p.deferred) /
               static_cast<double>(std::max<int64_t>(max_deferred, 1));
    svg += fmt::format(
        "<rect class=\"deferred\" x=\"{:.1f}\" y=\"{:.1f}\" width=\"{:.1f}\" height=\"{:.1f}\" "
        "fill=\"{}\" fill-opacity=\"0.7\"><title>{} deferrals at {}</title></rect>\n",
        x(Secs(p.at)), kH - kB - h, bucket_w, h, Color("deferred"), p.deferred, IsoTime(p.at));
  }
  // Cumulative lines.
  struct Series {
    const char* name;
    const char* color;
    int64_t (*get)(const db::Database::TimelinePoint&);
  } series[] = {
      // Drawn last = on top: delivered.
      {"other", Color("expired"), [](const db::Database::TimelinePoint& p) { return p.other; }},
      {"bounced", Color("bounced"), [](const db::Database::TimelinePoint& p) { return p.bounced; }},
      {"delivered", Color("delivered"), [](const db::Database::TimelinePoint& p) { return p.delivered; }},
  };
  for (const Series& s : series) {
    std::string points = fmt::format("{:.1f},{:.1f}", x(t0), y(0));
    int64_t sum = 0;
    for (const auto& p : d.timeline) {
      sum += s.get(p);
      points += fmt::format(" {:.1f},{:.1f}", x(Secs(p.at) + d.bucket_seconds), y(static_cast<double>(sum)));
    }
    if (sum == 0) continue;
    svg += fmt::format(
        "<polyline class=\"series-{}\" fill=\"none\" stroke=\"{}\" stroke-width=\"2\" "
        "points=\"{}\"><title>{}: {}</title></polyline>\n",
        s.name, s.color, points, s.name, sum);
  }
  svg += "</svg>\n";
  return svg;
}

// Horizontal stacked bars, one per row, scaled to the largest row.
std::string Bars(const char* id,
                 const std::vector<std::pair<std::string, std::vector<std::pair<std::string, int64_t>>>>& rows) {
  if (rows.empty()) return "<p class=\"note\">None.</p>\n";
  constexpr double kW = 900, kLabel = 260, kRow = 22, kRight = 70;
  int64_t max_total = 1;
  for (const auto& [label, counts] : rows) {
    int64_t t = 0;
    for (const auto& [s, n] : counts) t += n;
    max_total = std::max(max_total, t);
  }
  double h = kRow * static_cast<double>(rows.size()) + 4;
  std::string svg = fmt::format(
      "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{0}\" height=\"{1}\" viewBox=\"0 0 {0} "
      "{1}\" role=\"img\" id=\"{2}\">\n",
      kW, h, id);
  double y = 2;
  for (const auto& [label, counts] : rows) {
    std::string shown = label.size() > 40 ? label.substr(0, 38) + "\u2026" : label;
    svg += fmt::format("<text x=\"{}\" y=\"{:.1f}\" text-anchor=\"end\" class=\"label\">{}</text>\n",
                       kLabel - 8, y + 15, Esc(shown));
    double x = kLabel;
    int64_t total = 0;
    for (const auto& [s, n] : counts) {
      if (n <= 0) continue;
      total += n;
      double w = (kW - kLabel - kRight) * static_cast<double>(n) / static_cast<double>(max_total);
      svg += fmt::format(
          "<rect class=\"{}\" x=\"{:.1f}\" y=\"{:.1f}\" width=\"{:.1f}\" height=\"{}\" "
          "fill=\"{}\"><title>{}: {} {}</title></rect>\n",
          Esc(s), x, y + 3, std::max(w, 0.5), kRow - 6, Color(s), Esc(label), n, Esc(s));
      x += w;
    }
    svg += fmt::format("<text x=\"{:.1f}\" y=\"{:.1f}\" class=\"label\">{}</text>\n", x + 6, y + 15,
                       total);
    y += kRow;
  }
  svg += "</svg>\n";
  return svg;
}

std::string Legend() {
  std::string out = "<p class=\"legend\">";
  for (const std::string& s : ReportStatuses()) {
    out += fmt::format("<span><i style=\"background:{}\"></i>{}</span> ", Color(s), s);
  }
  out += "<span><i style=\"background:#c62828;opacity:.25\"></i>suspended path</span> "
         "<span><i style=\"background:#f9a825;opacity:.25\"></i>slowed path</span></p>\n";
  return out;
}

std::string ReasonTable(const char* id, const char* count_name,
                        const std::vector<ReportData::Reason>& v) {
  if (v.empty()) return "<p class=\"note\">None.</p>\n";
  std::string out = fmt::format(
      "<table id=\"{}\"><thead><tr><th class=\"n\">{}</th><th>status</th><th>reply</th></tr>"
      "</thead><tbody>\n",
      id, count_name);
  for (const auto& r : v) {
    out += fmt::format("<tr><td class=\"n\">{}</td><td>{}</td><td>{}</td></tr>\n", r.recipients,
                       Esc(r.status), Esc(r.reply));
  }
  return out + "</tbody></table>\n";
}

}  // namespace

std::string RenderReportHtml(const ReportData& d) {
  const db::CampaignProgress& p = d.progress;
  std::string html = fmt::format(R"(<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Campaign {0} — postino report</title>
<style>
body {{ font: 14px/1.4 system-ui, sans-serif; margin: 24px; color: #212121; max-width: 960px; }}
h1 {{ font-size: 22px; margin: 0 0 4px; }} h2 {{ font-size: 17px; margin: 28px 0 8px; }}
.cards {{ display: flex; flex-wrap: wrap; gap: 8px; margin: 12px 0; }}
.card {{ border: 1px solid #e0e0e0; border-radius: 6px; padding: 6px 12px; min-width: 90px; }}
.card b {{ display: block; font-size: 20px; }}
table {{ border-collapse: collapse; width: 100%; }}
th, td {{ text-align: left; padding: 3px 8px; border-bottom: 1px solid #eee; vertical-align: top; }}
td.n, th.n {{ text-align: right; white-space: nowrap; }}
td {{ word-break: break-word; }}
svg text {{ font: 12px system-ui, sans-serif; fill: #424242; }}
.legend span {{ margin-right: 12px; white-space: nowrap; }}
.legend i {{ display: inline-block; width: 10px; height: 10px; margin-right: 4px; }}
.note {{ color: #757575; }}
</style>
</head>
<body>
<h1>Campaign {0}</h1>
<p class="note">Status <b id="status">{1}</b>{2}{3}. Generated {4} by postino. Times are UTC.</p>
<div class="cards" id="totals">
)",
                                 Esc(d.name), Esc(p.status),
                                 p.started_at ? ", started " + IsoTime(p.started_at) : "",
                                 p.finished_at ? ", finished " + IsoTime(p.finished_at) : "",
                                 IsoTime(std::chrono::system_clock::now()));
  html += fmt::format("<div class=\"card\">total<b>{}</b></div>\n", p.total);
  auto total_of = [&](const std::string& s) {
    int64_t n = 0;
    for (const auto& dom : d.domains) n += dom.Count(s);
    return n;
  };
  for (const std::string& s : ReportStatuses()) {
    int64_t n = total_of(s);
    if (n == 0 && (s == "pending" || s == "failed" || s == "cancelled")) continue;
    html += fmt::format(
        "<div class=\"card\" style=\"border-left:4px solid {}\">{}<b>{}</b>{:.1f}%</div>\n",
        Color(s), s, n, p.total ? 100.0 * static_cast<double>(n) / p.total : 0.0);
  }
  html += "</div>\n" + Legend();
  html += fmt::format("<h2>Delivery over time</h2>\n<p class=\"note\">Cumulative final results; "
                      "deferrals per {} s as bars; suspended and slowed paths as bands.</p>\n",
                      d.bucket_seconds);
  html += Curve(d);

  std::vector<std::pair<std::string, std::vector<std::pair<std::string, int64_t>>>> rows;
  for (const auto& dom : d.domains) {
    if (rows.size() == 20) break;
    rows.emplace_back(dom.domain, dom.counts);
  }
  html += fmt::format("<h2>Recipient domains{}</h2>\n",
                      d.domains.size() > 20 ? fmt::format(" (top 20 of {})", d.domains.size()) : "");
  html += Bars("domains", rows);
  rows.clear();
  for (const auto& s : d.sources) rows.emplace_back(s.source_ip, s.counts);
  html += "<h2>Source addresses</h2>\n" + Bars("sources", rows);

  html += "<h2>Bounce, expiry and failure reasons</h2>\n" +
          ReasonTable("bounce-reasons", "recipients", d.bounce_reasons);
  html += "<h2>Deferral reasons</h2>\n" +
          ReasonTable("deferral-reasons", "attempts", d.deferral_reasons);

  html += "<h2>Path events (suspensions, slow-downs)</h2>\n";
  if (d.egress.empty()) {
    html += "<p class=\"note\">None during the campaign.</p>\n";
  } else {
    html += "<table id=\"path-events\"><thead><tr><th>at</th><th>event</th><th>source</th>"
            "<th>site</th><th>until</th><th>reply</th></tr></thead><tbody>\n";
    for (const auto& e : d.egress) {
      html += fmt::format("<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>\n",
                          IsoTime(e.at), Esc(e.action), Esc(e.source_name), Esc(e.site),
                          IsoTime(e.until), Esc(e.reply));
    }
    html += "</tbody></table>\n";
  }
  html += "</body>\n</html>\n";
  return html;
}

}  // namespace postino::cli
