// journal.cc: JSON-lines journal of unwritten results, fsynced.
#include "scheduler/journal.h"

#include <errno.h>
#include <fcntl.h>
#include <fmt/format.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

namespace postino::scheduler {
namespace {

double Epoch(db::TimePoint t) { return std::chrono::duration<double>(t.time_since_epoch()).count(); }

db::TimePoint FromEpoch(double s) {
  return db::TimePoint(
      std::chrono::duration_cast<db::TimePoint::duration>(std::chrono::duration<double>(s)));
}

nlohmann::json ToJson(const db::AttemptResult& r) {
  return {{"delivery_id", r.delivery_id}, {"campaign_id", r.campaign_id}, {"status", r.status},
          {"code", r.code}, {"enhanced", r.enhanced}, {"reply", r.reply}, {"phase", r.phase},
          {"source_ip", r.source_ip}, {"mx_host", r.mx_host}, {"tls_version", r.tls_version},
          {"tls_cipher", r.tls_cipher}, {"message_id", r.message_id}, {"site", r.site},
          {"at", Epoch(r.at)}, {"next_attempt_at", Epoch(r.next_attempt_at)},
          {"suppress", r.suppress}, {"email", r.email}};
}

db::AttemptResult FromJson(const nlohmann::json& j) {
  db::AttemptResult r;
  r.delivery_id = j.at("delivery_id").get<int64_t>();
  r.campaign_id = j.at("campaign_id").get<int64_t>();
  r.status = j.at("status").get<std::string>();
  r.code = j.at("code").get<int>();
  r.enhanced = j.at("enhanced").get<std::string>();
  r.reply = j.at("reply").get<std::string>();
  r.phase = j.at("phase").get<std::string>();
  r.source_ip = j.at("source_ip").get<std::string>();
  r.mx_host = j.at("mx_host").get<std::string>();
  r.tls_version = j.at("tls_version").get<std::string>();
  r.tls_cipher = j.at("tls_cipher").get<std::string>();
  r.message_id = j.at("message_id").get<std::string>();
  r.site = j.at("site").get<std::string>();
  r.at = FromEpoch(j.at("at").get<double>());
  r.next_attempt_at = FromEpoch(j.at("next_attempt_at").get<double>());
  r.suppress = j.at("suppress").get<bool>();
  r.email = j.at("email").get<std::string>();
  return r;
}

Status Errno(const std::string& what, const std::string& path) {
  return Status::IoError(fmt::format("{} {}: {}", what, path, strerror(errno)));
}

}  // namespace

std::string JournalPath(const std::string& dir, const std::string& node) {
  std::string safe;
  for (char c : node) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == '-';
    safe += ok ? c : '_';
  }
  return (std::filesystem::path(dir) / ("postino-journal-" + safe + ".jsonl")).string();
}

Status AppendJournal(const std::string& path, const std::vector<db::AttemptResult>& results) {
  std::filesystem::path dir = std::filesystem::path(path).parent_path();
  std::error_code ec;
  if (!dir.empty()) std::filesystem::create_directories(dir, ec);
  bool existed = std::filesystem::exists(path, ec);
  int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
  if (fd < 0) return Errno("cannot open the journal", path);
  std::string text;
  for (const db::AttemptResult& r : results) {
    // Invalid UTF-8 in a reply must not make the journal unwritable.
    text += ToJson(r).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    text += '\n';
  }
  size_t off = 0;
  while (off < text.size()) {
    ssize_t n = write(fd, text.data() + off, text.size() - off);
    if (n < 0) {
      if (errno == EINTR) continue;
      Status st = Errno("cannot write the journal", path);
      close(fd);
      return st;
    }
    off += static_cast<size_t>(n);
  }
  if (fsync(fd) != 0) {
    Status st = Errno("cannot fsync the journal", path);
    close(fd);
    return st;
  }
  close(fd);
  if (!existed) {
    int dfd = open(dir.empty() ? "." : dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) {
      fsync(dfd);
      close(dfd);
    }
  }
  return Status::Ok();
}

Result<std::vector<db::AttemptResult>> ReadJournal(const std::string& path) {
  std::vector<db::AttemptResult> out;
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    if (!std::filesystem::exists(path)) return out;
    return Errno("cannot read the journal", path);
  }
  std::vector<std::string> lines;
  std::string line;
  bool last_complete = true;
  while (std::getline(in, line)) {
    lines.push_back(line);
    last_complete = !in.eof();
  }
  for (size_t i = 0; i < lines.size(); ++i) {
    if (lines[i].empty()) continue;
    nlohmann::json j = nlohmann::json::parse(lines[i], nullptr, false);
    bool torn_tail = i + 1 == lines.size() && !last_complete;
    if (j.is_discarded() || !j.is_object()) {
      if (torn_tail) break;
      return Status::InvalidArgument(
          fmt::format("{}:{}: not a journal entry (JSON object expected)", path, i + 1));
    }
    try {
      out.push_back(FromJson(j));
    } catch (const std::exception& e) {
      if (torn_tail) break;
      return Status::InvalidArgument(fmt::format("{}:{}: bad journal entry: {}", path, i + 1,
                                                 e.what()));
    }
  }
  return out;
}

Status RemoveJournal(const std::string& path) {
  if (unlink(path.c_str()) != 0 && errno != ENOENT) return Errno("cannot remove the journal", path);
  return Status::Ok();
}

}  // namespace postino::scheduler
