// dispatch.cc: campaign cache, grouping of claimed rows into render jobs;
// the cache of submitted messages in flight.
#include "scheduler/dispatch.h"

#include <fmt/format.h>

#include <map>
#include <set>
#include <tuple>

#include "common/log.h"

namespace postino::scheduler {

std::vector<Job> Dispatcher::Group(WorkStore& store, std::vector<db::ClaimedDelivery> batch,
                                   MonoTime now, std::vector<int64_t>* released) {
  std::vector<Job> jobs;
  // (campaign, domain, message id) -> index in `jobs` of the group filling up.
  std::map<std::tuple<int64_t, std::string, std::string>, size_t> open_groups;
  // (submission, domain) -> index in `jobs` of the group filling up.
  std::map<std::pair<int64_t, std::string>, size_t> open_submitted;
  // Submitted messages not in the cache are read in one query.
  std::vector<std::shared_ptr<LoadedSubmission>> loaded = LoadSubmissions(store, batch);
  for (auto& d : batch) {
    if (d.submission_id != 0) {
      auto key = std::make_pair(d.submission_id, d.domain);
      auto open = open_submitted.find(key);
      if (open != open_submitted.end()) {
        Job& job = jobs[open->second];
        job.deliveries.push_back(std::move(d));
        if (job.deliveries.size() >= submitted_.recipients_per_message) open_submitted.erase(open);
        continue;
      }
      std::shared_ptr<LoadedSubmission> m = LoadSubmission(d.submission_id);
      if (!m) {
        released->push_back(d.id);
        continue;
      }
      if (submitted_.recipients_per_message > 1) open_submitted.emplace(std::move(key), jobs.size());
      Job job{{}, nullptr, submitted_.pool, submitted_.max_age, now, std::move(m)};
      job.deliveries.push_back(std::move(d));
      jobs.push_back(std::move(job));
      continue;
    }
    auto it = campaigns_.find(d.campaign_id);
    if (it == campaigns_.end()) {
      Entry entry = Load(store, d.campaign_id);
      if (!entry.prepared) {
        released->push_back(d.id);
        continue;
      }
      it = campaigns_.emplace(d.campaign_id, std::move(entry)).first;
    }
    const Entry& c = it->second;
    const size_t per_message = static_cast<size_t>(c.prepared->recipients_per_message());
    if (per_message > 1) {
      auto key = std::make_tuple(d.campaign_id, d.domain, d.message_id);
      auto open = open_groups.find(key);
      if (open != open_groups.end()) {
        Job& job = jobs[open->second];
        job.deliveries.push_back(std::move(d));
        if (job.deliveries.size() >= per_message) open_groups.erase(open);
        continue;
      }
      open_groups.emplace(std::move(key), jobs.size());
    }
    Job job{{}, c.prepared, c.pool, c.max_age, now, nullptr};
    job.deliveries.push_back(std::move(d));
    jobs.push_back(std::move(job));
  }
  return jobs;
}

std::vector<std::shared_ptr<LoadedSubmission>> Dispatcher::LoadSubmissions(
    WorkStore& store, const std::vector<db::ClaimedDelivery>& batch) {
  if (submissions_.size() > 4096) {
    for (auto e = submissions_.begin(); e != submissions_.end();) {
      e = e->second.expired() ? submissions_.erase(e) : std::next(e);
    }
  }
  std::vector<int64_t> missing;
  std::set<int64_t> asked;
  for (const auto& d : batch) {
    if (d.submission_id == 0 || asked.count(d.submission_id)) continue;
    auto it = submissions_.find(d.submission_id);
    if (it != submissions_.end() && !it->second.expired()) continue;
    asked.insert(d.submission_id);
    missing.push_back(d.submission_id);
  }
  std::vector<std::shared_ptr<LoadedSubmission>> out;  // keeps them alive for Group
  if (missing.empty()) return out;
  // A claim round loads at most kClaimBytes of messages (the first always):
  // recipients of the others go back and come with a later claim.
  Result<std::vector<db::SubmittedMessage>> rows =
      store.GetSubmittedMessages(missing, kClaimBytes);
  if (!rows.ok()) {
    log::Error("{} (retrying with the next claim)", rows.status().message());
    return out;
  }
  for (db::SubmittedMessage& row : *rows) {
    auto m = std::make_shared<LoadedSubmission>();
    m->id = row.id;
    m->mail_from = std::move(row.mail_from);
    m->message_id = std::move(row.message_id);
    m->bytes = std::move(row.bytes);
    submissions_[m->id] = m;
    out.push_back(std::move(m));
  }
  return out;
}

std::shared_ptr<LoadedSubmission> Dispatcher::LoadSubmission(int64_t id) {
  auto it = submissions_.find(id);
  if (it == submissions_.end()) return nullptr;
  // Null: not loaded this round (the byte budget, a database error, or the
  // message was deleted); its recipients go back.
  return it->second.lock();
}

Dispatcher::Entry Dispatcher::Load(WorkStore& store, int64_t campaign_id) {
  Entry e;
  Result<db::CampaignRow> c = store.GetCampaignById(campaign_id);
  if (!c.ok()) {
    log::Error("{} (retrying with the next claim)", c.status().message());
    return e;
  }
  e.pool = c->pool;
  e.max_age = c->max_age;
  Result<db::TemplateRow> t = store.GetTemplateById(c->template_id);
  if (!t.ok()) {
    log::Error("{} (retrying with the next claim)", t.status().message());
    return e;
  }
  Result<std::shared_ptr<const PreparedCampaign>> p = renderer_.Prepare(*c, *t);
  if (!p.ok()) {
    // The same for every recipient: pause the campaign rather than fail
    // them all; fix the cause and `postino campaign resume`.
    log::Error("campaign \"{}\" cannot be rendered, pausing it: {}", c->name, p.status().message());
    Status st = store.PauseCampaign(c->name);
    if (!st.ok()) log::Error("{}", st.message());
    return e;
  }
  e.prepared = std::move(p).value();
  return e;
}

std::optional<std::set<int64_t>> Dispatcher::Blocked(WorkStore& store) {
  if (campaigns_.empty()) return ended_;
  std::vector<int64_t> ids;
  for (const auto& [id, c] : campaigns_) ids.push_back(id);
  Result<std::vector<db::CampaignState>> states = store.CampaignStates(ids);
  if (!states.ok()) return std::nullopt;
  // Finished and cancelled campaigns leave the cache (they would not be
  // asked about again) and stay blocked; paused ones until resumed.
  std::set<int64_t> blocked = ended_;
  for (const auto& s : *states) {
    if (s.status != "running") blocked.insert(s.id);
    if (s.status == "finished" || s.status == "cancelled") {
      ended_.insert(s.id);
      campaigns_.erase(s.id);
    }
  }
  return blocked;
}

}  // namespace postino::scheduler
