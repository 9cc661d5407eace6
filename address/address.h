// address.h: mail address validation and normalisation (RFC 5321 §4.1.2
// syntax, IDNA domains via libidn2). Used by list import, the message
// builder and the engine.
#pragma once

#include <string>
#include <string_view>

#include "common/status.h"

namespace postino::address {

struct MailAddress {
  std::string local;   // as given (case preserved: local parts are case-sensitive)
  std::string domain;  // lowercase A-label (ASCII) form: "xn--mnchen-3ya.de"
  bool utf8_local = false;  // local part has non-ASCII octets: needs SMTPUTF8

  // "local@domain" with the ASCII domain.
  std::string ToString() const { return local + "@" + domain; }
};

// Parses and validates one bare address ("user@example.com"). Surrounding
// white space is ignored. The domain is converted to its A-label form and
// lowercased. Address literals ("user@[192.0.2.1]") are refused: bulk mail
// goes to named domains. Errors say what is wrong in plain words.
Result<MailAddress> ParseAddress(std::string_view input);

struct NameAddr {
  std::string display_name;  // UTF-8, unquoted; may be empty
  MailAddress address;
};

// Parses "Display Name <user@example.com>", "\"Quoted, Name\" <a@b>" or a
// bare address.
Result<NameAddr> ParseNameAddr(std::string_view input);

// Converts a UTF-8 domain to lowercase A-labels; error when not a valid
// host name (RFC 1035 letters, digits, hyphen; labels 1..63; total <= 253).
Result<std::string> DomainToAscii(std::string_view domain);

}  // namespace postino::address
