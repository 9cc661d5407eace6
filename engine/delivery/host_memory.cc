// host_memory.cc: failed and plain-only hosts, remembered for a while.
#include "engine/delivery/host_memory.h"

#include "common/log.h"

namespace postino::delivery {

void HostMemory::MarkFailed(const HostEntry& h, const smtp::Reply& reply, smtp::Phase phase) {
  log::Info("delivery: host {} [{}]:{} failed in {}: {}; skipping it for {} ms", h.name, h.ip,
            h.port, smtp::PhaseName(phase), reply.ToString(), ttl_.count());
  failed_until_[Key(h)] = clock_.Now() + ttl_;
}

bool HostMemory::Usable(const HostEntry& h) const {
  auto it = failed_until_.find(Key(h));
  return it == failed_until_.end() || it->second <= clock_.Now();
}

void HostMemory::MarkPlainOnly(const HostEntry& h) { plain_only_until_[Key(h)] = clock_.Now() + ttl_; }

bool HostMemory::PlainOnly(const HostEntry& h) {
  auto it = plain_only_until_.find(Key(h));
  if (it == plain_only_until_.end()) return false;
  if (it->second > clock_.Now()) return true;
  plain_only_until_.erase(it);
  return false;
}

}  // namespace postino::delivery
