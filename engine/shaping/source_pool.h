// source_pool.h: choosing a source address from a weighted pool with smooth
// weighted round-robin (the nginx algorithm): deterministic, exact
// proportions over every window of sum(weights) picks, and well interleaved
// (weights 5,1,1 give a a b a c a a, not a a a a a b c). Sources that
// cannot be used right now (throttled, suspended, capped) are skipped; the
// others keep their proportions among themselves.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "common/status.h"

namespace postino::shaping {

struct PoolEntry {
  std::string source;
  uint32_t weight = 1;
};

class SourcePool {
 public:
  // Fails when `entries` is empty or every weight is zero.
  static Result<SourcePool> Create(std::string name, std::vector<PoolEntry> entries);

  const std::string& name() const { return name_; }
  size_t size() const { return entries_.size(); }
  const PoolEntry& entry(size_t i) const { return entries_[i].entry; }

  // Picks the index of the next source among those for which
  // `usable(index)` is true; nullopt when none is usable. O(size()).
  template <typename Usable>
  std::optional<size_t> Choose(Usable&& usable) {
    int64_t total = 0;
    Slot* best = nullptr;
    for (size_t i = 0; i < entries_.size(); ++i) {
      Slot& s = entries_[i];
      if (s.entry.weight == 0 || !usable(i)) continue;
      s.current += s.entry.weight;
      total += s.entry.weight;
      if (best == nullptr || s.current > best->current) best = &s;
    }
    if (best == nullptr) return std::nullopt;
    best->current -= total;
    return static_cast<size_t>(best - entries_.data());
  }

  // Every source usable.
  std::optional<size_t> Choose() {
    return Choose([](size_t) { return true; });
  }

 private:
  struct Slot {
    PoolEntry entry;
    int64_t current = 0;
  };
  SourcePool(std::string name, std::vector<Slot> entries)
      : name_(std::move(name)), entries_(std::move(entries)) {}

  std::string name_;
  std::vector<Slot> entries_;
};

}  // namespace postino::shaping
