// request.cc: form, percent and Accept-Language decoding for the handlers.
#include "http/request.h"

#include <algorithm>
#include <cstdlib>

#include "common/strings.h"

namespace postino::http {
namespace {

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::string Decode(std::string_view s, bool plus_is_space) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    if (c == '%' && i + 2 < s.size()) {
      int hi = HexValue(s[i + 1]);
      int lo = HexValue(s[i + 2]);
      if (hi >= 0 && lo >= 0) {
        out += static_cast<char>(hi * 16 + lo);
        i += 2;
        continue;
      }
    }
    out += plus_is_space && c == '+' ? ' ' : c;
  }
  return out;
}

}  // namespace

const std::string& Request::Header(const std::string& lower_name) const {
  static const std::string kEmpty;
  auto it = headers.find(lower_name);
  return it == headers.end() ? kEmpty : it->second;
}

Response Response::Text(int status, std::string body) {
  Response r;
  r.status = status;
  r.body = std::move(body);
  return r;
}

std::string PercentDecode(std::string_view s) { return Decode(s, false); }

std::map<std::string, std::string> ParseForm(std::string_view body, size_t max_pairs) {
  std::map<std::string, std::string> out;
  size_t pairs = 0;
  while (!body.empty() && pairs < max_pairs) {
    size_t amp = body.find('&');
    std::string_view pair = body.substr(0, amp);
    body = amp == std::string_view::npos ? std::string_view() : body.substr(amp + 1);
    if (pair.empty()) continue;
    ++pairs;
    size_t eq = pair.find('=');
    std::string key = Decode(pair.substr(0, eq), true);
    std::string value = eq == std::string_view::npos ? "" : Decode(pair.substr(eq + 1), true);
    out.emplace(std::move(key), std::move(value));
  }
  return out;
}

std::vector<std::string> AcceptLanguages(std::string_view header) {
  struct Entry {
    std::string tag;
    double q;
    size_t order;
  };
  std::vector<Entry> entries;
  size_t order = 0;
  while (!header.empty() && entries.size() < 16) {
    size_t comma = header.find(',');
    std::string_view item = Trim(header.substr(0, comma));
    header = comma == std::string_view::npos ? std::string_view() : header.substr(comma + 1);
    if (item.empty()) continue;
    size_t semi = item.find(';');
    std::string_view tag = Trim(item.substr(0, semi));
    double q = 1.0;
    if (semi != std::string_view::npos) {
      std::string_view params = item.substr(semi + 1);
      size_t qpos = params.find("q=");
      if (qpos != std::string_view::npos) {
        std::string qtext(Trim(params.substr(qpos + 2)).substr(0, 5));
        char* end = nullptr;
        q = std::strtod(qtext.c_str(), &end);
        if (end == qtext.c_str() || q < 0 || q > 1) q = 0;
      }
    }
    size_t dash = tag.find_first_of("-_");
    std::string primary = AsciiLower(tag.substr(0, dash));
    bool alpha = !primary.empty() && primary.find_first_not_of("abcdefghijklmnopqrstuvwxyz") ==
                                         std::string::npos;
    if ((!alpha && primary != "*") || primary.size() > 8 || q <= 0) continue;
    entries.push_back({std::move(primary), q, order++});
  }
  std::stable_sort(entries.begin(), entries.end(),
                   [](const Entry& a, const Entry& b) { return a.q > b.q; });
  std::vector<std::string> out;
  for (auto& e : entries) out.push_back(std::move(e.tag));
  return out;
}

}  // namespace postino::http
