// mime_reader.cc: GMime 3 walk of a returned message (see mime_reader.h).
#include "inbound/returns/mime_reader.h"

#include <gmime/gmime.h>

#include <algorithm>
#include <cctype>
#include <mutex>

#include "inbound/returns/text_util.h"

namespace postino::inbound::returns {
namespace {

void InitGMime() {
  static std::once_flag once;
  std::call_once(once, [] { g_mime_init(); });
}

// GObject references released at scope end.
template <typename T>
struct Ref {
  T* p = nullptr;
  explicit Ref(T* ptr) : p(ptr) {}
  ~Ref() {
    if (p) g_object_unref(p);
  }
  Ref(const Ref&) = delete;
  Ref& operator=(const Ref&) = delete;
};

Fields HeaderFields(GMimeObject* obj) {
  Fields out;
  GMimeHeaderList* list = g_mime_object_get_header_list(obj);
  if (!list) return out;
  int n = std::min(g_mime_header_list_get_count(list), 512);
  for (int i = 0; i < n; ++i) {
    GMimeHeader* h = g_mime_header_list_get_header_at(list, i);
    const char* name = g_mime_header_get_name(h);
    const char* raw = g_mime_header_get_raw_value(h);
    if (!name) continue;
    // A header line is at most 998 bytes (RFC 5322); folded ones rarely
    // exceed a few KiB. Longer values are cut.
    std::string_view value = raw ? std::string_view(raw) : std::string_view();
    out.emplace_back(name, UnfoldValue(value.substr(0, std::min<size_t>(value.size(), 16384))));
  }
  return out;
}

bool IsType(GMimeContentType* ct, const char* type, const char* sub) {
  return ct && g_mime_content_type_is_type(ct, type, sub);
}

// The decoded content of a leaf part, converted to UTF-8 when it names
// another charset. At most `cap` bytes.
std::string PartContent(GMimePart* part, size_t cap) {
  GMimeDataWrapper* wrapper = g_mime_part_get_content(part);
  if (!wrapper) return {};
  Ref<GMimeStream> mem(g_mime_stream_mem_new());
  Ref<GMimeStream> filtered(g_mime_stream_filter_new(mem.p));
  const char* charset =
      g_mime_object_get_content_type_parameter(GMIME_OBJECT(part), "charset");
  if (charset && g_ascii_strcasecmp(charset, "us-ascii") != 0 &&
      g_ascii_strcasecmp(charset, "utf-8") != 0) {
    GMimeFilter* conv = g_mime_filter_charset_new(charset, "utf-8");
    if (conv) {
      g_mime_stream_filter_add(GMIME_STREAM_FILTER(filtered.p), conv);
      g_object_unref(conv);
    }
  }
  g_mime_data_wrapper_write_to_stream(wrapper, filtered.p);
  g_mime_stream_flush(filtered.p);
  GByteArray* arr = g_mime_stream_mem_get_byte_array(GMIME_STREAM_MEM(mem.p));
  if (!arr) return {};
  return std::string(reinterpret_cast<const char*>(arr->data), std::min<size_t>(arr->len, cap));
}

// The body of an object written out as text (for message/* types GMime keeps
// as a message part, e.g. some delivery-status parts).
std::string ObjectBody(GMimeObject* obj, size_t cap) {
  Ref<GMimeStream> mem(g_mime_stream_mem_new());
  g_mime_object_write_content_to_stream(obj, nullptr, mem.p);
  GByteArray* arr = g_mime_stream_mem_get_byte_array(GMIME_STREAM_MEM(mem.p));
  if (!arr) return {};
  return std::string(reinterpret_cast<const char*>(arr->data), std::min<size_t>(arr->len, cap));
}

// Whether a text starts with a message header: its first lines are all
// "Name: value" fields (or their folded continuations), at least three of
// them, one a field every message has (Received, Date, From, To,
// Message-ID, Subject, Return-Path).
bool LooksLikeHeaderBlock(std::string_view text) {
  size_t pos = 0, fields = 0;
  bool known = false;
  while (pos < text.size() && fields < 64) {
    size_t end = text.find('\n', pos);
    if (end == std::string_view::npos) end = text.size();
    std::string_view line = text.substr(pos, end - pos);
    pos = end + 1;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.empty()) {
      if (fields == 0) continue;
      break;
    }
    if (line.front() == ' ' || line.front() == '\t') {
      if (fields == 0) return false;
      continue;
    }
    size_t colon = line.find(':');
    if (colon == std::string_view::npos || colon == 0 || colon > 76) return false;
    std::string_view name = line.substr(0, colon);
    for (char ch : name) {
      if (!std::isalnum(static_cast<unsigned char>(ch)) && ch != '-' && ch != '_') return false;
    }
    for (std::string_view k : {"received", "date", "from", "to", "message-id", "subject", "return-path"}) {
      if (EqualsIgnoreCase(name, k)) known = true;
    }
    ++fields;
  }
  return fields >= 3 && known;
}

class Walker {
 public:
  Walker(const MimeLimits& limits, ReturnedMessage& out) : limits_(limits), out_(out) {}

  void Walk(GMimeObject* obj, int depth) {
    if (!obj) return;
    if (depth > limits_.max_depth || ++parts_ > limits_.max_parts) {
      out_.truncated = true;
      return;
    }
    GMimeContentType* ct = g_mime_object_get_content_type(obj);
    if (GMIME_IS_MULTIPART(obj)) {
      GMimeMultipart* mp = GMIME_MULTIPART(obj);
      int n = g_mime_multipart_get_count(mp);
      for (int i = 0; i < n; ++i) Walk(g_mime_multipart_get_part(mp, i), depth + 1);
      return;
    }
    if (IsType(ct, "message", "delivery-status") || IsType(ct, "message", "global-delivery-status")) {
      std::string body = GMIME_IS_PART(obj) ? PartContent(GMIME_PART(obj), limits_.max_bytes)
                                            : ObjectBody(obj, limits_.max_bytes);
      for (Fields& f : ParseFieldBlocks(body)) out_.delivery_status.push_back(std::move(f));
      return;
    }
    if (IsType(ct, "message", "feedback-report")) {
      std::string body = GMIME_IS_PART(obj) ? PartContent(GMIME_PART(obj), limits_.max_bytes)
                                            : ObjectBody(obj, limits_.max_bytes);
      std::vector<Fields> blocks = ParseFieldBlocks(body, 4);
      if (!out_.has_feedback_report && !blocks.empty()) {
        out_.feedback_report = std::move(blocks.front());
        out_.has_feedback_report = true;
      }
      return;
    }
    if (IsType(ct, "text", "rfc822-headers") || IsType(ct, "message", "rfc822-headers")) {
      std::string body = GMIME_IS_PART(obj) ? PartContent(GMIME_PART(obj), limits_.max_bytes)
                                            : ObjectBody(obj, limits_.max_bytes);
      std::vector<Fields> blocks = ParseFieldBlocks(body, 1);
      if (!out_.has_original && !blocks.empty()) {
        out_.original_headers = std::move(blocks.front());
        out_.has_original = true;
      }
      return;
    }
    if (GMIME_IS_MESSAGE_PART(obj)) {
      GMimeMessage* inner = g_mime_message_part_get_message(GMIME_MESSAGE_PART(obj));
      // A delivery report forwarded as an attachment (a gateway or a user
      // passing the bounce on): read the report inside it.
      GMimeObject* inner_body = inner ? g_mime_message_get_mime_part(inner) : nullptr;
      if (inner_body && out_.delivery_status.empty() &&
          IsType(g_mime_object_get_content_type(inner_body), "multipart", "report")) {
        Walk(inner_body, depth + 1);
        return;
      }
      if (inner && !out_.has_original) {
        out_.original_headers = HeaderFields(GMIME_OBJECT(inner));
        out_.has_original = true;
      }
      return;
    }
    if (!GMIME_IS_PART(obj)) return;
    // Attachments other than text, and the original message's text, are not
    // what the reporting server wrote.
    if (IsType(ct, "text", "plain") || IsType(ct, "text", "html") || IsType(ct, "text", "*") ||
        IsType(ct, "application", "json")) {
      const char* disp = g_mime_object_get_disposition(obj);
      if (disp && g_ascii_strcasecmp(disp, "attachment") == 0 && !IsType(ct, "text", "plain") &&
          !IsType(ct, "application", "json"))
        return;
      std::string body = PartContent(GMIME_PART(obj), limits_.max_bytes);
      // A text attachment that is a header block ("mailheaders.txt": the
      // returned original's header sent as text/plain) is the original,
      // not the reporting server's words.
      if (disp && g_ascii_strcasecmp(disp, "attachment") == 0 && IsType(ct, "text", "plain") &&
          LooksLikeHeaderBlock(body)) {
        if (!out_.has_original) {
          std::vector<Fields> blocks = ParseFieldBlocks(body, 1);
          if (!blocks.empty()) {
            out_.original_headers = std::move(blocks.front());
            out_.has_original = true;
          }
        }
        return;
      }
      if (IsType(ct, "text", "html")) body = StripHtml(body);
      if (!out_.text.empty()) out_.text += "\n";
      out_.text += body;
    }
  }

 private:
  const MimeLimits& limits_;
  ReturnedMessage& out_;
  int parts_ = 0;
};

}  // namespace

std::string_view FieldValue(const Fields& fields, std::string_view name) {
  for (const auto& [n, v] : fields)
    if (EqualsIgnoreCase(n, name)) return v;
  return {};
}

std::vector<Fields> ParseFieldBlocks(std::string_view text, size_t max_blocks) {
  std::vector<Fields> blocks;
  Fields current;
  size_t pos = 0;
  while (pos < text.size()) {
    size_t end = text.find('\n', pos);
    if (end == std::string_view::npos) end = text.size();
    std::string_view line = text.substr(pos, end - pos);
    pos = end + 1;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (TrimView(line).empty()) {
      if (!current.empty()) {
        if (blocks.size() >= max_blocks) return blocks;
        blocks.push_back(std::move(current));
        current.clear();
      }
      continue;
    }
    if ((line[0] == ' ' || line[0] == '\t') && !current.empty()) {
      std::string& v = current.back().second;
      if (v.size() < 8192) {
        v += ' ';
        v += TrimView(line);
      }
      continue;
    }
    size_t colon = line.find(':');
    std::string_view name =
        colon == std::string_view::npos ? std::string_view() : TrimView(line.substr(0, colon));
    if (colon == std::string_view::npos || colon == 0 || colon > 76 || name.find(' ') != std::string_view::npos) {
      // An unfolded continuation of a multi-line reply quoted in
      // Diagnostic-Code ("550-... \n550 relay through ..."): a line that is
      // no field and starts with a reply code belongs to the reply.
      if (!current.empty() && EqualsIgnoreCase(current.back().first, "Diagnostic-Code") && line.size() > 4 &&
          (line[0] == '4' || line[0] == '5') && std::isdigit(static_cast<unsigned char>(line[1])) &&
          std::isdigit(static_cast<unsigned char>(line[2])) && (line[3] == '-' || line[3] == ' ')) {
        std::string& v = current.back().second;
        if (v.size() < 8192) {
          v += ' ';
          v += TrimView(line);
        }
      }
      continue;
    }
    if (current.size() < 512)
      current.emplace_back(std::string(name), std::string(TrimView(line.substr(colon + 1))));
  }
  if (!current.empty() && blocks.size() < max_blocks) blocks.push_back(std::move(current));
  return blocks;
}

ReturnedMessage ReadReturnedMessage(std::string_view bytes, const MimeLimits& limits) {
  InitGMime();
  ReturnedMessage out;
  if (bytes.size() > limits.max_bytes) {
    bytes = bytes.substr(0, limits.max_bytes);
    out.truncated = true;
  }
  // An mbox "From " line (and stray blank lines) before the header.
  while (!bytes.empty() && (bytes[0] == '\n' || bytes[0] == '\r')) bytes.remove_prefix(1);
  if (bytes.substr(0, 5) == "From ") {
    size_t nl = bytes.find('\n');
    bytes = nl == std::string_view::npos ? std::string_view() : bytes.substr(nl + 1);
  }
  // Bound GMime's recursion: nesting can only come from multipart or
  // message/* parts, so cut the input after too many of those headers.
  bytes = bytes.substr(0, CutAfterNestingHeaders(bytes, limits.max_parts, &out.truncated));

  Ref<GMimeStream> stream(g_mime_stream_mem_new_with_buffer(bytes.data(), bytes.size()));
  Ref<GMimeParser> parser(g_mime_parser_new_with_stream(stream.p));
  g_mime_parser_set_format(parser.p, GMIME_FORMAT_MESSAGE);
  Ref<GMimeMessage> message(g_mime_parser_construct_message(parser.p, nullptr));
  if (!message.p) {
    // Not even a header: keep the bytes as text so the text rules still run.
    out.text = std::string(bytes);
    return out;
  }
  GMimeObject* top = GMIME_OBJECT(message.p);
  out.headers = HeaderFields(top);
  GMimeObject* body = g_mime_message_get_mime_part(message.p);
  if (body) {
    GMimeContentType* ct = g_mime_object_get_content_type(body);
    if (ct) {
      const char* type = g_mime_content_type_get_media_type(ct);
      const char* sub = g_mime_content_type_get_media_subtype(ct);
      out.content_type = ToLower(std::string(type ? type : "") + "/" + (sub ? sub : ""));
      const char* rt = g_mime_content_type_get_parameter(ct, "report-type");
      if (rt) out.report_type = ToLower(rt);
    }
    Walker(limits, out).Walk(body, 0);
  }
  // A multipart whose boundary never occurs (a broken or edited report)
  // yields no part: keep the raw body as text so the text rules still run.
  if (out.text.empty() && out.delivery_status.empty() && !out.has_feedback_report) {
    size_t sep = bytes.find("\n\n");
    size_t crlf = bytes.find("\r\n\r\n");
    size_t start = std::min(sep == std::string_view::npos ? bytes.size() : sep + 2,
                            crlf == std::string_view::npos ? bytes.size() : crlf + 4);
    out.text = std::string(bytes.substr(start));
  }
  return out;
}

}  // namespace postino::inbound::returns
