// mailbox.h: the messages of a path given to `postino bounces parse|import`:
// a single message file (.eml, optionally with an mbox "From " line), an
// mbox of several messages, a maildir (cur/ and new/) or a folder of
// message files. Files larger than the cap are refused by name.
#pragma once

#include <cstddef>
#include <functional>
#include <string>
#include <string_view>

#include "common/status.h"

namespace postino::inbound::returns {

struct MailboxLimits {
  size_t max_file_bytes = 256u << 20;  // an mbox larger than this is refused
};

// Splits an mbox text at its "From " separator lines (a "From " line at the
// start or after a blank line, with a sender and a date). One message when
// the text has no separator. `each(index, bytes)` is called per message.
void SplitMbox(std::string_view text, const std::function<void(size_t, std::string_view)>& each);

// Calls `each(name, bytes)` for every message under `path`, in a stable
// order (names sorted); `name` is the file path, with "#N" (1-based) for the
// N-th message of an mbox holding several. Fails naming the path that
// could not be read.
Status ForEachMessage(const std::string& path, const MailboxLimits& limits,
                      const std::function<void(const std::string&, std::string_view)>& each);

}  // namespace postino::inbound::returns
