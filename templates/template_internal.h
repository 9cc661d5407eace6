// template_internal.h: the compiled form of a template (shared by the parser
// and the renderer; not part of the public API).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "templates/template.h"

namespace postino::templates {

enum class FilterKind : uint8_t { kDefault, kUpper, kLower, kCapitalize, kDate };

struct Filter {
  FilterKind kind;
  std::string arg;  // default value or date format
};

enum class NodeKind : uint8_t { kText, kVariable, kSection, kInverted, kPartial };

struct Node {
  NodeKind kind = NodeKind::kText;
  bool escape = false;            // kVariable: HTML-escape when the render asks for it
  uint32_t end = 0;               // kSection/kInverted: index one past the section's last child
  int32_t partial = -1;           // kPartial: index into Program::partials, -1 = unknown
  std::string text;               // kText: the text; otherwise the name as written
  std::vector<std::string> path;  // name split on '.', empty for the implicit iterator "."
  std::vector<Filter> filters;    // kVariable only
};

struct Program {
  std::vector<Node> main;
  std::vector<std::vector<Node>> partials;
  std::vector<std::string> referenced;
  TemplateLimits limits;
};

}  // namespace postino::templates
