// catalog.cc: PgDatabase (see pg_database.h), management for marketers:
// listing and deleting campaigns (drafts only), templates and lists; one
// subscriber's record, unsubscribing and erasing it; paging through a
// list's recipients for `campaign check`. Every libpqxx exception is caught
// here and turned into a Status.
#include <fmt/format.h>

#include <pqxx/pqxx>

#include "db/database.h"
#include "db/pg_database.h"

namespace postino::db::internal {
namespace {

// "a", "b" and 3 more
std::string NameList(const pqxx::result& r) {
  std::string out;
  size_t shown = 0;
  for (const auto& row : r) {
    if (shown == 5) {
      out += fmt::format(" and {} more", r.size() - shown);
      break;
    }
    out += (shown ? ", \"" : "\"") + Str(row[0]) + "\"";
    ++shown;
  }
  return out;
}

}  // namespace

Result<std::vector<Database::CampaignListRow>> PgDatabase::ListCampaigns() {
  return Guard("listing campaigns", [&]() -> Result<std::vector<CampaignListRow>> {
    pqxx::read_transaction tx(*conn_);
    pqxx::result r = tx.exec(
        "SELECT c.id, c.name, c.status, l.name, t.name, c.from_address, s.total, s.delivered, "
        "s.bounced, s.pending + s.deferred, extract(epoch from c.created_at)::float8, "
        "extract(epoch from c.scheduled_at)::float8, extract(epoch from c.started_at)::float8, "
        "extract(epoch from c.finished_at)::float8 "
        "FROM campaigns c JOIN lists l ON l.id = c.list_id JOIN templates t ON t.id = "
        "c.template_id JOIN campaign_summary s ON s.campaign_id = c.id ORDER BY c.created_at, c.id");
    std::vector<CampaignListRow> out;
    for (const auto& row : r) {
      CampaignListRow c;
      c.id = row[0].as<int64_t>();
      c.name = Str(row[1]);
      c.status = Str(row[2]);
      c.list_name = Str(row[3]);
      c.template_name = Str(row[4]);
      c.from_address = Str(row[5]);
      c.total = row[6].as<int64_t>();
      c.delivered = row[7].as<int64_t>();
      c.bounced = row[8].as<int64_t>();
      c.remaining = row[9].as<int64_t>();
      c.created_at = FromEpoch(row[10].as<double>());
      c.scheduled_at = OptTime(row[11]);
      c.started_at = OptTime(row[12]);
      c.finished_at = OptTime(row[13]);
      out.push_back(std::move(c));
    }
    return out;
  });
}

Status PgDatabase::DeleteDraftCampaign(const std::string& name) {
  return Guard("deleting the campaign", [&]() -> Status {
    pqxx::work tx(*conn_);
    pqxx::result c =
        tx.exec_params("SELECT id, status FROM campaigns WHERE name = $1 FOR UPDATE", name);
    if (c.empty()) return Status::NotFound(fmt::format("no campaign named \"{}\"", name));
    std::string status = Str(c[0][1]);
    if (status != "draft") {
      return Status::FailedPrecondition(fmt::format(
          "campaign \"{}\" is {}; only a draft can be deleted (its deliveries are the record of "
          "what was sent){}",
          name, status,
          status == "running" || status == "scheduled" || status == "paused"
              ? "; use `postino campaign cancel` to stop it"
              : ""));
    }
    tx.exec_params("DELETE FROM campaigns WHERE id = $1", c[0][0].as<int64_t>());
    tx.commit();
    return Status::Ok();
  });
}

Result<std::vector<Database::TemplateInfo>> PgDatabase::ListTemplates() {
  return Guard("listing templates", [&]() -> Result<std::vector<TemplateInfo>> {
    pqxx::read_transaction tx(*conn_);
    pqxx::result r = tx.exec(
        "SELECT t.name, t.subject, (SELECT count(*) FROM campaigns c WHERE c.template_id = t.id), "
        "extract(epoch from t.updated_at)::float8 FROM templates t ORDER BY t.name");
    std::vector<TemplateInfo> out;
    for (const auto& row : r) {
      out.push_back({Str(row[0]), Str(row[1]), row[2].as<int64_t>(),
                     FromEpoch(row[3].as<double>())});
    }
    return out;
  });
}

Status PgDatabase::DeleteTemplate(const std::string& name) {
  return Guard("deleting the template", [&]() -> Status {
    pqxx::work tx(*conn_);
    pqxx::result t =
        tx.exec_params("SELECT id FROM templates WHERE name = $1 FOR UPDATE", name);
    if (t.empty()) return Status::NotFound(fmt::format("no template named \"{}\"", name));
    int64_t id = t[0][0].as<int64_t>();
    pqxx::result used = tx.exec_params(
        "SELECT name FROM campaigns WHERE template_id = $1 ORDER BY created_at", id);
    if (!used.empty()) {
      return Status::FailedPrecondition(
          fmt::format("template \"{}\" is used by campaign {}; delete those drafts first "
                      "(`postino campaign rm`), or keep the template for their record",
                      name, NameList(used)));
    }
    tx.exec_params("DELETE FROM templates WHERE id = $1", id);
    tx.commit();
    return Status::Ok();
  });
}

Result<int64_t> PgDatabase::DeleteList(const std::string& name) {
  return Guard("deleting the list", [&]() -> Result<int64_t> {
    pqxx::work tx(*conn_);
    pqxx::result l = tx.exec_params("SELECT id FROM lists WHERE name = $1 FOR UPDATE", name);
    if (l.empty()) return Status::NotFound(fmt::format("no list named \"{}\"", name));
    int64_t id = l[0][0].as<int64_t>();
    pqxx::result used =
        tx.exec_params("SELECT name FROM campaigns WHERE list_id = $1 ORDER BY created_at", id);
    if (!used.empty()) {
      return Status::FailedPrecondition(
          fmt::format("list \"{}\" is used by campaign {}; delete those drafts first "
                      "(`postino campaign rm`), or keep the list for their record",
                      name, NameList(used)));
    }
    pqxx::result m = tx.exec_params("DELETE FROM list_members WHERE list_id = $1", id);
    tx.exec_params("DELETE FROM lists WHERE id = $1", id);
    tx.commit();
    return static_cast<int64_t>(m.affected_rows());
  });
}

Result<Database::SubscriberInfo> PgDatabase::GetSubscriber(const std::string& email) {
  return Guard("reading the subscriber", [&]() -> Result<SubscriberInfo> {
    pqxx::read_transaction tx(*conn_);
    pqxx::result r = tx.exec_params(
        "SELECT s.id, s.email, s.domain, s.status, s.attributes::text, extract(epoch from "
        "s.created_at)::float8, extract(epoch from s.updated_at)::float8, coalesce(sp.reason, '') "
        "FROM subscribers s LEFT JOIN suppressions sp ON sp.email_key = s.email_key "
        "WHERE s.email_key = lower($1)",
        email);
    if (r.empty()) return Status::NotFound(fmt::format("no subscriber with address {}", email));
    SubscriberInfo s;
    s.id = r[0][0].as<int64_t>();
    s.email = Str(r[0][1]);
    s.domain = Str(r[0][2]);
    s.status = Str(r[0][3]);
    s.attributes_json = Str(r[0][4]);
    s.created_at = FromEpoch(r[0][5].as<double>());
    s.updated_at = FromEpoch(r[0][6].as<double>());
    s.suppression_reason = Str(r[0][7]);
    pqxx::result lists = tx.exec_params(
        "SELECT l.name FROM list_members m JOIN lists l ON l.id = m.list_id "
        "WHERE m.subscriber_id = $1 ORDER BY l.name",
        s.id);
    for (const auto& row : lists) s.lists.push_back(Str(row[0]));
    pqxx::result d = tx.exec_params(
        "SELECT c.name, d.status, coalesce(d.last_reply, ''), d.attempts, extract(epoch from "
        "d.last_attempt_at)::float8 FROM deliveries d JOIN campaigns c ON c.id = d.campaign_id "
        "WHERE d.subscriber_id = $1 ORDER BY d.id DESC LIMIT 20",
        s.id);
    for (const auto& row : d) {
      s.deliveries.push_back(
          {Str(row[0]), Str(row[1]), Str(row[2]), row[3].as<int>(), OptTime(row[4])});
    }
    return s;
  });
}

Result<bool> PgDatabase::UnsubscribeSubscriber(const std::string& email,
                                               const std::string& detail) {
  return Guard("unsubscribing the subscriber", [&]() -> Result<bool> {
    pqxx::work tx(*conn_);
    pqxx::result s = tx.exec_params(
        "UPDATE subscribers SET status = 'unsubscribed', updated_at = now() WHERE email_key = "
        "lower($1) RETURNING email_key",
        email);
    if (s.empty()) return Status::NotFound(fmt::format("no subscriber with address {}", email));
    // The suppression makes it stick even if the subscriber is imported again.
    pqxx::result sp = tx.exec_params(
        "INSERT INTO suppressions (email_key, reason, detail) VALUES ($1, 'unsubscribe', "
        "NULLIF($2, '')) ON CONFLICT (email_key) DO NOTHING",
        Str(s[0][0]), detail);
    tx.commit();
    return sp.affected_rows() > 0;
  });
}

Status PgDatabase::DeleteSubscriber(const std::string& email) {
  return Guard("deleting the subscriber", [&]() -> Status {
    pqxx::work tx(*conn_);
    pqxx::result s = tx.exec_params(
        "SELECT id FROM subscribers WHERE email_key = lower($1) FOR UPDATE", email);
    if (s.empty()) return Status::NotFound(fmt::format("no subscriber with address {}", email));
    int64_t id = s[0][0].as<int64_t>();
    pqxx::result busy = tx.exec_params(
        "SELECT DISTINCT c.name FROM deliveries d JOIN campaigns c ON c.id = d.campaign_id "
        "WHERE d.subscriber_id = $1 AND d.status IN ('pending', 'deferred') AND c.status NOT IN "
        "('finished', 'cancelled') ORDER BY 1",
        id);
    if (!busy.empty()) {
      return Status::FailedPrecondition(fmt::format(
          "{} still has a message to be sent by campaign {}; unsubscribe it first (`postino "
          "subscriber unsubscribe {}`), and delete it once the campaign is over",
          email, NameList(busy), email));
    }
    tx.exec_params("DELETE FROM deliveries WHERE subscriber_id = $1", id);
    tx.exec_params("DELETE FROM subscribers WHERE id = $1", id);  // memberships cascade
    tx.commit();
    return Status::Ok();
  });
}

Result<std::vector<Database::ListRecipient>> PgDatabase::ListRecipients(int64_t list_id,
                                                                        int64_t after_id,
                                                                        int limit) {
  return Guard("reading the list's recipients", [&]() -> Result<std::vector<ListRecipient>> {
    pqxx::read_transaction tx(*conn_);
    pqxx::result r = tx.exec_params(
        "SELECT s.id, s.email, s.domain, s.attributes::text, s.status = 'active' AND "
        "sp.email_key IS NULL FROM list_members m JOIN subscribers s ON s.id = m.subscriber_id "
        "LEFT JOIN suppressions sp ON sp.email_key = s.email_key "
        "WHERE m.list_id = $1 AND s.id > $2 ORDER BY s.id LIMIT $3",
        list_id, after_id, limit);
    std::vector<ListRecipient> out;
    out.reserve(r.size());
    for (const auto& row : r) {
      out.push_back({row[0].as<int64_t>(), Str(row[1]), Str(row[2]), Str(row[3]),
                     row[4].as<bool>()});
    }
    return out;
  });
}

}  // namespace postino::db::internal
