// reply_policy.h: kept so older includes compile; the policy API is
// engine/policy/policy.h (Policy, Decision, Classify, NormalizeReply).
#pragma once

#include "engine/policy/policy.h"
