// returns_fuzz.cc: libFuzzer target for inbound/returns. Arbitrary bytes
// are split as an mbox and each message parsed as returned mail (GMime,
// DSN/ARF/SES/text rules). Checks: no crash, bounded output (recipients,
// diagnostic length), every recipient has a reason, and the hard-bounce
// flag only for the reasons that README/docs define as hard.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "inbound/returns/mailbox.h"
#include "inbound/returns/reason.h"
#include "inbound/returns/report.h"

namespace {

void Check(bool ok) {
  if (!ok) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace postino::inbound::returns;
  std::string_view bytes(reinterpret_cast<const char*>(data), size);
  MimeLimits limits;
  limits.max_bytes = 256 * 1024;
  SplitMbox(bytes, [&](size_t, std::string_view message) {
    ReturnReport r = ParseReturn(message, limits);
    Check(r.recipients.size() <= 256);
    Check(r.original_headers.size() <= 64);
    for (const RecipientReport& rr : r.recipients) {
      Check(!rr.reason.empty());
      Check(rr.diagnostic.size() <= 4096);
      if (rr.hard_bounce)
        Check(rr.reason == "userunknown" || rr.reason == "hostunknown" ||
              rr.reason == "hasmoved" || rr.reason == "notaccept");
      if (rr.reason == "feedback") Check(!rr.feedback_type.empty());
    }
  });
  return 0;
}
