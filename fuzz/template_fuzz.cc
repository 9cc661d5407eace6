// template_fuzz.cc: compiles arbitrary bytes as a template (with partials,
// some of them recursive) and renders them against a fixed context, then
// pushes the output through the header and quoted-printable encoders and
// checks their wire-format invariants.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <nlohmann/json.hpp>
#include <string>

#include "templates/mime_encoding.h"
#include "templates/template.h"

namespace {

using postino::templates::CompileOptions;
using postino::templates::CompileTemplate;
using postino::templates::RenderOptions;
using postino::templates::RenderStats;

const nlohmann::json& Context() {
  static const nlohmann::json* context = new nlohmann::json(nlohmann::json::parse(R"({
    "first_name": "Élodie", "name": "<b>&\"'", "n": 42, "f": 1.5, "t": true, "z": null,
    "empty": "", "date": "2024-03-05T10:20:30Z",
    "city": {"name": "torino", "zip": "10100"},
    "items": [{"name": "a", "price": 1}, {"name": "b", "items": [1, 2, 3]}, "x", 7],
    "nested": {"a": {"b": {"c": "deep"}}},
    "crlf": "x\r\nBcc: victim@evil\u0000"
  })"));
  return *context;
}

// Wire-format rules for what the encoders produce.
void CheckLines(const std::string& s, size_t max_line) {
  size_t line = 0;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\0') abort();
    if (s[i] == '\r') {
      if (i + 1 >= s.size() || s[i + 1] != '\n') abort();
      if (line > max_line) abort();
      line = 0;
      ++i;
      continue;
    }
    if (s[i] == '\n') abort();
    ++line;
  }
  if (line > max_line) abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string source(reinterpret_cast<const char*>(data), size);
  CompileOptions options;
  options.part_name = "fuzz";
  options.partials["p"] = "[{{name}}{{#items}}{{>p}}{{/items}}]";
  options.partials["self"] = "{{>self}}";
  options.partials["line"] = "a\n  {{>line}}\n";
  options.partials["fuzz"] = source.substr(0, 64);
  auto tpl = CompileTemplate(source, options);
  if (!tpl.ok()) return 0;
  std::string out;
  RenderStats stats;
  RenderOptions render{
      .html_escape = (size & 1) != 0, .max_output_bytes = 64 << 10, .max_steps = 20000};
  (void)tpl->RenderRoot(Context(), render, &out, &stats);
  if (out.size() > (64u << 10) + (1u << 16) + options.limits.max_source_bytes) abort();

  std::string header = out.substr(0, 2000);
  postino::templates::NeutralizeHeaderText(&header);
  std::string encoded;
  postino::templates::AppendUnstructuredHeader("Subject", header, &encoded);
  // 78 columns is a SHOULD (RFC 5322 §2.1.1): a word longer than that with no
  // white space before column 78 cannot be folded. 998 is the MUST.
  CheckLines(encoded, 998);
  std::string qp;
  postino::templates::AppendQuotedPrintable(out, &qp);
  CheckLines(qp, 76);
  return 0;
}
