// unsubscribe.cc: token checks, the GET page and the POST record of an
// unsubscribe (see unsubscribe.h).
#include "http/unsubscribe.h"

#include <fmt/format.h>

#include "common/log.h"
#include "common/metric_families.h"
#include "http/pages.h"
#include "templates/recipient_token.h"

namespace postino::http {
namespace {

namespace fam = metrics::families;

constexpr size_t kMaxTokenBytes = 128;

// "https://host:port" of an absolute URL, for the CSP's form-action.
std::string Origin(std::string_view url) {
  size_t scheme = url.find("://");
  if (scheme == std::string_view::npos) return "";
  size_t end = url.find('/', scheme + 3);
  return std::string(url.substr(0, end));
}

}  // namespace

void AddPageHeaders(Response& r, std::string_view form_origin) {
  r.content_type = "text/html; charset=utf-8";
  r.headers.emplace_back("Cache-Control", "no-store");
  r.headers.emplace_back("Referrer-Policy", "no-referrer");
  r.headers.emplace_back("X-Content-Type-Options", "nosniff");
  r.headers.emplace_back("X-Frame-Options", "DENY");
  std::string csp = "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'; "
                    "base-uri 'none'; form-action 'self'";
  if (!form_origin.empty()) csp += " " + std::string(form_origin);
  r.headers.emplace_back("Content-Security-Policy", csp);
}

UnsubscribeHandler::UnsubscribeHandler(UnsubscribeOptions options, UnsubscribeStore& store)
    : opt_(std::move(options)), store_(store) {
  while (!opt_.public_url.empty() && opt_.public_url.back() == '/') opt_.public_url.pop_back();
  if (opt_.query_path.empty()) opt_.query_path = "/u/";
}

std::optional<std::string> UnsubscribeHandler::TokenOf(const Request& req) const {
  if (req.path == opt_.query_path || req.path == "/u/" || req.path == "/u") {
    auto it = req.query.find("t");
    return it == req.query.end() ? std::string() : it->second;
  }
  if (req.path.size() > 3 && req.path.compare(0, 3, "/u/") == 0) return req.path.substr(3);
  return std::nullopt;
}

Response UnsubscribeHandler::Render(int status, Page page, Language lang,
                                    const db::UnsubscribeTarget* target,
                                    const std::string& action) const {
  PageValues v;
  if (target != nullptr) {
    v.email = target->email;
    v.list_name = target->list_name;
  }
  v.form_action = action;
  Response r;
  r.status = status;
  r.body = RenderPage(page, lang, v);
  AddPageHeaders(r, Origin(opt_.public_url));
  if (status == 503) {
    r.headers.emplace_back("Retry-After", std::to_string(opt_.retry_after_seconds));
  }
  return r;
}

// The parts of a request its answer needs once the lookup is back (the
// Request itself stays valid until the reply, but a copy keeps this plain).
struct UnsubscribeHandler::Call {
  Reply reply;
  std::string token;
  std::string accept_language;
  std::string path;
  std::string remote;
  bool post = false;
  bool one_click_body = false;  // List-Unsubscribe=One-Click
  bool from_page = false;       // via=page: the confirmation page's button
  templates::RecipientTokenParts parts;
};

void UnsubscribeHandler::Handle(const Request& req, const std::string& token, Reply reply) {
  const std::string& accept = req.Header("accept-language");
  Language browser_lang = PickLanguage("", accept);
  bool post = req.method == "POST";
  bool get = req.method == "GET" || req.method == "HEAD";
  if (!post && !get) {
    Response r = Response::Text(405, "method not allowed: use GET (the page) or POST (RFC 8058)\n");
    r.headers.emplace_back("Allow", "GET, HEAD, POST");
    reply(std::move(r));
    return;
  }
  std::optional<templates::RecipientTokenParts> parts;
  if (token.size() <= kMaxTokenBytes) parts = templates::ParseRecipientToken(token);
  if (!parts) {
    fam::UnsubscribeRejects().With({"malformed"}).Inc();
    reply(Render(400, Page::kMalformed, browser_lang, nullptr, ""));
    return;
  }
  auto call = std::make_shared<Call>();
  call->reply = std::move(reply);
  call->token = token;
  call->accept_language = accept;
  call->path = req.path;
  call->remote = req.remote;
  call->post = post;
  auto field = req.form.find("List-Unsubscribe");
  call->one_click_body = field != req.form.end() && field->second == "One-Click";
  auto via = req.form.find("via");
  call->from_page = via != req.form.end() && via->second == "page";
  call->parts = *parts;
  store_.Find(parts->campaign_id, parts->delivery_id,
              [this, call](Result<std::optional<db::UnsubscribeTarget>> found) {
                Found(call, std::move(found));
              });
}

void UnsubscribeHandler::Found(const std::shared_ptr<Call>& call,
                               Result<std::optional<db::UnsubscribeTarget>> found) {
  Language browser_lang = PickLanguage("", call->accept_language);
  if (!found.ok()) {
    log::Warn("unsubscribe: database unavailable: {}", found.status().message());
    call->reply(Render(503, Page::kUnavailable, browser_lang, nullptr, ""));
    return;
  }
  if (!found.value().has_value()) {
    fam::UnsubscribeRejects().With({"unknown"}).Inc();
    call->reply(Render(404, Page::kUnknown, browser_lang, nullptr, ""));
    return;
  }
  const db::UnsubscribeTarget& target = **found;
  if (!templates::VerifyRecipientToken(opt_.secret, call->parts, target.email)) {
    fam::UnsubscribeRejects().With({"forged"}).Inc();
    log::Warn("unsubscribe: token for delivery {} does not verify (from {})",
              call->parts.delivery_id, call->remote);
    call->reply(Render(400, Page::kMalformed, browser_lang, nullptr, ""));
    return;
  }
  Language lang = PickLanguage(target.language, call->accept_language);
  if (!call->post) {
    if (target.unsubscribed) {
      call->reply(Render(200, Page::kDone, lang, &target, ""));
      return;
    }
    std::string action;
    if (!opt_.public_url.empty()) {
      action = opt_.public_url + "/u/" + call->token;
    } else if (call->path.size() > 3 && call->path.compare(0, 3, "/u/") == 0) {
      action = call->path;
    } else {
      action = call->path + "?t=" + call->token;
    }
    call->reply(Render(200, Page::kConfirm, lang, &target, action));
    return;
  }
  if (!call->one_click_body) {
    call->reply(Render(400, Page::kNeedsBody, lang, &target, ""));
    return;
  }
  if (target.unsubscribed) {
    call->reply(Render(200, Page::kDone, lang, &target, ""));
    return;
  }
  bool from_page = call->from_page;
  db::UnsubscribeRecord rec{target.delivery_id, target.campaign_id, opt_.node,
                            from_page ? "page" : "one-click"};
  store_.Record(rec, [this, call, target, lang, from_page](Result<bool> recorded) {
    if (!recorded.ok()) {
      log::Warn("unsubscribe: could not record: {}", recorded.status().message());
      call->reply(Render(503, Page::kUnavailable, lang, nullptr, ""));
      return;
    }
    if (recorded.value()) {
      fam::Unsubscribes().With({from_page ? "page" : "one_click"}).Inc();
      // Recycled family (common/metrics.h): looked up here each time, never cached.
      fam::UnsubscribesByCampaign().With({std::to_string(target.campaign_id)}).Inc();
      log::Info("unsubscribed delivery {} of campaign {} ({})", target.delivery_id,
                target.campaign_id, from_page ? "page" : "one-click");
    }
    call->reply(Render(200, Page::kDone, lang, &target, ""));
  });
}

}  // namespace postino::http
