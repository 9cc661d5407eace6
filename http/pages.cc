// pages.cc: the texts (English, Italian) and the HTML of the unsubscribe pages.
#include "http/pages.h"

#include <fmt/format.h>

#include <optional>

#include "common/strings.h"
#include "http/request.h"

namespace postino::http {
namespace {

struct Texts {
  const char* title;
  const char* confirm_heading;
  const char* confirm_body;       // {address}, {list}
  const char* confirm_body_nolist;
  const char* button;
  const char* done_heading;
  const char* done_body;          // {address}, {list}
  const char* done_body_nolist;
  const char* malformed_heading;
  const char* malformed_body;
  const char* unknown_heading;
  const char* unknown_body;
  const char* needs_body_heading;
  const char* needs_body_body;
  const char* unavailable_heading;
  const char* unavailable_body;
};

constexpr Texts kEnglish = {
    "Unsubscribe",
    "Unsubscribe?",
    "Do you want to stop receiving <strong>{list}</strong> at <strong>{address}</strong>?",
    "Do you want to stop receiving these emails at <strong>{address}</strong>?",
    "Unsubscribe",
    "You are unsubscribed",
    "<strong>{address}</strong> will not receive <strong>{list}</strong> any more.",
    "<strong>{address}</strong> will not receive these emails any more.",
    "This link is not valid",
    "The unsubscribe link is incomplete or was altered. Open it again from the email, "
    "or copy the whole link into the address bar.",
    "This link has expired",
    "We do not know this unsubscribe link any more. Use the unsubscribe link of a more "
    "recent email, or reply to it asking to be removed.",
    "Nothing was changed",
    "This request did not ask to unsubscribe. Use the button on the unsubscribe page.",
    "Please try again later",
    "The service is temporarily unavailable and nothing was changed. Please try again in a "
    "few minutes.",
};

constexpr Texts kItalian = {
    "Annulla iscrizione",
    "Annullare l&#39;iscrizione?",
    "Non vuoi pi&ugrave; ricevere <strong>{list}</strong> all&#39;indirizzo "
    "<strong>{address}</strong>?",
    "Non vuoi pi&ugrave; ricevere queste email all&#39;indirizzo <strong>{address}</strong>?",
    "Annulla l&#39;iscrizione",
    "Iscrizione annullata",
    "<strong>{address}</strong> non ricever&agrave; pi&ugrave; <strong>{list}</strong>.",
    "<strong>{address}</strong> non ricever&agrave; pi&ugrave; queste email.",
    "Questo link non &egrave; valido",
    "Il link per annullare l&#39;iscrizione &egrave; incompleto o &egrave; stato modificato. "
    "Aprilo di nuovo dall&#39;email, oppure copia il link intero nella barra degli indirizzi.",
    "Questo link &egrave; scaduto",
    "Questo link per annullare l&#39;iscrizione non &egrave; pi&ugrave; valido. Usa il link di "
    "un&#39;email pi&ugrave; recente, oppure rispondi chiedendo di essere rimosso.",
    "Nessuna modifica",
    "Questa richiesta non chiedeva di annullare l&#39;iscrizione. Usa il pulsante nella pagina "
    "di annullamento.",
    "Riprova pi&ugrave; tardi",
    "Il servizio non &egrave; disponibile al momento e nulla &egrave; stato modificato. "
    "Riprova tra qualche minuto.",
};

const Texts& TextsFor(Language l) { return l == Language::kIt ? kItalian : kEnglish; }

std::optional<Language> Supported(std::string_view tag) {
  std::string t = AsciiLower(Trim(tag));
  size_t cut = t.find_first_of("-_.@ ");
  std::string primary = t.substr(0, cut);
  if (primary == "it" || primary == "ita" || primary == "italian" || primary == "italiano") {
    return Language::kIt;
  }
  if (primary == "en" || primary == "eng" || primary == "english" || primary == "inglese") {
    return Language::kEn;
  }
  return std::nullopt;
}

std::string Fill(const char* text, const std::string& address, const std::string& list) {
  std::string out;
  std::string_view t(text);
  while (!t.empty()) {
    size_t open = t.find('{');
    if (open == std::string_view::npos) {
      out += t;
      break;
    }
    out += t.substr(0, open);
    t = t.substr(open);
    if (t.substr(0, 9) == "{address}") {
      out += HtmlEscape(address);
      t = t.substr(9);
    } else if (t.substr(0, 6) == "{list}") {
      out += HtmlEscape(list);
      t = t.substr(6);
    } else {
      out += '{';
      t = t.substr(1);
    }
  }
  return out;
}

constexpr const char* kStyle =
    "body{font-family:system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;background:#f4f4f5;"
    "color:#18181b;margin:0;padding:2rem 1rem}"
    "main{max-width:32rem;margin:3rem auto;background:#fff;border-radius:12px;padding:2rem;"
    "box-shadow:0 1px 3px rgba(0,0,0,.12)}"
    "h1{font-size:1.4rem;margin:0 0 1rem}p{line-height:1.5;overflow-wrap:anywhere}"
    "button{font-size:1rem;padding:.7rem 1.4rem;border:0;border-radius:8px;background:#b91c1c;"
    "color:#fff;cursor:pointer}button:focus{outline:3px solid #fca5a5}";

}  // namespace

std::string_view LanguageTag(Language l) { return l == Language::kIt ? "it" : "en"; }

Language PickLanguage(std::string_view attribute, std::string_view accept_language) {
  if (auto l = Supported(attribute)) return *l;
  for (const std::string& tag : AcceptLanguages(accept_language)) {
    if (auto l = Supported(tag)) return *l;
  }
  return Language::kEn;
}

std::string HtmlEscape(std::string_view s) {
  std::string out;
  out.reserve(s.size() + 16);
  for (char c : s) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&#39;"; break;
      default:
        if (static_cast<unsigned char>(c) < 0x20 && c != '\t' && c != '\n') break;
        if (c == 0x7f) break;
        out += c;
    }
  }
  return out;
}

std::string RenderPage(Page page, Language lang, const PageValues& v) {
  const Texts& t = TextsFor(lang);
  const char* heading = "";
  std::string body;
  switch (page) {
    case Page::kConfirm:
      heading = t.confirm_heading;
      body = "<p>" +
             Fill(v.list_name.empty() ? t.confirm_body_nolist : t.confirm_body, v.email,
                  v.list_name) +
             "</p>\n<form method=\"post\" action=\"" + HtmlEscape(v.form_action) +
             "\">\n<input type=\"hidden\" name=\"List-Unsubscribe\" value=\"One-Click\">\n"
             "<input type=\"hidden\" name=\"via\" value=\"page\">\n"
             "<button type=\"submit\" id=\"unsubscribe\">" +
             std::string(t.button) + "</button>\n</form>";
      break;
    case Page::kDone:
      heading = t.done_heading;
      body = "<p id=\"done\">" +
             Fill(v.list_name.empty() ? t.done_body_nolist : t.done_body, v.email, v.list_name) +
             "</p>";
      break;
    case Page::kMalformed:
      heading = t.malformed_heading;
      body = std::string("<p>") + t.malformed_body + "</p>";
      break;
    case Page::kUnknown:
      heading = t.unknown_heading;
      body = std::string("<p>") + t.unknown_body + "</p>";
      break;
    case Page::kNeedsBody:
      heading = t.needs_body_heading;
      body = std::string("<p>") + t.needs_body_body + "</p>";
      break;
    case Page::kUnavailable:
      heading = t.unavailable_heading;
      body = std::string("<p>") + t.unavailable_body + "</p>";
      break;
  }
  return fmt::format(
      "<!DOCTYPE html>\n<html lang=\"{}\">\n<head>\n<meta charset=\"utf-8\">\n"
      "<meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">\n"
      "<meta name=\"robots\" content=\"noindex,nofollow\">\n"
      "<title>{}</title>\n<style>{}</style>\n</head>\n<body>\n<main>\n<h1>{}</h1>\n{}\n"
      "</main>\n</body>\n</html>\n",
      LanguageTag(lang), t.title, kStyle, heading, body);
}

}  // namespace postino::http
