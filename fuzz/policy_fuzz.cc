// policy_fuzz.cc: libFuzzer target for engine/policy. Arbitrary bytes are
// read as a server reply (lenient parser, then as raw text) and classified
// by the built-in policy and by a policy with a configured rule. Checks: no
// crash, NormalizeReply stays within kMaxNormalizedReply, every path action
// has a duration (and a slow-down a rate), suppression only for a permanent
// reply that blames the recipient.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <string_view>

#include "engine/policy/policy.h"
#include "engine/smtp/reply_parser.h"

namespace {

using postino::policy::Blame;
using postino::policy::Decision;
using postino::policy::PathAction;
using postino::policy::Policy;
using postino::policy::RuleSpec;

void Check(bool ok) {
  if (!ok) std::abort();
}

void CheckDecision(const Decision& d) {
  if (d.path != PathAction::kNone) Check(d.path_for.count() > 0);
  if (d.path == PathAction::kSlowDown) Check(d.rate.has_value() && d.rate->valid());
  if (d.suppress) Check(d.permanent && d.blame == Blame::kRecipient);
}

const Policy& Configured() {
  static const std::shared_ptr<const Policy> policy = [] {
    RuleSpec slow;
    slow.name = "fuzz-slow";
    slow.pattern = R"(^4\d\d .*(?:a|b)*c)";
    slow.action = RuleSpec::Action::kSlowDown;
    slow.rate = *postino::ParseRate("10/min");
    return std::move(Policy::Create({slow}, true)).value();
  }();
  return *policy;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view bytes(reinterpret_cast<const char*>(data), size);
  Check(postino::policy::NormalizeReply(bytes).size() <= postino::policy::kMaxNormalizedReply);
  postino::smtp::ReplyParser parser(postino::smtp::ReplyParserLimits{.allow_code_change = true});
  (void)parser.Feed(bytes);
  while (std::optional<postino::smtp::Reply> reply = parser.Next()) {
    Check(postino::policy::NormalizeReply(*reply).size() <= postino::policy::kMaxNormalizedReply);
    for (auto phase : {postino::smtp::Phase::kEhlo, postino::smtp::Phase::kRcpt,
                       postino::smtp::Phase::kEndOfData}) {
      CheckDecision(postino::policy::DefaultPolicy().Classify(phase, *reply));
      CheckDecision(Configured().Classify(phase, *reply, "mx1.example.net"));
    }
  }
  return 0;
}
