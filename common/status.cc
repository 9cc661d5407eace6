// status.cc: names and formatting of Status codes.
#include "common/status.h"

namespace postino {

std::string_view Status::CodeName(Code code) {
  switch (code) {
    case Code::kOk: return "OK";
    case Code::kInvalidArgument: return "invalid argument";
    case Code::kNotFound: return "not found";
    case Code::kAlreadyExists: return "already exists";
    case Code::kFailedPrecondition: return "failed precondition";
    case Code::kTemporary: return "temporary failure";
    case Code::kPermanent: return "permanent failure";
    case Code::kTimeout: return "timeout";
    case Code::kIoError: return "I/O error";
    case Code::kProtocol: return "protocol error";
    case Code::kInternal: return "internal error";
  }
  return "unknown";
}

std::string Status::ToString() const {
  if (ok()) return "OK";
  std::string out(CodeName(code()));
  out += ": ";
  out += message();
  return out;
}

}  // namespace postino
