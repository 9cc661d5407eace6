// campaign_grouping_test.cc: campaigns created with --recipients-per-message
// N > 1 send the recipients of one domain in shared messages (one SMTP
// transaction each), through the real `postino` binary, a real PostgreSQL and
// the scriptable fake MX, which records every transaction's RCPTs and data.
#include <fmt/format.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <map>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "tests/fakemx/fake_mx.h"
#include "tests/integration/postino_fixture.h"
#include "tests/support/testdata.h"

namespace postino::testing {
namespace {

using fakemx::FakeMx;
using fakemx::Message;
using fakemx::Script;

class CampaignGroupingTest : public PostinoTest {
 protected:
  // Template "news": the same for every recipient (only {{campaign.*}}).
  void AddSharedTemplate() {
    std::string html = Write("news.html", "<p>News from {{campaign.name}}</p>\n");
    std::string text = Write("news.txt", "News from {{campaign.name}}\n");
    ProcessResult r = Postino({"template", "add", "news", "--subject",
                               "Announcement: {{campaign.name}}", "--html", html, "--text", text});
    ASSERT_EQ(r.exit_code, 0) << r.err;
  }

  // Template "personal": only its HTML part uses a recipient attribute.
  void AddPersonalTemplate(const std::vector<std::string>& extra = {}) {
    std::string html = Write("personal.html", "<p>Ciao {{first_name}}</p>\n");
    std::string text = Write("personal.txt", "News from {{campaign.name}}\n");
    std::vector<std::string> args = {"template", "add", "personal", "--subject", "News",
                                     "--html",   html,  "--text",   text};
    args.insert(args.end(), extra.begin(), extra.end());
    ProcessResult r = Postino(args);
    ASSERT_EQ(r.exit_code, 0) << r.err;
  }

  // Imports `n` recipients (user<i>@ example.com / example.org /
  // münchen.example in turn) into list "news".
  void ImportList(int n) {
    ProcessResult imp = Postino({"list", "import", "news", WriteRecipients(n)});
    ASSERT_EQ(imp.exit_code, 0) << imp.err;
  }

  void CreateAndLaunch(const std::string& name, const std::string& tpl, int per_message) {
    std::vector<std::string> args = {"campaign", "create", name,
                                     "--list",   "news",   "--template",
                                     tpl,        "--from", "Notizie <news@news.example.com>"};
    if (per_message != 0) {
      args.push_back("--recipients-per-message");
      args.push_back(std::to_string(per_message));
    }
    ProcessResult create = Postino(args);
    ASSERT_EQ(create.exit_code, 0) << create.err;
    ProcessResult launch = Postino({"campaign", "launch", name});
    ASSERT_EQ(launch.exit_code, 0) << launch.err;
  }

  // email -> stored Message-ID of every delivery row.
  std::map<std::string, std::string> MessageIds() {
    std::map<std::string, std::string> out;
    std::string rows =
        Sql("SELECT string_agg(email || ' ' || coalesce(message_id, ''), ';') "
            "FROM deliveries");
    size_t pos = 0;
    while (pos < rows.size()) {
      size_t end = rows.find(';', pos);
      if (end == std::string::npos) end = rows.size();
      std::string row = rows.substr(pos, end - pos);
      size_t space = row.find(' ');
      if (space != std::string::npos) out[row.substr(0, space)] = row.substr(space + 1);
      pos = end + 1;
    }
    return out;
  }
};

// "<a@b>" -> "a@b".
std::string Bare(std::string s) {
  if (s.size() >= 2 && s.front() == '<' && s.back() == '>') s = s.substr(1, s.size() - 2);
  return s;
}

std::string Domain(const std::string& address) { return address.substr(address.rfind('@') + 1); }

// The value of header `name` in a message (first occurrence, unfolded
// continuation lines not joined: the headers checked here are short).
std::string Header(const std::string& data, const std::string& name) {
  std::string header = data.substr(0, data.find("\r\n\r\n"));
  std::string needle = name + ": ";
  size_t at = header.rfind(needle, 0) == 0 ? 0 : header.find("\r\n" + needle);
  if (at == std::string::npos) return "";
  if (at != 0) at += 2;
  size_t end = header.find("\r\n", at);
  return header.substr(at + needle.size(),
                       (end == std::string::npos ? header.size() : end) - at - needle.size());
}

TEST_F(CampaignGroupingTest, SharedMessagesGoOutInOneTransactionPerDomainGroup) {
  FakeMx mx(Script{});
  WriteConfig(mx.port());
  ASSERT_EQ(Postino({"db", "migrate"}).exit_code, 0);
  ImportList(35);  // 12 example.com, 12 example.org, 11 münchen.example
  AddSharedTemplate();
  CreateAndLaunch("grouped", "news", 10);

  ProcessResult run = Postino({"run", "--until-idle"});
  ASSERT_EQ(run.exit_code, 0) << run.err;
  EXPECT_EQ(Sql("SELECT status || ':' || count(*) FROM deliveries GROUP BY status"),
            "delivered:35");
  EXPECT_EQ(Sql("SELECT count(*) FROM delivery_events WHERE status = 'delivered' AND "
                "smtp_code = 250"),
            "35");
  EXPECT_EQ(Sql("SELECT status FROM campaigns WHERE name = 'grouped'"), "finished");

  std::vector<Message> messages = mx.messages();
  std::multiset<std::string> rcpts;
  for (const Message& m : messages) {
    EXPECT_TRUE(m.accepted);
    ASSERT_FALSE(m.rcpts.empty());
    EXPECT_LE(m.rcpts.size(), 10u);
    std::string domain = Domain(Bare(m.rcpts.front()));
    for (const std::string& r : m.rcpts) {
      EXPECT_EQ(Domain(Bare(r)), domain) << "one transaction, one domain";
      rcpts.insert(Bare(r));
    }
  }
  EXPECT_EQ(rcpts.size(), 35u);
  EXPECT_EQ(std::set<std::string>(rcpts.begin(), rcpts.end()).size(), 35u)
      << "every recipient exactly once";
  // One claim takes all 35: per domain a group of 10 and the rest.
  EXPECT_EQ(messages.size(), 6u);

  // A group shares one Message-ID: the header of its message, stored on
  // every delivery row of the group; different groups have different ones.
  std::map<std::string, std::string> ids = MessageIds();
  std::set<std::string> distinct;
  for (const Message& m : messages) {
    std::string header_id = Bare(Header(m.data, "Message-ID"));
    ASSERT_FALSE(header_id.empty()) << m.data.substr(0, 2000);
    distinct.insert(header_id);
    for (const std::string& r : m.rcpts) EXPECT_EQ(Bare(ids[Bare(r)]), header_id) << r;
    // To: is the From mailbox; no recipient in the headers; no one-click
    // unsubscribe (a shared URL could not say who unsubscribes), the mailto stays.
    EXPECT_NE(Header(m.data, "To").find("news@news.example.com"), std::string::npos)
        << m.data.substr(0, 2000);
    EXPECT_EQ(m.data.substr(0, m.data.find("\r\n\r\n")).find("user"), std::string::npos);
    EXPECT_EQ(Header(m.data, "List-Unsubscribe-Post"), "");
    EXPECT_NE(Header(m.data, "List-Unsubscribe").find("mailto:unsubscribe@news.example.com"),
              std::string::npos);
    EXPECT_EQ(Header(m.data, "List-Unsubscribe").find("https://"), std::string::npos);
    EXPECT_NE(m.data.find("News from grouped"), std::string::npos);
  }
  EXPECT_EQ(distinct.size(), messages.size());
  EXPECT_EQ(Sql("SELECT count(DISTINCT message_id) FROM deliveries"),
            std::to_string(messages.size()));

  ProcessResult status = Postino({"campaign", "status", "grouped"});
  EXPECT_NE(status.out.find("grouped: finished 35/35 done"), std::string::npos) << status.out;
  EXPECT_NE(status.out.find("10 recipients per message"), std::string::npos) << status.out;
}

TEST_F(CampaignGroupingTest, TheEngineSplitsAGroupAtMaxRecipientsPerMessage) {
  FakeMx mx(Script{});
  WriteConfig(mx.port(), "[limits]\nmax_recipients_per_message = 4\n");
  ASSERT_EQ(Postino({"db", "migrate"}).exit_code, 0);
  ImportList(30);  // 10 per domain: one group each
  AddSharedTemplate();
  CreateAndLaunch("split", "news", 20);
  ProcessResult run = Postino({"run", "--until-idle"});
  ASSERT_EQ(run.exit_code, 0) << run.err;
  EXPECT_EQ(Sql("SELECT status || ':' || count(*) FROM deliveries GROUP BY status"),
            "delivered:30");
  std::vector<Message> messages = mx.messages();
  size_t total = 0;
  for (const Message& m : messages) {
    EXPECT_LE(m.rcpts.size(), 4u);
    total += m.rcpts.size();
  }
  EXPECT_EQ(total, 30u);
  EXPECT_EQ(messages.size(), 9u);  // 4 + 4 + 2 per domain
  // Each domain's 10 recipients were one group: one Message-ID each.
  EXPECT_EQ(Sql("SELECT count(DISTINCT message_id) FROM deliveries"), "3");
  EXPECT_EQ(Sql("SELECT count(*) FROM (SELECT domain FROM deliveries GROUP BY domain HAVING "
                "count(DISTINCT message_id) = 1) d"),
            "3");
}

TEST_F(CampaignGroupingTest, AGroupTakesOnlyWhatIsLeftOfAWarmupCap) {
  FakeMx mx(Script{});
  std::string today = Sql("SELECT to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD')");
  WriteConfig(mx.port(), "\n[[warmup]]\nsource = \"lo\"\nstart = \"" + today +
                             "\"\ncaps = [25]\n");
  ASSERT_EQ(Postino({"db", "migrate"}).exit_code, 0);
  ImportList(60);  // 20 per domain
  AddSharedTemplate();
  CreateAndLaunch("capped", "news", 10);
  ProcessResult run = Postino({"run", "--until-idle"});
  ASSERT_EQ(run.exit_code, 0) << run.err;
  // Exactly the cap, though groups are 10 each: the last group was cut.
  EXPECT_EQ(Sql("SELECT count(*) FROM deliveries WHERE status = 'delivered'"), "25");
  size_t received = 0;
  for (const Message& m : mx.messages()) received += m.rcpts.size();
  EXPECT_EQ(received, 25u);
  EXPECT_EQ(Sql("SELECT count(*) FROM deliveries WHERE status = 'pending' AND attempts = 0 AND "
                "lease_owner IS NULL"),
            "35");
}

TEST_F(CampaignGroupingTest, ARecipientRejectedAtRcptFailsAloneAndTheGroupIsDelivered) {
  Script script;
  script.override = [](std::string_view verb, std::string_view arg,
                       int) -> std::optional<fakemx::Step> {
    if (verb == "RCPT" && arg.find("<user4@example.org>") != std::string_view::npos) {
      return fakemx::Reply(
          "550 5.1.1 <user4@example.org>: Recipient address rejected: User "
          "unknown in virtual mailbox table");
    }
    return std::nullopt;
  };
  FakeMx mx(script);
  WriteConfig(mx.port());
  ASSERT_EQ(Postino({"db", "migrate"}).exit_code, 0);
  ImportList(30);
  AddSharedTemplate();
  CreateAndLaunch("reject", "news", 10);
  ProcessResult run = Postino({"run", "--until-idle"});
  ASSERT_EQ(run.exit_code, 0) << run.err;

  EXPECT_EQ(Sql("SELECT status FROM deliveries WHERE email = 'user4@example.org'"), "bounced");
  EXPECT_EQ(Sql("SELECT e.smtp_code || ' ' || e.phase FROM delivery_events e JOIN deliveries d "
                "ON d.id = e.delivery_id WHERE d.email = 'user4@example.org'"),
            "550 rcpt");
  EXPECT_EQ(Sql("SELECT status || ':' || count(*) FROM deliveries GROUP BY status ORDER BY 1"),
            "bounced:1\ndelivered:29");
  EXPECT_EQ(Sql("SELECT reason FROM suppressions WHERE email_key = 'user4@example.org'"),
            "hard_bounce");
  EXPECT_EQ(Sql("SELECT count(*) FROM suppressions"), "1");

  // The rejected recipient's group (example.org: 10 recipients) still went
  // out as one transaction with the 9 others.
  std::vector<Message> messages = mx.messages();
  size_t total = 0;
  bool found_group = false;
  for (const Message& m : messages) {
    EXPECT_TRUE(m.accepted);
    total += m.rcpts.size();
    for (const auto& r : m.rcpts) EXPECT_NE(r, "<user4@example.org>");
    if (Domain(Bare(m.rcpts.front())) == "example.org" && m.rcpts.size() == 9) found_group = true;
  }
  EXPECT_EQ(total, 29u);
  EXPECT_TRUE(found_group);
  EXPECT_EQ(messages.size(), 3u);
}

TEST_F(CampaignGroupingTest, ARecipientDeferredAtRcptIsRetriedAloneWithTheGroupsMessageId) {
  auto deferred_once = std::make_shared<std::atomic<bool>>(false);
  Script script;
  script.override = [deferred_once](std::string_view verb, std::string_view arg,
                                    int) -> std::optional<fakemx::Step> {
    if (verb == "RCPT" && arg.find("<user4@example.org>") != std::string_view::npos &&
        !deferred_once->exchange(true)) {
      return fakemx::Reply("450 4.2.1 <user4@example.org>: mailbox busy, try again later");
    }
    return std::nullopt;
  };
  FakeMx mx(script);
  WriteConfig(mx.port(), "[retry]\nschedule = [\"1s\"]\njitter = 0.0\n");
  ASSERT_EQ(Postino({"db", "migrate"}).exit_code, 0);
  ImportList(30);
  AddSharedTemplate();
  CreateAndLaunch("retry", "news", 10);
  ProcessResult first = Postino({"run", "--until-idle"});
  ASSERT_EQ(first.exit_code, 0) << first.err;
  EXPECT_EQ(Sql("SELECT status || ':' || count(*) FROM deliveries GROUP BY status ORDER BY 1"),
            "deferred:1\ndelivered:29");
  EXPECT_EQ(Sql("SELECT status FROM deliveries WHERE email = 'user4@example.org'"), "deferred");
  std::string group_id = Sql("SELECT message_id FROM deliveries WHERE email = 'user1@example.org'");
  ASSERT_FALSE(group_id.empty());
  EXPECT_EQ(Sql("SELECT message_id FROM deliveries WHERE email = 'user4@example.org'"), group_id);
  ASSERT_EQ(mx.messages().size(), 3u);

  std::this_thread::sleep_for(std::chrono::milliseconds(1500));
  ProcessResult second = Postino({"run", "--until-idle"});
  ASSERT_EQ(second.exit_code, 0) << second.err;
  EXPECT_EQ(Sql("SELECT status || ':' || count(*) FROM deliveries GROUP BY status"),
            "delivered:30");
  std::vector<Message> messages = mx.messages();
  ASSERT_EQ(messages.size(), 4u);
  const Message& retry = messages.back();
  ASSERT_EQ(retry.rcpts.size(), 1u);
  EXPECT_EQ(retry.rcpts.front(), "<user4@example.org>");
  // The retry is the same message as far as the recipient can tell.
  EXPECT_EQ(Bare(Header(retry.data, "Message-ID")), Bare(group_id));
  EXPECT_EQ(Sql("SELECT string_agg(e.status || ' ' || (e.message_id = d.message_id)::text, ',' "
                "ORDER BY e.attempt) FROM delivery_events e JOIN deliveries d ON d.id = "
                "e.delivery_id WHERE d.email = 'user4@example.org'"),
            "deferred true,delivered true");
}

TEST_F(CampaignGroupingTest, PersonalisedTemplatesAreRefused) {
  WriteConfig(2525);
  ASSERT_EQ(Postino({"db", "migrate"}).exit_code, 0);
  ImportList(3);
  AddPersonalTemplate();
  ProcessResult r = Postino({"campaign", "create", "g", "--list", "news", "--template", "personal",
                             "--from", "news@news.example.com", "--recipients-per-message", "10"});
  EXPECT_EQ(r.exit_code, 2) << r.out << r.err;
  EXPECT_NE(r.err.find("campaign \"g\" sends 10 recipients per message, but its html template "
                       "uses {{first_name}}, which differs per recipient; use "
                       "--recipients-per-message 1"),
            std::string::npos)
      << r.err;
  EXPECT_EQ(Sql("SELECT count(*) FROM campaigns"), "0");

  // Built-ins differ per recipient too.
  std::string html =
      Write("u.html", "<p>{{campaign.name}} <a href=\"{{unsubscribe_url}}\">x</a>\n");
  ASSERT_EQ(Postino({"template", "add", "u", "--subject", "{{campaign.name}}", "--html", html,
                     "--text", Write("u.txt", "{{recipient.email}}\n")})
                .exit_code,
            0);
  ProcessResult builtin =
      Postino({"campaign", "create", "g", "--list", "news", "--template", "u", "--from",
               "news@news.example.com", "--recipients-per-message", "5"});
  EXPECT_EQ(builtin.exit_code, 2);
  EXPECT_NE(builtin.err.find("its text template uses {{recipient}}"), std::string::npos)
      << builtin.err;

  // A template replaced after `campaign create` is refused at launch.
  AddSharedTemplate();
  ASSERT_EQ(Postino({"campaign", "create", "later", "--list", "news", "--template", "news",
                     "--from", "news@news.example.com", "--recipients-per-message", "10"})
                .exit_code,
            0);
  ProcessResult replace =
      Postino({"template", "add", "news", "--subject", "Hi {{first_name}}", "--html",
               Write("n2.html", "<p>x</p>\n"), "--text", Write("n2.txt", "x\n"), "--replace"});
  ASSERT_EQ(replace.exit_code, 0) << replace.err;
  ProcessResult launch = Postino({"campaign", "launch", "later"});
  EXPECT_EQ(launch.exit_code, 2);
  EXPECT_NE(launch.err.find("campaign \"later\" sends 10 recipients per message, but its subject "
                            "template uses {{first_name}}"),
            std::string::npos)
      << launch.err;
  EXPECT_EQ(Sql("SELECT status FROM campaigns WHERE name = 'later'"), "draft");
}

TEST_F(CampaignGroupingTest, ARunningCampaignThatCannotShareIsPausedWithTheReason) {
  // Settings changed behind postino's back (or by an older version): the
  // engine refuses to render and pauses the campaign instead of failing
  // every recipient.
  FakeMx mx(Script{});
  WriteConfig(mx.port());
  ASSERT_EQ(Postino({"db", "migrate"}).exit_code, 0);
  ImportList(6);
  AddPersonalTemplate();
  CreateAndLaunch("p", "personal", 0);
  Sql("UPDATE campaigns SET settings = settings || '{\"recipients_per_message\": 3}'::jsonb");
  ProcessResult run = Postino({"run", "--until-idle"});
  EXPECT_EQ(run.exit_code, 0) << run.err;
  EXPECT_EQ(Sql("SELECT status FROM campaigns WHERE name = 'p'"), "paused");
  EXPECT_NE(run.err.find("campaign \"p\" sends 3 recipients per message, but its html template "
                         "uses {{first_name}}"),
            std::string::npos)
      << run.err;
  EXPECT_EQ(Sql("SELECT count(*) FROM deliveries WHERE status = 'pending' AND lease_owner IS "
                "NULL"),
            "6");
  EXPECT_TRUE(mx.messages().empty());
}

TEST_F(CampaignGroupingTest, VerpAndOutOfRangeValuesAreRefused) {
  WriteConfig(2525);
  ASSERT_EQ(Postino({"db", "migrate"}).exit_code, 0);
  ImportList(3);
  AddSharedTemplate();
  ProcessResult verp =
      Postino({"campaign", "create", "v", "--list", "news", "--template", "news", "--from",
               "news@news.example.com", "--verp", "--recipients-per-message", "2"});
  EXPECT_EQ(verp.exit_code, 2);
  EXPECT_NE(verp.err.find("--verp cannot be combined with --recipients-per-message 2"),
            std::string::npos)
      << verp.err;
  for (const char* bad : {"0", "1001", "-3"}) {
    ProcessResult r = Postino({"campaign", "create", "v", "--list", "news", "--template", "news",
                               "--from", "news@news.example.com", "--recipients-per-message", bad});
    EXPECT_EQ(r.exit_code, 2) << bad << r.err;
    EXPECT_NE(r.err.find("--recipients-per-message"), std::string::npos) << r.err;
  }
  EXPECT_EQ(Sql("SELECT count(*) FROM campaigns"), "0");
  // VERP alone and 1 recipient per message stay allowed.
  ProcessResult ok =
      Postino({"campaign", "create", "v", "--list", "news", "--template", "news", "--from",
               "news@news.example.com", "--verp", "--recipients-per-message", "1"});
  EXPECT_EQ(ok.exit_code, 0) << ok.err;
  EXPECT_EQ(Sql("SELECT settings::text FROM campaigns"), "{\"verp\": true}");
}

TEST_F(CampaignGroupingTest, ByDefaultEveryRecipientGetsItsOwnTransaction) {
  FakeMx mx(Script{});
  WriteConfig(mx.port());
  ASSERT_EQ(Postino({"db", "migrate"}).exit_code, 0);
  ImportList(12);
  AddSharedTemplate();
  CreateAndLaunch("single", "news", 0);
  ProcessResult run = Postino({"run", "--until-idle"});
  ASSERT_EQ(run.exit_code, 0) << run.err;
  EXPECT_EQ(Sql("SELECT status || ':' || count(*) FROM deliveries GROUP BY status"),
            "delivered:12");
  std::vector<Message> messages = mx.messages();
  ASSERT_EQ(messages.size(), 12u);
  std::set<std::string> rcpts;
  for (const Message& m : messages) {
    ASSERT_EQ(m.rcpts.size(), 1u);
    rcpts.insert(Bare(m.rcpts.front()));
    EXPECT_EQ(Bare(Header(m.data, "To")), Bare(m.rcpts.front()));
    EXPECT_EQ(Header(m.data, "List-Unsubscribe-Post"), "List-Unsubscribe=One-Click");
  }
  EXPECT_EQ(rcpts.size(), 12u);
  EXPECT_EQ(Sql("SELECT count(DISTINCT message_id) FROM deliveries"), "12");
  ProcessResult status = Postino({"campaign", "status", "single"});
  EXPECT_EQ(status.out.find("recipients per message"), std::string::npos) << status.out;
}

}  // namespace
}  // namespace postino::testing
