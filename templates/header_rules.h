// header_rules.h: which extra headers a campaign may add (`campaign create
// --header`, settings.headers) — the one check used at create, at launch and
// by the renderer, so a header refused at run time is refused at create.
#pragma once

#include <string_view>

#include "common/status.h"

namespace postino::templates {

// Longest value accepted for an extra header, in octets (before encoding).
inline constexpr size_t kMaxExtraHeaderValue = 900;

// Ok, or kInvalidArgument saying what is wrong, when:
// - `name` is not a field name (RFC 5322 §3.6.8 ftext: printable ASCII but
//   ':' and space, at most 76 characters);
// - `name` is a header postino writes itself or one that changes where the
//   message goes or who it claims to be from: From, Sender, Reply-To, To, Cc,
//   Bcc, Subject, Date, Message-ID, Return-Path, Received, DKIM-Signature,
//   MIME-Version, Content-*, List-Id, List-Unsubscribe*, Precedence,
//   Feedback-ID (case-insensitive);
// - `value` holds CR, LF, NUL or another control character but TAB, is not
//   valid UTF-8, or is longer than kMaxExtraHeaderValue.
Status ValidateExtraHeader(std::string_view name, std::string_view value);

}  // namespace postino::templates
