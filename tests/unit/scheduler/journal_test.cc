// journal_test.cc: the journal of unwritten results: round trip, append,
// a torn last line, a corrupt line, removal.
#include "scheduler/journal.h"

#include <gtest/gtest.h>

#include <fstream>

#include "tests/support/process.h"

namespace postino::scheduler {
namespace {

db::AttemptResult Result1(int64_t id) {
  db::AttemptResult r;
  r.delivery_id = id;
  r.campaign_id = 3;
  r.status = "deferred";
  r.code = 451;
  r.enhanced = "4.3.0";
  r.reply = "451 4.3.0 try later \"quoted\" \xC3\xA9";
  r.phase = "rcpt";
  r.source_ip = "127.0.0.1";
  r.mx_host = "mx.example.com";
  r.site = "mx.example.com";
  r.message_id = "abc@example.com";
  r.at = db::TimePoint(std::chrono::seconds(1700000000));
  r.next_attempt_at = r.at + std::chrono::minutes(5);
  r.suppress = true;
  r.email = "a@example.com";
  return r;
}

TEST(JournalTest, PathIsPerNodeAndSafe) {
  EXPECT_EQ(JournalPath("var", "mx-1.example"), "var/postino-journal-mx-1.example.jsonl");
  EXPECT_EQ(JournalPath("/j", "a/b c"), "/j/postino-journal-a_b_c.jsonl");
}

TEST(JournalTest, AppendsAndReadsBack) {
  std::string dir = testing::MakeTempDir("journal");
  std::string path = JournalPath(dir + "/sub", "n1");
  Result<std::vector<db::AttemptResult>> none = ReadJournal(path);
  ASSERT_TRUE(none.ok());
  EXPECT_TRUE(none->empty());
  ASSERT_TRUE(AppendJournal(path, {Result1(1), Result1(2)}).ok());
  ASSERT_TRUE(AppendJournal(path, {Result1(3)}).ok());
  Result<std::vector<db::AttemptResult>> back = ReadJournal(path);
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  ASSERT_EQ(back->size(), 3u);
  const db::AttemptResult& r = (*back)[0];
  db::AttemptResult want = Result1(1);
  EXPECT_EQ(r.delivery_id, 1);
  EXPECT_EQ(r.status, want.status);
  EXPECT_EQ(r.code, want.code);
  EXPECT_EQ(r.reply, want.reply);
  EXPECT_EQ(r.email, want.email);
  EXPECT_TRUE(r.suppress);
  EXPECT_EQ(std::chrono::duration_cast<std::chrono::seconds>(r.next_attempt_at - want.next_attempt_at).count(), 0);
  EXPECT_EQ((*back)[2].delivery_id, 3);
  ASSERT_TRUE(RemoveJournal(path).ok());
  EXPECT_TRUE(ReadJournal(path)->empty());
  EXPECT_TRUE(RemoveJournal(path).ok());  // absent is fine
}

TEST(JournalTest, TornLastLineIsSkippedCorruptLineIsAnError) {
  std::string dir = testing::MakeTempDir("journal");
  std::string path = JournalPath(dir, "n1");
  ASSERT_TRUE(AppendJournal(path, {Result1(1)}).ok());
  std::ofstream(path, std::ios::app) << "{\"delivery_id\": 2, \"camp";  // crash mid-append
  Result<std::vector<db::AttemptResult>> back = ReadJournal(path);
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(back->size(), 1u);

  std::ofstream(path, std::ios::trunc) << "not json\n";
  ASSERT_TRUE(AppendJournal(path, {Result1(1)}).ok());
  Result<std::vector<db::AttemptResult>> bad = ReadJournal(path);
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find(":1:"), std::string::npos) << bad.status().message();
}

}  // namespace
}  // namespace postino::scheduler
