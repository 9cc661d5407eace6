// capabilities.h: the EHLO reply (RFC 5321 §4.1.1.1) turned into the
// Capabilities the client understands. Keywords are case-insensitive.
#pragma once

#include "engine/smtp/client_session.h"
#include "engine/smtp/reply.h"

namespace postino::smtp {

// Reads the keywords of a positive EHLO reply; the first line is the
// server's greeting and is skipped. Unknown keywords and malformed
// parameters (e.g. "SIZE abc") are ignored. Sets esmtp = true.
Capabilities ParseCapabilities(const Reply& ehlo_reply);

}  // namespace postino::smtp
