// template.h: the postino template language (Mustache plus filters and
// defaults). A template is compiled once into a CompiledTemplate, which is
// immutable and may be rendered concurrently from any number of threads, one
// recipient at a time, without re-parsing. See docs/templates.md.
//
//   CompileOptions options;
//   options.part_name = "html";
//   auto tpl = postino::templates::CompileTemplate(source, options);
//   if (!tpl.ok()) return tpl.status();     // "html:12:5: unclosed section ..."
//   std::string out;
//   postino::templates::RenderStats stats;
//   const nlohmann::json* frames[] = {&recipient_attributes, &builtins};
//   Status s = tpl->Render(frames, {.html_escape = true}, &out, &stats);
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace postino::templates {

// Limits that keep hostile templates and data bounded.
struct TemplateLimits {
  // Section nesting depth accepted at compile time.
  int max_nesting = 64;
  // Partial expansion depth at render time (recursive partials stop here and
  // the hit is counted in RenderStats::depth_limit_hits).
  int max_partial_depth = 32;
  // Distinct (partial, indentation) variants compiled for one template.
  int max_partial_variants = 256;
  // Template source size accepted by CompileTemplate.
  size_t max_source_bytes = 4u << 20;
};

struct CompileOptions {
  // Used as the prefix of error messages: "<part_name>:<line>:<col>: ...".
  std::string part_name = "template";
  // Named partials ({{> name}}). A partial absent from this map renders as
  // nothing, as the Mustache spec requires.
  std::map<std::string, std::string, std::less<>> partials;
  TemplateLimits limits;
};

struct RenderOptions {
  // Escape & < > " ' in {{name}} interpolations (HTML part). {{{name}}} and
  // {{& name}} are never escaped. Off for the text part and the subject.
  bool html_escape = true;
  // Rendering stops with an error once the output grows past this size.
  size_t max_output_bytes = 8u << 20;
  // ...or once it has visited this many nodes (bounds recursive partials
  // over lists that produce little output but exponential work).
  uint64_t max_steps = 4u << 20;
};

// What a render met. Everything here is counted, never fatal.
struct RenderStats {
  // {{name}} interpolations whose name resolved to nothing (rendered empty,
  // no default filter).
  uint32_t missing_values = 0;
  // Sections/inverted sections whose name resolved to nothing.
  uint32_t missing_sections = 0;
  // Interpolations where `default:` supplied the value.
  uint32_t defaults_used = 0;
  // Filters that could not apply (e.g. `date` on a value that is no ISO-8601
  // date); the value passed through unchanged.
  uint32_t filter_errors = 0;
  // Partial expansions cut by TemplateLimits::max_partial_depth.
  uint32_t depth_limit_hits = 0;
  // Characters replaced or removed from header values (CR, LF, NUL, other
  // controls) by the message builder.
  uint32_t header_chars_neutralized = 0;
  // The first few distinct missing names, for previews and logs.
  std::vector<std::string> missing_names;
  static constexpr size_t kMaxMissingNames = 16;

  void Add(const RenderStats& other);
};

struct Node;     // defined in template_internal.h
struct Program;  // compiled node lists of the template and its partials

class CompiledTemplate {
 public:
  CompiledTemplate(CompiledTemplate&&) noexcept;
  CompiledTemplate& operator=(CompiledTemplate&&) noexcept;
  ~CompiledTemplate();

  // Renders with a context stack whose bottom-most frames are `roots`
  // (looked up from the LAST element to the first, so put the frames that
  // must win — e.g. built-ins — last). Appends to *out. Returns an error only
  // when RenderOptions::max_output_bytes is exceeded (out then holds a
  // truncated render), or RenderOptions::max_steps. Missing names etc. are
  // counted in *stats.
  Status Render(std::span<const nlohmann::json* const> roots, const RenderOptions& options,
                std::string* out, RenderStats* stats) const;

  // Convenience: one root frame.
  Status RenderRoot(const nlohmann::json& root, const RenderOptions& options, std::string* out,
                    RenderStats* stats) const;

  // The names this template interpolates or tests (first path segment),
  // e.g. for `template add` to list the attributes a template needs.
  const std::vector<std::string>& referenced_names() const;

 private:
  friend Result<CompiledTemplate> CompileTemplate(std::string_view, const CompileOptions&);
  explicit CompiledTemplate(std::unique_ptr<Program> program);
  std::unique_ptr<Program> program_;
};

// Parses `source`. Errors name the part, line and column:
//   "html:12:5: unclosed section \"items\" (opened here)".
Result<CompiledTemplate> CompileTemplate(std::string_view source,
                                         const CompileOptions& options = {});

// HTML-escapes `in` (& < > " ') and appends it to *out.
void AppendHtmlEscaped(std::string_view in, std::string* out);

}  // namespace postino::templates
