// template_render.cc: renders a compiled template against a stack of JSON
// context frames. No parsing happens here; misses and filter failures are
// counted in RenderStats, never fatal.
#include <fmt/format.h>

#include <algorithm>
#include <charconv>

#include "templates/filters.h"
#include "templates/template.h"
#include "templates/template_internal.h"

namespace postino::templates {

void RenderStats::Add(const RenderStats& other) {
  missing_values += other.missing_values;
  missing_sections += other.missing_sections;
  defaults_used += other.defaults_used;
  filter_errors += other.filter_errors;
  depth_limit_hits += other.depth_limit_hits;
  header_chars_neutralized += other.header_chars_neutralized;
  for (const auto& name : other.missing_names) {
    if (missing_names.size() >= kMaxMissingNames) break;
    if (std::find(missing_names.begin(), missing_names.end(), name) == missing_names.end()) {
      missing_names.push_back(name);
    }
  }
}

void AppendHtmlEscaped(std::string_view in, std::string* out) {
  size_t start = 0;
  for (size_t i = 0; i < in.size(); ++i) {
    std::string_view rep;
    switch (in[i]) {
      case '&':
        rep = "&amp;";
        break;
      case '<':
        rep = "&lt;";
        break;
      case '>':
        rep = "&gt;";
        break;
      case '"':
        rep = "&quot;";
        break;
      case '\'':
        rep = "&#39;";
        break;
      default:
        continue;
    }
    out->append(in.data() + start, i - start);
    out->append(rep);
    start = i + 1;
  }
  out->append(in.data() + start, in.size() - start);
}

namespace {

using Json = nlohmann::json;

bool Truthy(const Json& v) {
  switch (v.type()) {
    case Json::value_t::null:
    case Json::value_t::discarded:
      return false;
    case Json::value_t::boolean:
      return v.get<bool>();
    case Json::value_t::array:
      return !v.empty();
    case Json::value_t::string:
      return !v.get_ref<const std::string&>().empty();
    default:
      return true;
  }
}

// Appends the scalar text of v (strings as they are, numbers as JSON writes
// them, booleans as true/false; null, objects and arrays as nothing).
void AppendScalar(const Json& v, std::string* out) {
  switch (v.type()) {
    case Json::value_t::string:
      out->append(v.get_ref<const std::string&>());
      break;
    case Json::value_t::number_integer:
    case Json::value_t::number_unsigned: {
      char buf[24];
      auto r = v.is_number_unsigned() ? std::to_chars(buf, buf + sizeof buf, v.get<uint64_t>())
                                      : std::to_chars(buf, buf + sizeof buf, v.get<int64_t>());
      out->append(buf, r.ptr);
      break;
    }
    case Json::value_t::number_float:
      out->append(v.dump());
      break;
    case Json::value_t::boolean:
      out->append(v.get<bool>() ? "true" : "false");
      break;
    default:
      break;
  }
}

class Renderer {
 public:
  Renderer(const Program& program, const RenderOptions& options, std::string* out,
           RenderStats* stats)
      : program_(program), options_(options), out_(out), stats_(stats), limit_(out->size()) {
    limit_ += options.max_output_bytes;
  }

  Status Run(std::span<const Json* const> roots) {
    stack_.reserve(roots.size() + 8);
    for (const Json* root : roots) {
      if (root != nullptr) stack_.push_back(root);
    }
    Render(program_.main, 0, program_.main.size());
    if (overflow_) {
      return Status::InvalidArgument(
          steps_ > options_.max_steps
              ? fmt::format("rendering took more than {} steps (runaway recursion?); stopped",
                            options_.max_steps)
              : fmt::format("rendered output exceeds {} bytes; rendering stopped",
                            options_.max_output_bytes));
    }
    return Status::Ok();
  }

 private:
  const Json* Lookup(const Node& node) const {
    if (node.path.empty()) return stack_.empty() ? nullptr : stack_.back();
    const Json* cur = nullptr;
    const std::string& first = node.path[0];
    for (size_t i = stack_.size(); i-- > 0;) {
      const Json* frame = stack_[i];
      if (!frame->is_object()) continue;
      auto it = frame->find(first);
      if (it != frame->end()) {
        cur = &*it;
        break;
      }
    }
    for (size_t k = 1; cur != nullptr && k < node.path.size(); ++k) {
      if (!cur->is_object()) return nullptr;
      auto it = cur->find(node.path[k]);
      cur = it == cur->end() ? nullptr : &*it;
    }
    return cur;
  }

  void NoteMissing(const Node& node) {
    auto& names = stats_->missing_names;
    if (names.size() < RenderStats::kMaxMissingNames &&
        std::find(names.begin(), names.end(), node.text) == names.end()) {
      names.push_back(node.text);
    }
  }

  void Emit(std::string_view text, bool escape) {
    if (escape) {
      AppendHtmlEscaped(text, out_);
    } else {
      out_->append(text);
    }
  }

  void Interpolate(const Node& node) {
    const Json* v = Lookup(node);
    bool escape = node.escape && options_.html_escape;
    if (node.filters.empty()) {
      if (v == nullptr) {
        ++stats_->missing_values;
        NoteMissing(node);
        return;
      }
      if (v->is_string()) {
        Emit(v->get_ref<const std::string&>(), escape);
      } else {
        scratch_.clear();
        AppendScalar(*v, &scratch_);
        Emit(scratch_, escape);
      }
      return;
    }
    std::string value;
    bool present = false;
    if (v != nullptr) {
      AppendScalar(*v, &value);
      present = !v->is_null();
    }
    std::string next;
    for (const Filter& f : node.filters) {
      switch (f.kind) {
        case FilterKind::kDefault:
          if (!present || value.empty()) {
            value = f.arg;
            present = true;
            ++stats_->defaults_used;
          }
          continue;
        case FilterKind::kUpper:
          next.clear();
          AppendUpper(value, &next);
          break;
        case FilterKind::kLower:
          next.clear();
          AppendLower(value, &next);
          break;
        case FilterKind::kCapitalize:
          next.clear();
          AppendCapitalized(value, &next);
          break;
        case FilterKind::kDate:
          if (!present || value.empty()) continue;
          next.clear();
          if (!AppendFormattedDate(value, f.arg, &next)) {
            ++stats_->filter_errors;
            continue;
          }
          break;
      }
      value.swap(next);
    }
    if (!present && v == nullptr) {
      ++stats_->missing_values;
      NoteMissing(node);
      return;
    }
    Emit(value, escape);
  }

  void Render(const std::vector<Node>& nodes, size_t begin, size_t end) {
    for (size_t i = begin; i < end && !overflow_; ++i) {
      const Node& node = nodes[i];
      switch (node.kind) {
        case NodeKind::kText:
          out_->append(node.text);
          break;
        case NodeKind::kVariable:
          Interpolate(node);
          break;
        case NodeKind::kSection: {
          const Json* v = Lookup(node);
          if (v == nullptr) {
            ++stats_->missing_sections;
          } else if (v->is_array()) {
            for (const Json& item : *v) {
              if (overflow_) break;
              stack_.push_back(&item);
              Render(nodes, i + 1, node.end);
              stack_.pop_back();
            }
          } else if (Truthy(*v)) {
            stack_.push_back(v);
            Render(nodes, i + 1, node.end);
            stack_.pop_back();
          }
          i = node.end - 1;
          break;
        }
        case NodeKind::kInverted: {
          const Json* v = Lookup(node);
          if (v == nullptr) ++stats_->missing_sections;
          if (v == nullptr || !Truthy(*v)) Render(nodes, i + 1, node.end);
          i = node.end - 1;
          break;
        }
        case NodeKind::kPartial:
          if (node.partial < 0) break;
          if (partial_depth_ >= program_.limits.max_partial_depth) {
            ++stats_->depth_limit_hits;
            break;
          }
          ++partial_depth_;
          {
            const auto& body = program_.partials[node.partial];
            Render(body, 0, body.size());
          }
          --partial_depth_;
          break;
      }
      if (out_->size() > limit_ || ++steps_ > options_.max_steps) overflow_ = true;
    }
  }

  const Program& program_;
  const RenderOptions& options_;
  std::string* out_;
  RenderStats* stats_;
  size_t limit_;
  std::vector<const Json*> stack_;
  std::string scratch_;
  int partial_depth_ = 0;
  uint64_t steps_ = 0;
  bool overflow_ = false;
};

}  // namespace

CompiledTemplate::CompiledTemplate(std::unique_ptr<Program> program)
    : program_(std::move(program)) {}
CompiledTemplate::CompiledTemplate(CompiledTemplate&&) noexcept = default;
CompiledTemplate& CompiledTemplate::operator=(CompiledTemplate&&) noexcept = default;
CompiledTemplate::~CompiledTemplate() = default;

Status CompiledTemplate::Render(std::span<const nlohmann::json* const> roots,
                                const RenderOptions& options, std::string* out,
                                RenderStats* stats) const {
  Renderer renderer(*program_, options, out, stats);
  return renderer.Run(roots);
}

Status CompiledTemplate::RenderRoot(const nlohmann::json& root, const RenderOptions& options,
                                    std::string* out, RenderStats* stats) const {
  const nlohmann::json* roots[] = {&root};
  return Render(std::span<const nlohmann::json* const>(roots), options, out, stats);
}

const std::vector<std::string>& CompiledTemplate::referenced_names() const {
  return program_->referenced;
}

}  // namespace postino::templates
