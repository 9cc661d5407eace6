// reply_context.cc: what a recipient's reply says besides its words — the
// SMTP command it answered and the enhanced and basic codes that are the
// receiving server's own (see reply_context.h).
#include "inbound/returns/reply_context.h"

#include <algorithm>
#include <cctype>
#include <vector>

#include "inbound/returns/text_util.h"

namespace postino::inbound::returns {
namespace {

// Which of the DSN's Status field and the enhanced code in the reply text
// says more. The reply text is the receiving server's own word; the field
// is the reporting MTA's summary of it, often vaguer:
//  - when their classes differ, the one of the reply code's class;
//  - X.0.0 (class only) and X.Y.0 / X.0.Z (no detail) give way to a code
//    with a detail; a class-only code in the text never wins;
//  - codes that summarise rather than explain give way to the text's:
//    4.4.7 (gave up), 4.7.0, 5.3.x (mail system), X.5.1/X.5.2/X.5.4/X.5.5
//    (protocol trouble), 5.1.1 unless the text's is vaguer or a protocol
//    code, 5.1.3 before a 5.7.x policy code.
std::string PreferredStatus(const std::string& field, const std::string& text, int reply_code) {
  if (field.empty()) return text;
  if (text.empty() || field == text) return field;
  if (reply_code >= 200 && reply_code < 600 && field[0] != text[0]) {
    char cls = static_cast<char>('0' + reply_code / 100);
    if (cls == field[0]) return field;
    if (cls == text[0]) return text;
  }
  auto has = [](const std::string& s, std::string_view part) {
    return s.find(part) != std::string::npos;
  };
  bool field_class_only = field.substr(1) == ".0.0";
  bool text_class_only = text.substr(1) == ".0.0";
  if (field_class_only) return text_class_only ? field : text;
  if (has(field, ".0") && !has(text, ".0")) return text;
  if (text_class_only) return field;
  std::string_view sd = std::string_view(field).substr(1);  // ".5.1..."
  if (field == "4.4.7" || field == "4.7.0" || field.rfind("5.3.", 0) == 0 ||
      sd.rfind(".5.1", 0) == 0 || sd.rfind(".5.2", 0) == 0 || sd.rfind(".5.4", 0) == 0 ||
      sd.rfind(".5.5", 0) == 0)
    return text;
  if (field == "5.1.1") return (has(text, ".0") || text.rfind("5.5.", 0) == 0) ? field : text;
  if (field == "5.1.3" && text.rfind("5.7.", 0) == 0) return text;
  return field;
}

}  // namespace

// The reply code is the one of the status's class (a report that quotes
// its own "554 4.4.7 expired" around the server's "421 4.4.2 timed out"
// means the 421); without a status, the first failure code RFC 5321
// defines, else the first code. A code of another class than the status
// is not this recipient's reply.
void ResolveCodes(std::string_view diagnostic, std::string& status, int& reply_code) {
  std::vector<int> codes = FindReplyCodes(diagnostic);
  int first = codes.empty() ? 0 : codes.front();
  if (reply_code == 0) {
    for (int c : codes) {
      if (IsDefinedFailureReply(c)) {
        first = c;
        break;
      }
    }
  }
  status =
      PreferredStatus(status, FindTellingEnhancedCode(diagnostic), reply_code ? reply_code : first);
  if (reply_code != 0) return;
  if (status.empty()) {
    reply_code = first;
    return;
  }
  for (int c : codes) {
    if (c / 100 == status[0] - '0' && (c / 100 == 2 || IsDefinedFailureReply(c))) {
      reply_code = c;
      return;
    }
  }
}

// The SMTP command a reply text names in capitals as a word of its own
// ("did not like our RCPT TO:", "SMTP error ... after RCPT command",
// "most progress was RCPT TO response", "SMTP:RCPT host"): MTAs that say
// where the session failed write the command as it was sent. Of several,
// the latest in a session's order wins (DATA after RCPT after MAIL after
// HELO/EHLO); "" when none.
std::string CommandNamedIn(std::string_view text) {
  struct Word {
    std::string_view word, command;
  };
  static constexpr Word kWords[] = {
      {"HELO", "HELO"}, {"EHLO", "HELO"}, {"MAIL FROM", "MAIL"}, {"RCPT", "RCPT"}, {"DATA", "DATA"},
  };
  auto is_word_char = [](char ch) {
    return std::isalnum(static_cast<unsigned char>(ch)) || ch == '@' || ch == '_';
  };
  std::string found;
  for (const Word& w : kWords) {
    for (size_t at = text.find(w.word); at != std::string_view::npos;
         at = text.find(w.word, at + 1)) {
      size_t end = at + w.word.size();
      if (at > 0 && (is_word_char(text[at - 1]) || text[at - 1] == '.')) continue;
      if (end < text.size() && (is_word_char(text[end]) || text[end] == '.')) continue;
      // "(EHLO name)" is a quoted Received field, not the session.
      if (at > 0 && text[at - 1] == '(') continue;
      found = std::string(w.command);
      break;
    }
  }
  return found;
}

// The SMTP command a recipient's reply answered ("DATA", "MAIL", "RCPT",
// "CONN"), from the wording of Postfix ("in reply to end of DATA command"),
// Exim ("after end of data", "after MAIL FROM"), Sendmail transcripts
// (">>> DATA" before the "<<< 5xx" line) and similar; "" when not said.
std::string SmtpCommandFor(std::string_view region, std::string_view address,
                           std::string_view diagnostic) {
  auto from_phrases = [](std::string_view t) -> std::string {
    struct P {
      std::string_view phrase, command;
    };
    static constexpr P kPhrases[] = {
        {"in reply to end of data", "DATA"},
        {"in reply to data", "DATA"},
        {"after end of data", "DATA"},
        {"after data", "DATA"},
        {"smtp command data", "DATA"},
        {"[data]", "DATA"},
        {"in reply to mail from", "MAIL"},
        {"after mail from", "MAIL"},
        {"[mail_from]", "MAIL"},
        {"in reply to rcpt to", "RCPT"},
        {"after rcpt to", "RCPT"},
        {"[rcpt_to]", "RCPT"},
        {"after initial connection", "CONN"},
        {"in reply to helo", "HELO"},
        // Exchange Online quoting the next server's RCPT TO refusal.
        {"unknown recipient or mailbox unavailable ->", "RCPT"},
        {"in reply to ehlo", "HELO"},
        {"after helo", "HELO"},
        {"after ehlo", "HELO"},
        {"my name was rejected", "HELO"},
        // qmail-remote's own sentences for each phase.
        {"but greeting failed", "CONN"},
        {"but sender was rejected", "MAIL"},
        {"does not like recipient", "RCPT"},
        {"failed on data command", "DATA"},
        {"failed after i sent the message", "DATA"},
    };
    // One lower-cased copy, then plain (memchr-based) searches.
    std::string lower = ToLower(t);
    size_t best = std::string_view::npos;
    std::string command;
    for (const P& p : kPhrases) {
      size_t at = lower.find(p.phrase);
      if (at < best) {
        best = at;
        command = std::string(p.command);
      }
    }
    return command;
  };
  std::string c = from_phrases(UnfoldValue(diagnostic));
  if (!c.empty()) return c;
  c = CommandNamedIn(diagnostic);
  if (!c.empty()) return c;
  size_t at = address.empty() ? std::string_view::npos : FindIgnoreCase(region, address);
  if (at != std::string_view::npos) {
    c = from_phrases(UnfoldValue(region.substr(at, 1200)));
    if (!c.empty()) return c;
  }
  // Sendmail-style transcript: the last ">>> CMD" before the first "<<< 4/5xx"
  // after the recipient's mention.
  size_t from = at == std::string_view::npos ? 0 : at;
  size_t reply = std::string_view::npos;
  for (std::string_view marker : {"<<< 5", "<<< 4"})
    reply = std::min(reply, region.find(marker, from));
  if (reply != std::string_view::npos) {
    size_t cmd = region.rfind(">>> ", reply);
    if (cmd != std::string_view::npos) {
      std::string word = ToLower(region.substr(cmd + 4, 4));
      if (word == "data") return "DATA";
      if (word == "mail") return "MAIL";
      if (word == "rcpt") return "RCPT";
      if (word == "helo" || word == "ehlo") return "HELO";
    }
  }
  return {};
}

}  // namespace postino::inbound::returns
