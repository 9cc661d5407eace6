// template_parser.cc: compiles Mustache source (with postino's filter and
// default extensions) into the flat node lists of a Program. Implements the
// spec's standalone-line rules, set-delimiter tags and indented partials.
#include <fmt/format.h>

#include <algorithm>
#include <map>
#include <utility>

#include "common/strings.h"
#include "templates/template.h"
#include "templates/template_internal.h"

namespace postino::templates {
namespace {

bool IsBlank(char c) { return c == ' ' || c == '\t'; }
bool IsSpace(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

// Prefixes every line of `source` with `indent` (the spec's rule for
// standalone partials).
std::string IndentSource(std::string_view source, std::string_view indent) {
  std::string out;
  out.reserve(source.size() + indent.size() * 8);
  out.append(indent);
  for (size_t i = 0; i < source.size(); ++i) {
    out.push_back(source[i]);
    if (source[i] == '\n' && i + 1 < source.size()) out.append(indent);
  }
  return out;
}

using PartialKey = std::pair<std::string, std::string>;  // (name, indentation)

struct CompileState {
  const CompileOptions* options;
  Program* program;
  std::map<PartialKey, int32_t> variants;
  int depth = 0;  // partial compile nesting
};

class Parser {
 public:
  Parser(std::string_view source, std::string label, CompileState* state)
      : src_(source), label_(std::move(label)), state_(state) {}

  Status Parse(std::vector<Node>* out) {
    const TemplateLimits& limits = state_->options->limits;
    std::string open = "{{";
    std::string close = "}}";
    struct OpenSection {
      size_t node;
      std::string name;
      size_t offset;
    };
    std::vector<OpenSection> stack;
    size_t cursor = 0;
    const size_t n = src_.size();
    while (true) {
      size_t p = src_.find(open, cursor);
      if (p == std::string_view::npos) {
        AddText(out, src_.substr(cursor));
        break;
      }
      size_t q = p + open.size();
      char type = 0;
      std::string_view content;
      size_t tag_end;
      if (q < n && src_[q] == '{') {
        type = '{';
        std::string closer = "}" + close;
        size_t c = src_.find(closer, q + 1);
        if (c == std::string_view::npos) {
          return Error(p, fmt::format("unclosed tag \"{}{{\": no \"{}\" follows", open, closer));
        }
        content = src_.substr(q + 1, c - q - 1);
        tag_end = c + closer.size();
      } else {
        size_t c = src_.find(close, q);
        if (c == std::string_view::npos) {
          return Error(p, fmt::format("unclosed tag \"{}\": no \"{}\" follows", open, close));
        }
        content = src_.substr(q, c - q);
        tag_end = c + close.size();
        if (!content.empty() &&
            std::string_view("#^/!>=&").find(content[0]) != std::string_view::npos) {
          type = content[0];
          content.remove_prefix(1);
        }
        if (type == '=') {
          if (content.empty() || content.back() != '=') {
            return Error(p, "set-delimiter tag must end with \"=\" (e.g. {{=<% %>=}})");
          }
          content.remove_suffix(1);
        }
      }

      // Standalone lines: the tag alone on its line (only blanks around it)
      // removes the whole line.
      bool standalone = false;
      size_t line_start = 0;
      size_t after = tag_end;
      if (type != 0 && type != '{' && type != '&') {
        size_t nl = p == 0 ? std::string_view::npos : src_.rfind('\n', p - 1);
        line_start = nl == std::string_view::npos ? 0 : nl + 1;
        bool blank_before = line_start >= cursor;
        for (size_t i = line_start; blank_before && i < p; ++i) blank_before = IsBlank(src_[i]);
        if (blank_before) {
          size_t i = tag_end;
          while (i < n && IsBlank(src_[i])) ++i;
          if (i == n) {
            standalone = true;
            after = n;
          } else if (src_[i] == '\n') {
            standalone = true;
            after = i + 1;
          } else if (src_[i] == '\r' && i + 1 < n && src_[i + 1] == '\n') {
            standalone = true;
            after = i + 2;
          }
        }
      }
      AddText(out, src_.substr(cursor, (standalone ? line_start : p) - cursor));
      cursor = after;
      std::string_view indent = standalone ? src_.substr(line_start, p - line_start) : "";

      switch (type) {
        case '!':
          break;
        case '=': {
          std::string_view d = Trim(content);
          size_t sp = 0;
          while (sp < d.size() && !IsSpace(d[sp])) ++sp;
          std::string_view new_open = d.substr(0, sp);
          std::string_view new_close = Trim(d.substr(sp));
          if (new_open.empty() || new_close.empty() ||
              new_close.find_first_of(" \t\r\n") != std::string_view::npos ||
              new_open.find('=') != std::string_view::npos ||
              new_close.find('=') != std::string_view::npos) {
            return Error(p, fmt::format("bad set-delimiter tag \"{}\": want two delimiters "
                                        "without spaces or \"=\"",
                                        d));
          }
          open = new_open;
          close = new_close;
          break;
        }
        case '#':
        case '^': {
          std::string_view name = Trim(content);
          Status s = CheckSectionName(p, name);
          if (!s.ok()) return s;
          if (static_cast<int>(stack.size()) >= limits.max_nesting) {
            return Error(p, fmt::format("sections nest deeper than {} levels", limits.max_nesting));
          }
          Node node;
          node.kind = type == '#' ? NodeKind::kSection : NodeKind::kInverted;
          node.text = std::string(name);
          SplitPath(name, &node.path);
          Reference(node.path);
          stack.push_back({out->size(), node.text, p});
          out->push_back(std::move(node));
          break;
        }
        case '/': {
          std::string_view name = Trim(content);
          if (stack.empty()) {
            return Error(p, fmt::format("closing tag \"{}\" without an open section", name));
          }
          if (stack.back().name != name) {
            auto [line, col] = LineCol(stack.back().offset);
            return Error(p, fmt::format("closing tag \"{}\" does not match open section \"{}\" "
                                        "(opened at {}:{})",
                                        name, stack.back().name, line, col));
          }
          (*out)[stack.back().node].end = static_cast<uint32_t>(out->size());
          merge_floor_ = out->size();
          stack.pop_back();
          break;
        }
        case '>': {
          Node node;
          node.kind = NodeKind::kPartial;
          node.text = std::string(Trim(content));
          auto compiled = CompilePartial(p, node.text, indent);
          if (!compiled.ok()) return compiled.status();
          node.partial = *compiled;
          out->push_back(std::move(node));
          break;
        }
        default: {  // 0, '{', '&': interpolation
          Node node;
          node.kind = NodeKind::kVariable;
          node.escape = type == 0;
          Status s = ParseVariable(p, content, &node);
          if (!s.ok()) return s;
          Reference(node.path);
          out->push_back(std::move(node));
          break;
        }
      }
    }
    if (!stack.empty()) {
      return Error(stack.back().offset,
                   fmt::format("unclosed section \"{}\" (opened here, no {{{{/{}}}}} follows)",
                               stack.back().name, stack.back().name));
    }
    return Status::Ok();
  }

 private:
  std::pair<size_t, size_t> LineCol(size_t offset) const {
    size_t line = 1;
    size_t line_start = 0;
    for (size_t i = 0; i < offset && i < src_.size(); ++i) {
      if (src_[i] == '\n') {
        ++line;
        line_start = i + 1;
      }
    }
    return {line, offset - line_start + 1};
  }

  Status Error(size_t offset, std::string_view message) const {
    auto [line, col] = LineCol(offset);
    return Status::InvalidArgument(fmt::format("{}:{}:{}: {}", label_, line, col, message));
  }

  void AddText(std::vector<Node>* out, std::string_view text) {
    if (text.empty()) return;
    // Merge with the previous text node, unless a section closed in between.
    if (!out->empty() && out->back().kind == NodeKind::kText && out->size() > merge_floor_) {
      out->back().text.append(text);
      return;
    }
    Node node;
    node.kind = NodeKind::kText;
    node.text = std::string(text);
    out->push_back(std::move(node));
  }

  static void SplitPath(std::string_view name, std::vector<std::string>* path) {
    if (name == ".") return;
    size_t start = 0;
    while (true) {
      size_t dot = name.find('.', start);
      path->emplace_back(name.substr(start, dot == std::string_view::npos ? dot : dot - start));
      if (dot == std::string_view::npos) break;
      start = dot + 1;
    }
  }

  void Reference(const std::vector<std::string>& path) {
    if (path.empty()) return;
    auto& refs = state_->program->referenced;
    if (std::find(refs.begin(), refs.end(), path[0]) == refs.end()) refs.push_back(path[0]);
  }

  Status CheckName(size_t offset, std::string_view name) const {
    if (name.empty()) return Error(offset, "empty tag name");
    if (name == ".") return Status::Ok();
    if (name.front() == '.' || name.back() == '.' || name.find("..") != std::string_view::npos) {
      return Error(offset, fmt::format("bad name \"{}\": empty segment in dotted name", name));
    }
    return Status::Ok();
  }

  Status CheckSectionName(size_t offset, std::string_view name) const {
    if (name.find('|') != std::string_view::npos) {
      return Error(offset, fmt::format("filters are not allowed on section tags (\"{}\")", name));
    }
    return CheckName(offset, name);
  }

  // name [| filter[: "arg"]]...
  Status ParseVariable(size_t offset, std::string_view content, Node* node) const {
    size_t bar = content.find('|');
    std::string_view name = Trim(content.substr(0, bar));
    Status s = CheckName(offset, name);
    if (!s.ok()) return s;
    node->text = std::string(name);
    SplitPath(name, &node->path);
    if (bar == std::string_view::npos) return Status::Ok();
    std::string_view rest = content.substr(bar);
    size_t i = 0;
    auto skip_space = [&] {
      while (i < rest.size() && IsSpace(rest[i])) ++i;
    };
    while (true) {
      skip_space();
      if (i == rest.size()) break;
      if (rest[i] != '|') {
        return Error(offset, fmt::format("in \"{}\": expected \"|\" before \"{}\"", Trim(content),
                                         rest.substr(i)));
      }
      ++i;
      skip_space();
      size_t start = i;
      while (i < rest.size() &&
             (std::isalnum(static_cast<unsigned char>(rest[i])) || rest[i] == '_')) {
        ++i;
      }
      std::string_view fname = rest.substr(start, i - start);
      Filter filter;
      bool wants_arg;
      if (fname == "default") {
        filter.kind = FilterKind::kDefault;
        wants_arg = true;
      } else if (fname == "upper") {
        filter.kind = FilterKind::kUpper;
        wants_arg = false;
      } else if (fname == "lower") {
        filter.kind = FilterKind::kLower;
        wants_arg = false;
      } else if (fname == "capitalize") {
        filter.kind = FilterKind::kCapitalize;
        wants_arg = false;
      } else if (fname == "date") {
        filter.kind = FilterKind::kDate;
        wants_arg = true;
      } else {
        return Error(offset, fmt::format("unknown filter \"{}\" in \"{}\" (known: default, upper, "
                                         "lower, capitalize, date)",
                                         fname, Trim(content)));
      }
      skip_space();
      bool has_arg = i < rest.size() && rest[i] == ':';
      if (has_arg != wants_arg) {
        return Error(offset, wants_arg ? fmt::format("filter \"{}\" needs an argument: {}: \"...\"",
                                                     fname, fname)
                                       : fmt::format("filter \"{}\" takes no argument", fname));
      }
      if (has_arg) {
        ++i;
        skip_space();
        if (i == rest.size() || (rest[i] != '"' && rest[i] != '\'')) {
          return Error(offset,
                       fmt::format("argument of filter \"{}\" must be a quoted string", fname));
        }
        char quote = rest[i++];
        bool closed = false;
        while (i < rest.size()) {
          char c = rest[i++];
          if (c == quote) {
            closed = true;
            break;
          }
          if (c == '\\' && i < rest.size()) c = rest[i++];
          filter.arg.push_back(c);
        }
        if (!closed) {
          return Error(offset, fmt::format("unterminated string in filter \"{}\"", fname));
        }
      }
      node->filters.push_back(std::move(filter));
    }
    return Status::Ok();
  }

  Result<int32_t> CompilePartial(size_t offset, const std::string& name, std::string_view indent) {
    const CompileOptions& options = *state_->options;
    auto found = options.partials.find(name);
    if (found == options.partials.end()) return -1;  // renders as nothing (spec)
    PartialKey key(name, std::string(indent));
    auto memo = state_->variants.find(key);
    if (memo != state_->variants.end()) return memo->second;
    if (static_cast<int>(state_->variants.size()) >= options.limits.max_partial_variants ||
        state_->depth >= options.limits.max_partial_depth) {
      return Error(offset, fmt::format("partial \"{}\" nests too deep (recursive standalone "
                                       "partial with growing indentation?)",
                                       name));
    }
    auto index = static_cast<int32_t>(state_->program->partials.size());
    state_->program->partials.emplace_back();
    state_->variants.emplace(key, index);
    std::string source = indent.empty() ? found->second : IndentSource(found->second, indent);
    std::vector<Node> nodes;
    ++state_->depth;
    Parser sub(source, label_ + ">" + name, state_);
    Status s = sub.Parse(&nodes);
    --state_->depth;
    if (!s.ok()) return s;
    state_->program->partials[index] = std::move(nodes);
    return index;
  }

  std::string_view src_;
  size_t merge_floor_ = 0;
  std::string label_;
  CompileState* state_;
};

}  // namespace

Result<CompiledTemplate> CompileTemplate(std::string_view source, const CompileOptions& options) {
  if (source.size() > options.limits.max_source_bytes) {
    return Status::InvalidArgument(fmt::format("{}: template is {} bytes, over the limit of {}",
                                               options.part_name, source.size(),
                                               options.limits.max_source_bytes));
  }
  auto program = std::make_unique<Program>();
  program->limits = options.limits;
  CompileState state{&options, program.get(), {}, 0};
  Parser parser(source, options.part_name, &state);
  Status s = parser.Parse(&program->main);
  if (!s.ok()) return s;
  return CompiledTemplate(std::move(program));
}

}  // namespace postino::templates
