// source_pool.cc: validation of source pools.
#include "engine/shaping/source_pool.h"

#include <fmt/format.h>

namespace postino::shaping {

Result<SourcePool> SourcePool::Create(std::string name, std::vector<PoolEntry> entries) {
  if (entries.empty()) {
    return Status::InvalidArgument(fmt::format("pool \"{}\" has no sources", name));
  }
  std::vector<Slot> slots;
  uint64_t total = 0;
  for (PoolEntry& e : entries) {
    total += e.weight;
    slots.push_back(Slot{std::move(e), 0});
  }
  if (total == 0) {
    return Status::InvalidArgument(fmt::format(
        "pool \"{}\": every weight is zero; give at least one source a weight > 0", name));
  }
  return SourcePool(std::move(name), std::move(slots));
}

}  // namespace postino::shaping
