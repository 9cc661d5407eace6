// ses_json.cc: see ses_json.h. nlohmann::json without exceptions (a parse
// error gives a discarded value), bounded by the message size cap.
#include "inbound/returns/ses_json.h"

#include <nlohmann/json.hpp>

#include <string>

#include "inbound/returns/reason.h"
#include "inbound/returns/text_util.h"

namespace postino::inbound::returns {
namespace {

std::string Str(const nlohmann::json& j, const char* key) {
  if (!j.is_object()) return {};
  auto it = j.find(key);
  if (it == j.end() || !it->is_string()) return {};
  return it->get<std::string>();
}

// SNS wraps long lines as "!\n " inside the JSON: undo that.
std::string Unwrap(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '!' && i + 2 < s.size() && (s[i + 1] == '\n' || s[i + 1] == '\r')) {
      size_t j = i + 1;
      if (s[j] == '\r') ++j;
      if (j < s.size() && s[j] == '\n') ++j;
      if (j < s.size() && s[j] == ' ') {
        i = j;
        continue;
      }
    }
    out += s[i];
  }
  return out;
}

void Fill(RecipientReport& r) {
  if (r.status.empty()) r.status = FindEnhancedCode(r.diagnostic);
  if (r.reply_code == 0) r.reply_code = FindReplyCode(r.diagnostic);
  ReasonInput in;
  in.status = r.status;
  in.reply_code = r.reply_code;
  in.diagnostic = r.diagnostic;
  in.action = r.action;
  r.reason = ClassifyReason(in);
  r.hard_bounce = IsHardBounce(r.reason, r.status, r.reply_code);
}

}  // namespace

bool ReadSesNotification(std::string_view text, ReturnReport& out) {
  size_t key = text.find("\"notificationType\"");
  if (key == std::string_view::npos) return false;
  size_t open = text.rfind('{', key);
  size_t close = text.rfind('}');
  if (open == std::string_view::npos || close == std::string_view::npos || close < key) return false;
  nlohmann::json j = nlohmann::json::parse(Unwrap(text.substr(open, close - open + 1)), nullptr, false);
  if (j.is_discarded() || !j.is_object()) return false;
  // SNS envelope: the notification is a JSON string in "Message".
  if (j.contains("Message") && j["Message"].is_string()) {
    nlohmann::json inner = nlohmann::json::parse(j["Message"].get<std::string>(), nullptr, false);
    if (!inner.is_discarded() && inner.is_object()) j = std::move(inner);
  }
  std::string type = ToLower(Str(j, "notificationType"));
  const nlohmann::json& mail = j.contains("mail") ? j["mail"] : nlohmann::json();
  std::string mid = Str(mail, "messageId");
  if (mail.is_object() && mail.contains("headers") && mail["headers"].is_array()) {
    for (const auto& h : mail["headers"]) {
      std::string name = Str(h, "name"), value = Str(h, "value");
      if (!name.empty() && out.original_headers.size() < 64) out.original_headers.emplace_back(name, value);
    }
    std::string_view m = FieldValue(out.original_headers, "Message-ID");
    if (!m.empty()) out.original_message_id = std::string(TrimView(m));
    std::string to = CleanAddress(FieldValue(out.original_headers, "To"));
    if (!to.empty()) out.original_to = to;
  }
  out.format = "ses-json";
  if (type == "complaint") {
    const nlohmann::json& c = j.contains("complaint") ? j["complaint"] : nlohmann::json();
    std::string fbt = ToLower(Str(c, "complaintFeedbackType"));
    if (fbt.empty()) fbt = "abuse";
    if (c.is_object() && c.contains("complainedRecipients") && c["complainedRecipients"].is_array()) {
      for (const auto& rj : c["complainedRecipients"]) {
        RecipientReport r;
        r.address = CleanAddress(Str(rj, "emailAddress"));
        r.reason = "feedback";
        r.feedback_type = fbt;
        out.recipients.push_back(std::move(r));
      }
    }
    out.feedback_source = Str(c, "userAgent").substr(0, 255);
    out.kind = ReportKind::kComplaint;
    return !out.recipients.empty();
  }
  if (type == "bounce") {
    const nlohmann::json& b = j.contains("bounce") ? j["bounce"] : nlohmann::json();
    out.reporting_mta = Str(b, "reportingMTA").substr(0, 255);
    if (b.is_object() && b.contains("bouncedRecipients") && b["bouncedRecipients"].is_array()) {
      for (const auto& rj : b["bouncedRecipients"]) {
        RecipientReport r;
        r.address = CleanAddress(Str(rj, "emailAddress"));
        r.action = ToLower(Str(rj, "action"));
        if (r.action.empty()) r.action = Str(b, "bounceType") == "Transient" ? "delayed" : "failed";
        r.status = FindEnhancedCode(Str(rj, "status"));
        std::string diag = Str(rj, "diagnosticCode");
        size_t semi = diag.find(';');
        if (semi != std::string::npos && semi < 12) diag = diag.substr(semi + 1);
        r.diagnostic = UnfoldValue(diag).substr(0, 2048);
        if (r.status.size() >= 5 && r.status.substr(1) == ".0.0") {
          std::string more = FindEnhancedCode(r.diagnostic);
          if (!more.empty() && more[0] == r.status[0]) r.status = more;
        }
        Fill(r);
        out.recipients.push_back(std::move(r));
      }
    }
    out.kind = out.recipients.empty() ? ReportKind::kUnknown : ReportKind::kBounce;
    for (const RecipientReport& r : out.recipients)
      if (r.action != "failed") out.kind = ReportKind::kDelay;
    return !out.recipients.empty();
  }
  if (type == "delivery") {
    const nlohmann::json& d = j.contains("delivery") ? j["delivery"] : nlohmann::json();
    std::string resp = Str(d, "smtpResponse");
    if (d.is_object() && d.contains("recipients") && d["recipients"].is_array()) {
      for (const auto& rj : d["recipients"]) {
        if (!rj.is_string()) continue;
        RecipientReport r;
        r.address = CleanAddress(rj.get<std::string>());
        r.action = "delivered";
        r.diagnostic = UnfoldValue(resp).substr(0, 2048);
        Fill(r);
        out.recipients.push_back(std::move(r));
      }
    }
    out.kind = ReportKind::kSuccess;
    return !out.recipients.empty();
  }
  (void)mid;
  return false;
}

}  // namespace postino::inbound::returns
