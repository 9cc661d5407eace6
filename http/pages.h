// pages.h: the unsubscribe pages a person sees (confirm, done, errors), as
// small self-contained HTML documents (inline style, no external assets,
// no script) in English or Italian. Every value shown is HTML-escaped.
#pragma once

#include <string>
#include <string_view>

namespace postino::http {

enum class Language { kEn, kIt };
std::string_view LanguageTag(Language l);  // "en", "it"

// The page's language: the subscriber's attribute (language/lang/locale,
// e.g. "it", "it-IT", "it_IT", "Italiano") when it names a supported one,
// else the first supported Accept-Language, else English.
Language PickLanguage(std::string_view attribute, std::string_view accept_language);

// &, <, >, " and ' escaped; control characters other than tab/newline dropped.
std::string HtmlEscape(std::string_view s);

enum class Page {
  kConfirm,      // GET with a valid token: one button (a POST form)
  kDone,         // unsubscribed now, or already
  kMalformed,    // the link is cut or altered (400)
  kUnknown,      // no such recipient: forged, or the campaign was deleted (404)
  kNeedsBody,    // a POST without List-Unsubscribe=One-Click (400)
  kUnavailable,  // the database is unreachable (503)
};

struct PageValues {
  std::string email;        // shown on confirm/done
  std::string list_name;    // shown on confirm/done ("" = not shown)
  std::string form_action;  // the confirm form's action URL
};

std::string RenderPage(Page page, Language lang, const PageValues& values);

}  // namespace postino::http
