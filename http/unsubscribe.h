// unsubscribe.h: the one-click unsubscribe endpoint (RFC 8058) and the page
// behind the same URL.
//
//   POST <url> with List-Unsubscribe=One-Click  -> verify the token, record
//        the unsubscribe (one transaction), 200 with the "done" page.
//        Idempotent: a repeat is 200 and records nothing. No cookies, no
//        redirects, no login.
//   GET  <url>  -> a page with one button (a POST form with the same field);
//        GET itself changes nothing, so link-following scanners unsubscribe
//        nobody.
//
// <url> is /u/<token> or <unsubscribe path>?t=<token> (the form the
// templates write: [unsubscribe] url_base + "?t=" + token). Bad or forged
// tokens get 400, unknown ones (campaign deleted) 404, a database failure 503
// with Retry-After; never another 5xx.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "common/status.h"
#include "db/database.h"
#include "http/pages.h"
#include "http/request.h"
#include "http/server.h"

namespace postino::http {

// Where the handler reads and writes; batched database lanes in production
// (db_access.h), a fake in unit tests. Each call answers through its
// callback exactly once, at once or later on another thread. An error
// Status means "the database is unavailable".
class UnsubscribeStore {
 public:
  virtual ~UnsubscribeStore() = default;
  using FindDone = std::function<void(Result<std::optional<db::UnsubscribeTarget>>)>;
  using RecordDone = std::function<void(Result<bool>)>;
  virtual void Find(int64_t campaign_id, int64_t delivery_id, FindDone done) = 0;
  virtual void Record(const db::UnsubscribeRecord& record, RecordDone done) = 0;
};

struct UnsubscribeOptions {
  std::string secret;      // [unsubscribe] secret: the tokens' HMAC key
  std::string node;        // delivery_events.node of the rows written
  std::string public_url;  // "https://host[/prefix]": the form posts to <public_url>/u/<token>;
                           // "" = back to the URL the page was loaded from
  std::string query_path = "/u/";  // path of [unsubscribe] url_base, where ?t= is read
  int retry_after_seconds = 30;    // on 503
};

class UnsubscribeHandler {
 public:
  UnsubscribeHandler(UnsubscribeOptions options, UnsubscribeStore& store);

  // The token of a request for this handler ("" when present but empty), or
  // nullopt when the request is not an unsubscribe URL.
  std::optional<std::string> TokenOf(const Request& req) const;

  // Answers through `reply` (see Handler::Handle); GET and HEAD show the
  // page, POST records.
  void Handle(const Request& req, const std::string& token, Reply reply);

 private:
  struct Call;  // what a request needs after its lookup
  void Found(const std::shared_ptr<Call>& call,
             Result<std::optional<db::UnsubscribeTarget>> found);

  Response Render(int status, Page page, Language lang, const db::UnsubscribeTarget* target,
                  const std::string& action) const;

  UnsubscribeOptions opt_;
  UnsubscribeStore& store_;
};

// Headers every HTML page of postino carries (no caching, no referrer — the
// URL holds a token —, no framing, a CSP that allows no external resource).
void AddPageHeaders(Response& r, std::string_view form_origin);

}  // namespace postino::http
