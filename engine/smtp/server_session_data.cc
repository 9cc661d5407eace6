// server_session_data.cc: ServerSession, part three: DATA. The message is
// read line by line; only "<CRLF>.<CRLF>" ends it (a "." line that follows a
// line ended by a bare LF is not an end). A bare CR or LF anywhere marks
// the message as refused (550 5.6.0) so that no SMTP smuggling shape
// ("\n.\n", "\n.\r\n", "\r.\r", "\r\n.\n", ...) can end one message and start
// another inside it; lines over 998 octets and messages over the size
// limit are refused the same way, once the real end arrives. Nothing is
// stored for a refused message and its bytes are not kept.
#include "common/strings.h"
#include "engine/smtp/server_session.h"
#include "engine/smtp/server_session_impl.h"

namespace postino::smtp {

namespace {

constexpr size_t kMaxTextLine = 998;  // RFC 5321 §4.5.3.1.6 / RFC 5322 §2.1.1, CRLF excluded

}  // namespace

void ServerSession::Impl::Data(std::string_view arg) {
  if (!arg.empty()) return Reply(501, "5.5.4", "Syntax: DATA");
  if (!in_transaction_) return Reply(503, "5.5.1", "Send MAIL first");
  if (env_.rcpts.empty()) return Reply(554, "5.5.1", "No valid recipients");
  Reply(354, "", "End data with <CR><LF>.<CR><LF>");
  data_.clear();
  if (env_.size && *env_.size <= params_.limits.max_message_size) {
    data_.reserve(static_cast<size_t>(*env_.size) + 1024);
  }
  line_start_ = true;
  line_len_ = 0;
  bare_newline_ = line_too_long_ = too_big_ = false;
  data_size_ = 0;
  Enter(State::kData);
}

bool ServerSession::Impl::ScanData() {
  const uint64_t max_size = params_.limits.max_message_size;
  auto keep = [&](std::string_view bytes) {
    data_size_ += bytes.size();
    if (data_size_ > max_size) too_big_ = true;
    if (!too_big_ && !bare_newline_ && !line_too_long_) data_.append(bytes);
  };
  while (true) {
    std::string_view pending(in_.data() + in_pos_, in_.size() - in_pos_);
    size_t lf = pending.find('\n');
    if (lf == std::string_view::npos) {
      // No line end yet: hold the partial line unless it is already too
      // long (then consume it, keeping a final CR that may pair with the
      // next LF).
      if (pending.size() > kMaxTextLine + 2) {
        size_t take = pending.back() == '\r' ? pending.size() - 1 : pending.size();
        std::string_view chunk = pending.substr(0, take);
        if (chunk.find('\r') != std::string_view::npos) bare_newline_ = true;
        if (line_start_ && !chunk.empty() && chunk.front() == '.') chunk.remove_prefix(1);
        line_len_ += chunk.size();
        line_too_long_ = true;
        keep(chunk);
        line_start_ = false;
        in_pos_ += take;
      }
      return false;
    }
    std::string_view raw = pending.substr(0, lf);
    in_pos_ += lf + 1;
    bool crlf = !raw.empty() && raw.back() == '\r';
    std::string_view content = crlf ? raw.substr(0, raw.size() - 1) : raw;
    if (!crlf) bare_newline_ = true;
    if (content.find('\r') != std::string_view::npos) bare_newline_ = true;
    if (line_start_ && crlf && content == ".") return true;  // <CRLF>.<CRLF>
    if (line_start_ && !content.empty() && content.front() == '.') content.remove_prefix(1);
    line_len_ += content.size();
    if (line_len_ > kMaxTextLine) line_too_long_ = true;
    keep(content);
    keep("\r\n");
    line_len_ = 0;
    line_start_ = crlf;
  }
}

void ServerSession::Impl::FinishData() {
  Enter(State::kCommand);
  if (bare_newline_) {
    ResetTransaction();
    return Reply(550, "5.6.0",
                 "Message refused: bare CR or LF in the message text (lines must end with CRLF)");
  }
  if (too_big_) {
    ResetTransaction();
    return Reply(552, "5.3.4", "Message size exceeds fixed maximum message size");
  }
  if (line_too_long_) {
    ResetTransaction();
    return Reply(550, "5.6.0", "Message refused: a line is longer than 998 characters");
  }
  ServerAction a = MakeAction(ServerAction::Kind::kMessage);
  a.envelope = std::move(env_);
  a.data = std::move(data_);
  ResetTransaction();
  Flush();
  actions_.push_back(std::move(a));
  Enter(State::kStoreWait);
}

}  // namespace postino::smtp
