// headers.h: the trace and identity headers a submission server adds
// (RFC 6409 §8): a Received line on accept (RFC 5321 §4.4), and Message-ID
// and Date when the client left them out (RFC 5322 §3.6).
#pragma once

#include <string>
#include <string_view>

#include "common/clock.h"
#include "inbound/listener.h"

namespace postino::inbound {

struct AddedHeaders {
  std::string bytes;       // the message with the headers prepended
  std::string message_id;  // the message's Message-ID, without <> ("" when unparseable)
};

// `id` is the queue id shown in the Received line. `rcpt` is named in a
// "for" clause when the message has exactly one recipient.
AddedHeaders AddSubmissionHeaders(std::string_view message, const SessionInfo& session,
                                  const Envelope& env, std::string_view hostname,
                                  std::string_view id, WallTime now);

// "Wed, 02 Dec 2026 09:15:00 +0000".
std::string Rfc5322Date(WallTime t);

}  // namespace postino::inbound
