// path_states.cc: egress_events rows -> engine PathEvents.
#include "scheduler/path_states.h"

#include "common/log.h"

namespace postino::scheduler {

std::vector<delivery::PathEvent> ToPathEvents(const std::vector<db::Database::EgressEvent>& rows) {
  std::vector<delivery::PathEvent> out;
  for (const auto& r : rows) {
    delivery::PathEvent e;
    if (r.action == "suspended") {
      e.action = delivery::PathEvent::Action::kSuspended;
    } else if (r.action == "slowed") {
      e.action = delivery::PathEvent::Action::kSlowed;
      Result<Rate> rate = ParseRate(r.rate);
      if (!rate.ok()) {
        log::Warn("path {} -> {}: stored rate \"{}\" not understood ({}); ignored", r.source_name,
                  r.site, r.rate, rate.status().message());
        continue;
      }
      e.rate = *rate;
    } else {
      continue;
    }
    if (!r.until) continue;
    e.source_name = r.source_name;
    e.source_address = r.source_ip;
    e.site = r.site;
    e.domain = r.domain;
    e.reply = r.reply;
    e.until = *r.until;
    e.at = r.at;
    out.push_back(std::move(e));
  }
  return out;
}

}  // namespace postino::scheduler
