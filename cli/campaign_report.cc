// campaign_report.cc: `postino campaign report`: reads a campaign's counts,
// reasons, sources, timeline and egress events once (ReportData) and prints
// them as a table, CSV (domain rows only), JSON or one HTML page.
#include "cli/campaign_report.h"

#include <fmt/format.h>

#include <algorithm>
#include <cstring>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>

#include "cli/output.h"
#include "cli/report_html.h"
#include "common/strings.h"

namespace postino::cli {
namespace {

int64_t ToInt(const std::optional<std::string>& cell) {
  if (!cell || cell->empty()) return 0;
  return std::stoll(*cell);
}

// A bucket that gives the curve about 60-120 points over the span.
int BucketSeconds(const std::optional<std::pair<db::TimePoint, db::TimePoint>>& span) {
  if (!span) return 60;
  double secs = std::chrono::duration<double>(span->second - span->first).count();
  static const int kSteps[] = {1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600,
                               7200, 10800, 21600, 43200, 86400};
  for (int s : kSteps) {
    if (secs / s <= 120) return s;
  }
  return 86400;
}

Result<ReportData> Load(db::Database& db, const std::string& name) {
  ReportData d;
  d.name = name;
  Result<db::CampaignRow> c = db.GetCampaign(name);
  if (!c.ok()) return c.status();
  Result<db::CampaignProgress> p = db.Progress(name);
  if (!p.ok()) return p.status();
  d.progress = *p;
  Result<std::vector<db::DomainCount>> domains = db.DomainCounts(name);
  if (!domains.ok()) return domains.status();
  std::map<std::string, size_t> index;
  for (const auto& dc : *domains) {
    auto [it, fresh] = index.emplace(dc.domain, d.domains.size());
    if (fresh) {
      d.domains.push_back({dc.domain, {}, 0});
      for (const std::string& s : ReportStatuses()) d.domains.back().counts.emplace_back(s, 0);
    }
    ReportData::Domain& dom = d.domains[it->second];
    for (auto& [s, n] : dom.counts) {
      if (s == dc.status) n = dc.count;
    }
    dom.total += dc.count;
  }
  Result<db::Database::Table> reasons = db.Query(
      "SELECT status, coalesce(smtp_code, 0)::text, enhanced_code, reason, recipients FROM "
      "bounce_reasons WHERE campaign = $1 ORDER BY recipients DESC, reason LIMIT 50",
      {name});
  if (!reasons.ok()) return reasons.status();
  for (const auto& row : reasons->rows) {
    int code = static_cast<int>(ToInt(row[1]));
    d.bounce_reasons.push_back({row[0].value_or(""),
                                ReplyLine(code, row[2].value_or(""), row[3].value_or("")),
                                ToInt(row[4]), code, row[2].value_or(""), row[3].value_or("")});
  }
  Result<std::vector<db::Database::ReasonCount>> deferrals = db.DeferralReasons(c->id, 50);
  if (!deferrals.ok()) return deferrals.status();
  for (const auto& r : *deferrals) {
    d.deferral_reasons.push_back(
        {r.status, ReplyLine(r.code, r.enhanced, r.reason), r.count, r.code, r.enhanced, r.reason});
  }
  Result<db::Database::Table> sources = db.Query(
      "SELECT source_ip, status, recipients FROM source_summary WHERE campaign = $1 AND "
      "source_ip <> '' ORDER BY source_ip, status",
      {name});
  if (!sources.ok()) return sources.status();
  for (const auto& row : sources->rows) {
    std::string ip = row[0].value_or("");
    if (d.sources.empty() || d.sources.back().source_ip != ip) d.sources.push_back({ip, {}});
    d.sources.back().counts.emplace_back(row[1].value_or(""), ToInt(row[2]));
  }
  Result<std::optional<std::pair<db::TimePoint, db::TimePoint>>> span =
      db.CampaignEventSpan(c->id);
  if (!span.ok()) return span.status();
  d.span = *span;
  d.bucket_seconds = BucketSeconds(d.span);
  if (d.span) {
    Result<std::vector<db::Database::TimelinePoint>> t =
        db.CampaignTimeline(c->id, d.bucket_seconds);
    if (!t.ok()) return t.status();
    d.timeline = std::move(t).value();
    // Path events from the start to the end of the campaign (or now).
    db::TimePoint from = std::min(d.span->first, c->started_at.value_or(d.span->first));
    db::TimePoint to = std::max(d.span->second,
                                c->finished_at.value_or(std::chrono::system_clock::now()));
    Result<std::vector<db::Database::EgressEvent>> e = db.EgressEventsBetween(from, to, 500);
    if (!e.ok()) return e.status();
    d.egress = std::move(e).value();
  }
  return d;
}

int64_t Total(const db::CampaignProgress& p, const std::string& s) {
  if (s == "delivered") return p.delivered;
  if (s == "deferred") return p.deferred;
  if (s == "bounced") return p.bounced;
  if (s == "expired") return p.expired;
  if (s == "suppressed") return p.suppressed;
  if (s == "cancelled") return p.cancelled;
  if (s == "failed") return p.failed;
  if (s == "pending") return p.pending;
  return 0;
}

std::string Json(const ReportData& d) {
  const db::CampaignProgress& p = d.progress;
  nlohmann::json out;
  out["campaign"] = d.name;
  out["status"] = p.status;
  out["total"] = p.total;
  for (const std::string& s : ReportStatuses()) out["counts"][s] = Total(p, s);
  out["delivery_rate"] = p.total ? static_cast<double>(p.delivered) / p.total : 0.0;
  out["started_at"] = JsonTime(p.started_at);
  out["finished_at"] = JsonTime(p.finished_at);
  out["domains"] = nlohmann::json::array();
  for (const auto& dom : d.domains) {
    nlohmann::json j;
    j["domain"] = dom.domain;
    for (const auto& [s, n] : dom.counts) j[s] = n;
    j["total"] = dom.total;
    out["domains"].push_back(j);
  }
  // Bounce reasons count recipients; deferral reasons count attempts.
  auto reasons = [](const std::vector<ReportData::Reason>& v, const char* count_key) {
    nlohmann::json a = nlohmann::json::array();
    for (const auto& r : v) {
      a.push_back({{"status", r.status},
                   {"reply", r.reply},
                   {count_key, r.recipients},
                   {"smtp_code", r.code ? std::to_string(r.code) : std::string()},
                   {"enhanced_code", r.enhanced},
                   {"reason", r.reason}});
    }
    return a;
  };
  out["bounce_reasons"] = reasons(d.bounce_reasons, "recipients");
  out["deferral_reasons"] = reasons(d.deferral_reasons, "attempts");
  out["sources"] = nlohmann::json::array();
  for (const auto& s : d.sources) {
    for (const auto& [status, n] : s.counts) {
      out["sources"].push_back({{"source_ip", s.source_ip}, {"status", status}, {"recipients", n}});
    }
  }
  out["suspensions"] = nlohmann::json::array();
  for (const auto& e : d.egress) {
    out["suspensions"].push_back({{"at", IsoTime(e.at)},
                                  {"action", e.action},
                                  {"source", e.source_name},
                                  {"site", e.site},
                                  {"until", JsonTime(e.until)},
                                  {"reply", e.reply}});
  }
  // JSON escapes control characters itself; bytes that are not UTF-8 (a
  // peer's reply text) become U+FFFD instead of an exception.
  return out.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
}

// Domain rows only: totals are the column sums (table and JSON print them).
std::string Csv(const ReportData& d) {
  std::string out = "domain,total";
  for (const std::string& s : ReportStatuses()) out += "," + s;
  out += "\n";
  for (const auto& dom : d.domains) {
    std::string name = EscapeControl(dom.domain);
    if (name.find_first_of(",\"") != std::string::npos) {
      std::string q = "\"";
      for (char ch : name) q += ch == '"' ? std::string("\"\"") : std::string(1, ch);
      name = q + "\"";
    }
    out += fmt::format("{},{}", name, dom.total);
    for (const auto& [s, n] : dom.counts) out += fmt::format(",{}", n);
    out += "\n";
  }
  return out;
}

std::string Table(const ReportData& d) {
  const db::CampaignProgress& p = d.progress;
  std::string out = fmt::format("Campaign {} ({})\n", d.name, p.status);
  out += fmt::format("  {:<12} {:>10}\n", "total", p.total);
  for (const std::string& s : ReportStatuses()) {
    int64_t n = Total(p, s);
    if (n == 0 && (s == "pending" || s == "failed")) continue;
    out += fmt::format("  {:<12} {:>10}  {:5.1f}%\n", s, n,
                       p.total ? 100.0 * static_cast<double>(n) / p.total : 0.0);
  }
  if (p.started_at) {
    out += fmt::format("  {:<12} {:>10}\n", "elapsed", FormatDuration(p.elapsed_seconds));
  }
  out += fmt::format("\n{:<32} {:>8} {:>10} {:>9} {:>8} {:>8} {:>11} {:>7}\n", "DOMAIN", "TOTAL",
                     "DELIVERED", "DEFERRED", "BOUNCED", "EXPIRED", "SUPPRESSED", "FAILED");
  size_t shown = 0;
  for (const auto& dom : d.domains) {
    if (++shown > 50) {
      out += fmt::format("... {} more domains (use --format csv for all)\n", d.domains.size() - 50);
      break;
    }
    out += fmt::format("{:<32} {:>8} {:>10} {:>9} {:>8} {:>8} {:>11} {:>7}\n",
                       EscapeControl(dom.domain), dom.total, dom.Count("delivered"),
                       dom.Count("deferred"), dom.Count("bounced"), dom.Count("expired"),
                       dom.Count("suppressed"), dom.Count("failed"));
  }
  auto reasons = [&](const char* title, const std::vector<ReportData::Reason>& v) {
    if (v.empty()) return;
    out += fmt::format("\n{}\n", title);
    size_t n = 0;
    for (const auto& r : v) {
      if (++n > 10) break;
      // Reply texts come from remote servers: printed escaped (stored as received).
      out += fmt::format("{:>8}  {:<8} {}\n", r.recipients, r.status,
                         EscapeControl(r.reply.substr(0, 120)));
    }
  };
  reasons("Top bounce, expiry and failure reasons", d.bounce_reasons);
  reasons("Top deferral reasons (attempts)", d.deferral_reasons);
  if (!d.sources.empty()) {
    out += fmt::format("\n{:<40} {:<10} {:>10}\n", "SOURCE", "STATUS", "RECIPIENTS");
    for (const auto& s : d.sources) {
      for (const auto& [status, n] : s.counts) {
        out += fmt::format("{:<40} {:<10} {:>10}\n", EscapeControl(s.source_ip), status, n);
      }
    }
  }
  if (!d.egress.empty()) {
    out += "\nPath events during the campaign (UTC)\n";
    for (const auto& e : d.egress) {
      out += fmt::format("{}  {:<10} {} -> {}{}  {}\n", IsoTime(e.at), e.action,
                         EscapeControl(e.source_name), EscapeControl(e.site),
                         e.until ? " until " + IsoTime(e.until) : "",
                         EscapeControl(e.reply.substr(0, 100)));
    }
  }
  return out;
}

}  // namespace

const std::vector<std::string>& ReportStatuses() {
  static const std::vector<std::string> kStatuses = {
      "delivered", "deferred", "bounced", "expired", "suppressed", "cancelled", "failed", "pending"};
  return kStatuses;
}

int64_t ReportData::Domain::Count(const std::string& status) const {
  for (const auto& [s, n] : counts) {
    if (s == status) return n;
  }
  return 0;
}

std::string ReplyLine(int code, const std::string& enhanced, const std::string& text) {
  std::string_view t = Trim(text);
  // The text may repeat the code ("550 ...") and the enhanced code, as sent
  // or in the normalized form of bounce_reasons ("<n>.<n>.<n>").
  if (code > 0) {
    std::string c = std::to_string(code);
    if (t.substr(0, c.size()) == c && (t.size() == c.size() || t[c.size()] == ' ' ||
                                       t[c.size()] == '-')) {
      t = TrimLeft(t.substr(c.size() + (t.size() > c.size() ? 1 : 0)));
    }
  }
  // (Some servers repeat it themselves: "550 5.1.1 5.1.1 ...": every copy goes.)
  for (bool stripped = true; stripped;) {
    stripped = false;
    for (std::string_view prefix : {std::string_view(enhanced), std::string_view("<n>.<n>.<n>")}) {
      if (!prefix.empty() && t.substr(0, prefix.size()) == prefix &&
          (t.size() == prefix.size() || t[prefix.size()] == ' ')) {
        t = TrimLeft(t.substr(prefix.size()));
        stripped = true;
      }
    }
  }
  std::string out = code > 0 ? std::to_string(code) : std::string();
  if (!enhanced.empty()) out += (out.empty() ? "" : " ") + enhanced;
  if (!t.empty()) out += (out.empty() ? "" : " ") + std::string(t);
  return out;
}

int RunCampaignReportAll(Context& ctx, const ReportOptions& o) {
  Result<db::Database*> db = ctx.Database();
  if (!db.ok()) return ctx.SetupFailure(db.status());
  Result<ReportData> d = Load(**db, o.name);
  if (!d.ok()) return Fail(d.status());
  std::string text = o.format == "json"   ? Json(*d)
                     : o.format == "csv"  ? Csv(*d)
                     : o.format == "html" ? RenderReportHtml(*d)
                                          : Table(*d);
  if (o.out.empty()) {
    fmt::print("{}", text);
    return kExitOk;
  }
  std::ofstream out(o.out, std::ios::binary | std::ios::trunc);
  out << text;
  if (!out.flush()) {
    return Fail(Status::IoError(fmt::format("--out {}: cannot write: {}", o.out,
                                            std::strerror(errno))));
  }
  fmt::print(stderr, "report written to {} ({} bytes)\n", o.out, text.size());
  return kExitOk;
}

}  // namespace postino::cli
