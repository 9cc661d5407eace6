// request.h: the plain request and response values that pass between the
// HTTP server (server.h, libmicrohttpd) and the handlers, so the handlers
// are tested without sockets; and the small, bounded parsers they share
// (form bodies, query strings, Accept-Language).
#pragma once

#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace postino::http {

struct Request {
  std::string method;  // "GET", "POST", …
  std::string path;    // percent-decoded by the server, without the query
  std::map<std::string, std::string> query;    // decoded; first value of a repeated key
  std::map<std::string, std::string> headers;  // names lowercased
  std::string body;                            // bounded by the server
  // POST fields (application/x-www-form-urlencoded or multipart/form-data),
  // decoded by the server; bounded in count and size.
  std::map<std::string, std::string> form;
  std::string remote;                          // peer address, for logs

  // The header's value, "" when absent.
  const std::string& Header(const std::string& lower_name) const;
};

struct Response {
  int status = 200;
  std::string content_type = "text/plain; charset=utf-8";
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;  // extra headers

  static Response Text(int status, std::string body);
};

// application/x-www-form-urlencoded (also query strings): '+' is a space,
// %XX decoded, pairs split on '&'. At most `max_pairs` pairs; bad escapes
// are kept literally. A repeated key keeps its first value.
std::map<std::string, std::string> ParseForm(std::string_view body, size_t max_pairs = 32);

// Percent-decodes; '+' stays '+'. Bad escapes are kept literally.
std::string PercentDecode(std::string_view s);

// The language tags of an Accept-Language header, best first (by q, then
// order), lowercased primary subtags ("it-IT;q=0.8" -> "it"); q=0 dropped.
// At most 16 entries are read.
std::vector<std::string> AcceptLanguages(std::string_view header);

}  // namespace postino::http
