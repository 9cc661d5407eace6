// conninfo.cc: masking secrets of libpq connection strings (see conninfo.h).
#include "db/conninfo.h"

#include <libpq-fe.h>

#include <memory>
#include <vector>

namespace postino::db {
namespace {

struct OptionsDeleter {
  void operator()(PQconninfoOption* o) const { PQconninfoFree(o); }
};
using Options = std::unique_ptr<PQconninfoOption, OptionsDeleter>;

// nullptr when libpq cannot parse `conninfo`.
Options Parse(std::string_view conninfo) {
  std::string text(conninfo);
  char* error = nullptr;
  Options options(PQconninfoParse(text.c_str(), &error));
  if (error != nullptr) PQfreemem(error);
  return options;
}

bool IsSecret(const PQconninfoOption& o) { return o.dispchar != nullptr && o.dispchar[0] == '*'; }

// The values of the secret options that are set.
std::vector<std::string> Secrets(const PQconninfoOption* options) {
  std::vector<std::string> out;
  for (const PQconninfoOption* o = options; o->keyword != nullptr; ++o) {
    if (IsSecret(*o) && o->val != nullptr && o->val[0] != '\0') out.emplace_back(o->val);
  }
  return out;
}

// A conninfo value, quoted when libpq's key=value syntax needs it.
std::string Quote(std::string_view v) {
  bool plain = !v.empty() && v.find_first_of(" \t\n\r\f\v'\\") == std::string_view::npos;
  if (plain) return std::string(v);
  std::string out = "'";
  for (char c : v) {
    if (c == '\'' || c == '\\') out.push_back('\\');
    out.push_back(c);
  }
  out.push_back('\'');
  return out;
}

}  // namespace

std::string MaskConnectionString(std::string_view conninfo) {
  Options options = Parse(conninfo);
  if (!options) return "(unparsable connection string)";
  if (Secrets(options.get()).empty()) return std::string(conninfo);
  std::string out;
  for (const PQconninfoOption* o = options.get(); o->keyword != nullptr; ++o) {
    if (o->val == nullptr || o->val[0] == '\0') continue;
    if (!out.empty()) out.push_back(' ');
    out += o->keyword;
    out.push_back('=');
    out += IsSecret(*o) ? std::string("***") : Quote(o->val);
  }
  return out;
}

std::string MaskPasswordIn(std::string_view text, std::string_view conninfo) {
  std::string out(text);
  Options options = Parse(conninfo);
  if (!options) return out;
  for (const std::string& secret : Secrets(options.get())) {
    if (secret.size() < 4) continue;
    for (size_t at = out.find(secret); at != std::string::npos; at = out.find(secret, at + 3)) {
      out.replace(at, secret.size(), "***");
    }
  }
  return out;
}

}  // namespace postino::db
