// The adapter's journal: its transition table, what survives reopening the
// file (a restart), the guard against another agency's file, and pruning.
#include "sdk/journal.h"

#include <gtest/gtest.h>

#include "testing/process.h"

namespace yilian::adapter {
namespace {

JournalEntry Entry(const std::string& id, EntryState state, AgencyAnswer answer = AgencyAnswer::Pending()) {
  JournalEntry e;
  e.event_id = EventId(id);
  e.agency = AgencyId("tax");
  e.uscc = Uscc("91350206000000007X");
  e.sequence = 7;
  e.attempt = 1;
  e.state = state;
  e.answer = std::move(answer);
  return e;
}

class JournalTest : public ::testing::Test {
 protected:
  void SetUp() override { dir_ = testing::MakeTempDir("yilian-journal-test"); }
  void TearDown() override { testing::RemoveTree(dir_); }
  std::unique_ptr<Journal> Open(const std::string& agency = "tax") {
    auto j = Journal::Open(dir_ + "/results.db", AgencyId(agency), &clock_);
    EXPECT_TRUE(j.ok()) << j.status().ToString();
    return j.ok() ? std::move(j.value()) : nullptr;
  }
  std::string dir_;
  ManualClock clock_;
};

TEST(JournalTransitions, Table) {
  using S = EntryState;
  std::optional<S> none;
  EXPECT_TRUE(IsAllowedTransition(none, S::kAtAgency));
  EXPECT_TRUE(IsAllowedTransition(none, S::kAnswerReady));
  EXPECT_FALSE(IsAllowedTransition(none, S::kReported));
  EXPECT_TRUE(IsAllowedTransition(S::kAtAgency, S::kAtAgency));
  EXPECT_TRUE(IsAllowedTransition(S::kAtAgency, S::kAnswerReady));
  EXPECT_TRUE(IsAllowedTransition(S::kAtAgency, S::kReported));
  EXPECT_FALSE(IsAllowedTransition(S::kAnswerReady, S::kAtAgency));
  EXPECT_TRUE(IsAllowedTransition(S::kAnswerReady, S::kAnswerReady));
  EXPECT_TRUE(IsAllowedTransition(S::kAnswerReady, S::kReported));
  EXPECT_FALSE(IsAllowedTransition(S::kReported, S::kAtAgency));
  EXPECT_FALSE(IsAllowedTransition(S::kReported, S::kAnswerReady));
  EXPECT_TRUE(IsAllowedTransition(S::kReported, S::kReported));
  EXPECT_EQ(ToString(S::kAnswerReady), "ANSWER_READY");
}

TEST_F(JournalTest, UnreportedAnswersSurviveReopening) {
  {
    auto j = Open();
    ASSERT_TRUE(j->Record(Entry("e-1", EntryState::kAtAgency)).ok());
    ASSERT_TRUE(j->MarkAcceptedRecorded(EventId("e-1")).ok());
    ASSERT_TRUE(j->Record(Entry("e-2", EntryState::kAnswerReady, AgencyAnswer::Processed("35020600012345"))).ok());
    ASSERT_TRUE(j->Record(Entry("e-3", EntryState::kAnswerReady, AgencyAnswer::Rejected("法定代表人信息不一致"))).ok());
    ASSERT_TRUE(j->MarkReported(EventId("e-3")).ok());
  }
  auto j = Open();
  ASSERT_EQ(j->unfinished().size(), 2u);
  const JournalEntry& e1 = j->unfinished().at("e-1");
  EXPECT_EQ(e1.state, EntryState::kAtAgency);
  EXPECT_TRUE(e1.accepted_recorded);
  EXPECT_EQ(e1.uscc.str(), "91350206000000007X");
  EXPECT_EQ(e1.sequence, 7u);
  const JournalEntry& e2 = j->unfinished().at("e-2");
  EXPECT_EQ(e2.state, EntryState::kAnswerReady);
  EXPECT_EQ(e2.answer.kind, AnswerKind::kProcessed);
  EXPECT_EQ(e2.answer.reference, "35020600012345");
  // Reported entries are not unfinished, but still found (dedupe).
  auto e3 = j->Find(EventId("e-3"));
  ASSERT_TRUE(e3.ok());
  ASSERT_TRUE(e3.value().has_value());
  EXPECT_EQ(e3.value()->state, EntryState::kReported);
  EXPECT_EQ(e3.value()->answer.kind, AnswerKind::kRejected);
  EXPECT_EQ(e3.value()->answer.reason, "法定代表人信息不一致");
  EXPECT_FALSE(j->Find(EventId("e-4")).value().has_value());
}

TEST_F(JournalTest, IllegalTransitionsAreRefused) {
  auto j = Open();
  ASSERT_TRUE(j->Record(Entry("e-1", EntryState::kAnswerReady, AgencyAnswer::Processed("R"))).ok());
  Status back = j->Record(Entry("e-1", EntryState::kAtAgency));
  EXPECT_EQ(back.code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(back.message().find("ANSWER_READY"), std::string::npos);
  EXPECT_FALSE(j->Record(Entry("e-2", EntryState::kReported, AgencyAnswer::Processed("R"))).ok());
}

TEST_F(JournalTest, ReportedRetryIsForgottenSoTheRedeliveryIsSubmittedAgain) {
  auto j = Open();
  ASSERT_TRUE(j->Record(Entry("e-1", EntryState::kAtAgency)).ok());
  ASSERT_TRUE(j->Record(Entry("e-1", EntryState::kAnswerReady, AgencyAnswer::Retry("lost"))).ok());
  ASSERT_TRUE(j->MarkReported(EventId("e-1")).ok());
  EXPECT_FALSE(j->Find(EventId("e-1")).value().has_value());
}

TEST_F(JournalTest, BelongsToOneAgency) {
  Open("tax");
  auto other = Journal::Open(dir_ + "/results.db", AgencyId("bank:ICBC"), &clock_);
  ASSERT_FALSE(other.ok());
  EXPECT_NE(other.status().message().find("belongs to agency 'tax'"), std::string::npos);
}

TEST_F(JournalTest, PruneRemovesOnlyOldReportedEntries) {
  auto j = Open();
  ASSERT_TRUE(j->Record(Entry("old", EntryState::kAnswerReady, AgencyAnswer::Processed("R"))).ok());
  ASSERT_TRUE(j->MarkReported(EventId("old")).ok());
  ASSERT_TRUE(j->Record(Entry("waiting", EntryState::kAtAgency)).ok());
  clock_.Advance(10 * 3600 * 1000);
  ASSERT_TRUE(j->Record(Entry("new", EntryState::kAnswerReady, AgencyAnswer::Processed("R"))).ok());
  ASSERT_TRUE(j->MarkReported(EventId("new")).ok());
  auto pruned = j->Prune(clock_.NowMillis() - 3600 * 1000);
  ASSERT_TRUE(pruned.ok());
  EXPECT_EQ(pruned.value(), 1);
  EXPECT_FALSE(j->Find(EventId("old")).value().has_value());
  EXPECT_TRUE(j->Find(EventId("new")).value().has_value());
  EXPECT_TRUE(j->Find(EventId("waiting")).value().has_value());
}

}  // namespace
}  // namespace yilian::adapter
