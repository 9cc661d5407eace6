// status.h: Status and Result<T>, the error values of postino's data plane.
// Functions that can fail on untrusted input return these instead of
// throwing; an OK Status carries no allocation.
#pragma once

#include <cassert>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

namespace postino {

class Status {
 public:
  enum class Code {
    kOk = 0,
    kInvalidArgument,    // bad input: CSV row, template, config value, CLI arg
    kNotFound,           // a named thing does not exist
    kAlreadyExists,
    kFailedPrecondition, // the system is not in a state that allows this
    kTemporary,          // worth retrying later (4xx, timeouts, DNS SERVFAIL)
    kPermanent,          // will not succeed on retry (5xx, NXDOMAIN, null MX)
    kTimeout,
    kIoError,
    kProtocol,           // a peer broke the protocol
    kInternal,           // a bug or an unexpected library failure
  };

  Status() = default;  // OK
  Status(Code code, std::string message)
      : state_(code == Code::kOk ? nullptr
                                 : std::make_shared<const State>(State{code, std::move(message)})) {}

  static Status Ok() { return Status(); }
  static Status InvalidArgument(std::string m) { return {Code::kInvalidArgument, std::move(m)}; }
  static Status NotFound(std::string m) { return {Code::kNotFound, std::move(m)}; }
  static Status AlreadyExists(std::string m) { return {Code::kAlreadyExists, std::move(m)}; }
  static Status FailedPrecondition(std::string m) {
    return {Code::kFailedPrecondition, std::move(m)};
  }
  static Status Temporary(std::string m) { return {Code::kTemporary, std::move(m)}; }
  static Status Permanent(std::string m) { return {Code::kPermanent, std::move(m)}; }
  static Status Timeout(std::string m) { return {Code::kTimeout, std::move(m)}; }
  static Status IoError(std::string m) { return {Code::kIoError, std::move(m)}; }
  static Status Protocol(std::string m) { return {Code::kProtocol, std::move(m)}; }
  static Status Internal(std::string m) { return {Code::kInternal, std::move(m)}; }

  // Returns true iff the status indicates success.
  bool ok() const { return state_ == nullptr; }
  Code code() const { return state_ ? state_->code : Code::kOk; }
  // The message; empty for OK.
  const std::string& message() const {
    static const std::string kEmpty;
    return state_ ? state_->message : kEmpty;
  }
  // "<code name>: <message>", or "OK".
  std::string ToString() const;

  static std::string_view CodeName(Code code);

 private:
  struct State {
    Code code;
    std::string message;
  };
  std::shared_ptr<const State> state_;  // null when OK
};

// Result<T> holds either a value or a non-OK Status.
template <typename T>
class Result {
 public:
  Result(T value) : value_(std::move(value)) {}  // NOLINT(google-explicit-constructor)
  Result(Status status) : status_(std::move(status)) {  // NOLINT(google-explicit-constructor)
    assert(!status_.ok() && "Result built from an OK Status has no value");
    if (status_.ok()) status_ = Status::Internal("Result constructed from OK status");
  }

  bool ok() const { return value_.has_value(); }
  const Status& status() const { return status_; }

  T& value() & {
    assert(ok());
    return *value_;
  }
  const T& value() const& {
    assert(ok());
    return *value_;
  }
  T&& value() && {
    assert(ok());
    return std::move(*value_);
  }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }

 private:
  std::optional<T> value_;
  Status status_;
};

}  // namespace postino
