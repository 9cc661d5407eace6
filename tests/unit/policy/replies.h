// replies.h: helpers shared by the policy tests: wire bytes to a parsed
// Reply, and provider-replies.json entries to Replies.
#pragma once

#include <gtest/gtest.h>

#include <cctype>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "engine/smtp/reply.h"
#include "engine/smtp/reply_parser.h"

namespace postino::policy::testing {

// Parses one reply in wire form ("550 5.1.1 ...\r\n"); lenient about a code
// that changes between lines (La Poste).
inline smtp::Reply Parse(std::string_view wire) {
  smtp::ReplyParser p(smtp::ReplyParserLimits{.allow_code_change = true});
  EXPECT_TRUE(p.Feed(wire).ok()) << wire;
  auto r = p.Next();
  EXPECT_TRUE(r.has_value()) << wire;
  return r.value_or(smtp::Reply());
}

// A provider-replies.json reply ("\n" between lines) as a parsed Reply; a
// partial quote without its code gets the entry's documented code.
inline smtp::Reply FromEntry(const nlohmann::json& e) {
  const std::string text = e.at("reply").get<std::string>();
  auto digit = [&](size_t i) { return std::isdigit(static_cast<unsigned char>(text[i])) != 0; };
  if (text.size() < 3 || !digit(0) || !digit(1) || !digit(2)) {
    smtp::Reply r;
    r.code = e.at("code").get<int>();
    r.enhanced = e.at("enhanced").is_null() ? "" : e.at("enhanced").get<std::string>();
    r.lines = {text};
    return r;
  }
  std::string wire;
  for (char c : text) {
    if (c == '\n') {
      wire += "\r\n";
    } else {
      wire.push_back(c);
    }
  }
  wire += "\r\n";
  size_t last = wire.rfind("\r\n", wire.size() - 3);
  last = last == std::string::npos ? 0 : last + 2;
  if (wire.size() > last + 3 && wire[last + 3] == '-') wire[last + 3] = ' ';
  return Parse(wire);
}

}  // namespace postino::policy::testing
