// mailbox.cc: see mailbox.h.
#include "inbound/returns/mailbox.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <system_error>
#include <vector>

namespace postino::inbound::returns {
namespace {

namespace fs = std::filesystem;

// "From sender date..." with something date-like (a digit) after the sender.
bool IsSeparator(std::string_view line) {
  if (line.substr(0, 5) != "From ") return false;
  std::string_view rest = line.substr(5);
  size_t sp = rest.find(' ');
  if (sp == 0 || sp == std::string_view::npos) return false;
  return std::any_of(rest.begin() + sp, rest.end(), [](char c) { return c >= '0' && c <= '9'; });
}

Result<std::string> ReadFile(const fs::path& p, size_t cap) {
  std::error_code ec;
  uintmax_t size = fs::file_size(p, ec);
  if (ec) return Status::IoError(p.string() + ": " + ec.message());
  if (size > cap)
    return Status::InvalidArgument(p.string() + ": larger than " + std::to_string(cap) + " bytes");
  std::ifstream in(p, std::ios::binary);
  if (!in) return Status::IoError(p.string() + ": cannot open");
  std::string data(static_cast<size_t>(size), '\0');
  in.read(data.data(), static_cast<std::streamsize>(size));
  data.resize(static_cast<size_t>(in.gcount()));
  return data;
}

}  // namespace

void SplitMbox(std::string_view text, const std::function<void(size_t, std::string_view)>& each) {
  std::vector<size_t> starts;
  size_t pos = 0;
  bool prev_blank = true;
  while (pos < text.size()) {
    size_t end = text.find('\n', pos);
    if (end == std::string_view::npos) end = text.size();
    std::string_view line = text.substr(pos, end - pos);
    if (prev_blank && IsSeparator(line)) starts.push_back(pos);
    prev_blank = line.empty() || line == "\r";
    pos = end + 1;
  }
  if (starts.size() <= 1) {
    each(0, text);
    return;
  }
  if (starts.front() != 0 && !std::all_of(text.begin(), text.begin() + starts.front(), [](char c) {
        return c == '\n' || c == '\r' || c == ' ';
      })) {
    // Text before the first separator that is not blank: not an mbox.
    each(0, text);
    return;
  }
  for (size_t i = 0; i < starts.size(); ++i) {
    size_t end = i + 1 < starts.size() ? starts[i + 1] : text.size();
    each(i, text.substr(starts[i], end - starts[i]));
  }
}

Status ForEachMessage(const std::string& path, const MailboxLimits& limits,
                      const std::function<void(const std::string&, std::string_view)>& each) {
  std::error_code ec;
  fs::file_status st = fs::status(path, ec);
  if (ec || !fs::exists(st)) return Status::NotFound(path + ": no such file or directory");
  std::vector<fs::path> files;
  if (fs::is_directory(st)) {
    bool maildir = fs::is_directory(fs::path(path) / "cur") || fs::is_directory(fs::path(path) / "new");
    std::vector<fs::path> dirs;
    if (maildir) {
      for (const char* sub : {"cur", "new"})
        if (fs::is_directory(fs::path(path) / sub)) dirs.push_back(fs::path(path) / sub);
    } else {
      dirs.push_back(path);
    }
    for (const fs::path& d : dirs) {
      for (const fs::directory_entry& e : fs::directory_iterator(d, ec)) {
        if (e.is_regular_file(ec) && e.path().filename().string()[0] != '.') files.push_back(e.path());
      }
      if (ec) return Status::IoError(d.string() + ": " + ec.message());
    }
    std::sort(files.begin(), files.end());
  } else {
    files.push_back(path);
  }
  for (const fs::path& f : files) {
    Result<std::string> data = ReadFile(f, limits.max_file_bytes);
    if (!data.ok()) return data.status();
    std::string name = f.string();
    size_t count = 0;
    SplitMbox(*data, [&](size_t, std::string_view) { ++count; });
    SplitMbox(*data, [&](size_t i, std::string_view bytes) {
      each(count > 1 ? name + "#" + std::to_string(i + 1) : name, bytes);
    });
  }
  return Status::Ok();
}

}  // namespace postino::inbound::returns
