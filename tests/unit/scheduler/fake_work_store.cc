// fake_work_store.cc: the in-memory WorkStore.
#include "tests/unit/scheduler/fake_work_store.h"

#include <fmt/format.h>

#include <algorithm>
#include <chrono>

namespace postino::scheduler::testing {

int64_t FakeWorkStore::AddCampaign(const std::string& name, std::chrono::seconds max_age) {
  db::CampaignRow c;
  c.id = static_cast<int64_t>(campaigns_.size()) + 1;
  c.name = name;
  c.status = "running";
  c.template_id = 1;
  c.from_name = "News";
  c.from_address = "news@example.com";
  c.settings_json = "{}";
  c.max_age = max_age;
  campaigns_[c.id] = c;
  return c.id;
}

void FakeWorkStore::AddDeliveries(int64_t campaign_id, int n) {
  for (int i = 0; i < n; ++i) {
    Row r;
    r.d.id = next_row_++;
    r.d.campaign_id = campaign_id;
    r.d.email = fmt::format("user{}@example.com", r.d.id);
    r.d.domain = "example.com";
    r.d.attributes = "{}";
    r.next_attempt_at = clock_.WallNow();
    rows_[r.d.id] = r;
  }
}

void FakeWorkStore::SetCampaignStatus(int64_t id, const std::string& status) {
  campaigns_[id].status = status;
}

bool FakeWorkStore::Due(const Row& r) const {
  return (r.status == "pending" || r.status == "deferred") && r.next_attempt_at <= clock_.WallNow() &&
         (r.lease_owner.empty() || r.lease_until < clock_.WallNow()) &&
         campaigns_.at(r.d.campaign_id).status == "running";
}

Status FakeWorkStore::Reconnect() {
  ++reconnects_;
  return down_ ? Down() : Status::Ok();
}

Status FakeWorkStore::LockNode(const std::string& node) {
  if (down_) return Down();
  std::set<std::string>& l = shared_locks ? *shared_locks : locked;
  if (!l.insert(node).second) return Status::FailedPrecondition("node " + node + " is in use");
  return Status::Ok();
}

Result<std::vector<db::ClaimedDelivery>> FakeWorkStore::Claim(const std::string& node, int limit,
                                                              std::chrono::seconds lease) {
  if (down_) return Down();
  ++claims_;
  std::vector<db::ClaimedDelivery> out;
  for (auto& [id, r] : rows_) {
    if (static_cast<int>(out.size()) >= limit) break;
    if (!Due(r)) continue;
    r.lease_owner = node;
    r.lease_until = clock_.WallNow() + lease;
    db::ClaimedDelivery d = r.d;
    d.first_attempt_at = d.first_attempt_at.time_since_epoch().count() ? d.first_attempt_at : clock_.WallNow();
    out.push_back(d);
  }
  return out;
}

Status FakeWorkStore::RecordResults(const std::string& node,
                                    const std::vector<db::AttemptResult>& results) {
  if (down_) return Down();
  if (sql_error_) {
    sql_error_ = false;
    if (down_after_sql_error_) {
      down_after_sql_error_ = false;
      down_ = true;
    }
    return Status::Internal("recording delivery results: SQL error: fake");
  }
  for (const auto& a : results) {
    Row& r = rows_.at(a.delivery_id);
    // As PgDatabase: a replayed result whose attempt is recorded (within
    // 2 µs: the journal's decimal epoch) is skipped.
    std::vector<WallTime>& seen = attempts_[a.delivery_id];
    if (a.replay && std::any_of(seen.begin(), seen.end(), [&](WallTime t) {
          return std::chrono::abs(t - a.at) <= std::chrono::microseconds(2);
        })) {
      continue;
    }
    seen.push_back(a.at);
    ++r.results;
    if (r.status == "pending" || r.status == "deferred") {
      r.status = a.status;
      if (a.status == "deferred") r.next_attempt_at = a.next_attempt_at;
    }
    if (!r.d.first_attempt_at.time_since_epoch().count()) r.d.first_attempt_at = a.at;
    ++r.d.attempts;
    if (r.lease_owner == node) r.lease_owner.clear();
  }
  if (in_doubt_) {
    in_doubt_ = false;
    down_ = true;
    return Status::IoError(
        "recording delivery results: database connection lost while committing: fake");
  }
  return Status::Ok();
}

Status FakeWorkStore::ReleaseLeases(const std::string& node, const std::vector<int64_t>& ids) {
  if (down_) return Down();
  for (int64_t id : ids) {
    released.push_back(id);
    if (rows_.at(id).lease_owner == node) rows_.at(id).lease_owner.clear();
  }
  return Status::Ok();
}

Status FakeWorkStore::PostponeLeases(const std::string& node, const std::vector<int64_t>& ids,
                                     db::TimePoint not_before) {
  if (down_) return Down();
  for (int64_t id : ids) {
    postponed.emplace_back(id, not_before);
    Row& r = rows_.at(id);
    if (r.lease_owner == node) r.lease_owner.clear();
    r.next_attempt_at = std::max(r.next_attempt_at, not_before);
  }
  return Status::Ok();
}

Status FakeWorkStore::RenewLeases(const std::string& node, std::chrono::seconds lease) {
  if (down_) return Down();
  for (auto& [id, r] : rows_) {
    if (r.lease_owner == node) r.lease_until = clock_.WallNow() + lease;
  }
  return Status::Ok();
}

Result<int64_t> FakeWorkStore::ReclaimLeases(const std::string& node) {
  if (down_) return Down();
  int64_t n = 0;
  for (auto& [id, r] : rows_) {
    if (r.lease_owner == node) {
      r.lease_owner.clear();
      ++n;
    }
  }
  return n;
}

Result<db::Database::LeaseReport> FakeWorkStore::OtherNodesLeases(const std::string& node) {
  if (down_) return Down();
  db::Database::LeaseReport rep;
  for (auto& [id, r] : rows_) {
    if (!r.lease_owner.empty() && r.lease_owner != node && r.lease_until > clock_.WallNow()) {
      ++rep.rows;
      if (!rep.expires_by || *rep.expires_by < r.lease_until) rep.expires_by = r.lease_until;
    }
  }
  return rep;
}

Result<bool> FakeWorkStore::HasDueWork() {
  if (down_) return Down();
  for (auto& [id, r] : rows_) {
    if (Due(r)) return true;
  }
  return false;
}

Result<int> FakeWorkStore::StartDueCampaigns() {
  if (down_) return Down();
  return 0;
}

Result<std::vector<std::string>> FakeWorkStore::FinishCampaigns() {
  if (down_) return Down();
  return std::vector<std::string>{};
}

Result<std::vector<db::CampaignState>> FakeWorkStore::CampaignStates(const std::vector<int64_t>& ids) {
  if (down_) return Down();
  std::vector<db::CampaignState> out;
  for (int64_t id : ids) out.push_back({id, campaigns_.at(id).status});
  return out;
}

Result<db::CampaignRow> FakeWorkStore::GetCampaignById(int64_t id) {
  if (down_) return Down();
  auto it = campaigns_.find(id);
  if (it == campaigns_.end()) return Status::NotFound("no campaign");
  return it->second;
}

Result<db::TemplateRow> FakeWorkStore::GetTemplateById(int64_t id) {
  if (down_) return Down();
  db::TemplateRow t;
  t.id = id;
  t.name = "t";
  t.subject = "Hello";
  t.text = "Hello {{email}}\n";
  t.html = "<p>Hello</p>\n";
  return t;
}

Status FakeWorkStore::PauseCampaign(const std::string& name) {
  if (down_) return Down();
  for (auto& [id, c] : campaigns_) {
    if (c.name == name) c.status = "paused";
  }
  return Status::Ok();
}

Status FakeWorkStore::RecordEgressEvents(const std::string&,
                                         const std::vector<db::Database::EgressEvent>&) {
  if (down_) return Down();
  return Status::Ok();
}

Result<std::vector<db::Database::SentCount>> FakeWorkStore::WarmupCounts() {
  if (down_) return Down();
  return std::vector<db::Database::SentCount>{};
}

Result<std::vector<db::Database::EgressEvent>> FakeWorkStore::ActivePathStates() {
  if (down_) return Down();
  return std::vector<db::Database::EgressEvent>{};
}

Result<std::vector<db::Database::EgressEvent>> FakeWorkStore::OperatorResumes(db::TimePoint) {
  if (down_) return Down();
  return std::vector<db::Database::EgressEvent>{};
}

}  // namespace postino::scheduler::testing
