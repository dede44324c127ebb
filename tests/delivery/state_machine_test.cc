// The delivery state machine against its table in docs/storage.md section 4:
// every input applied to every state (with no attempt, one, and the last
// one), the outcome compared with the document's cell. Then what each
// transition writes into the record.
#include "delivery/state_machine.h"

#include <gtest/gtest.h>

#include <map>
#include <string>

#include "testing/doc_tables.h"

namespace yilian::delivery {
namespace {

using store::DeliveryRecord;
using store::DeliveryState;

constexpr DeliveryState kStates[] = {DeliveryState::kPending,   DeliveryState::kDelivered, DeliveryState::kAccepted,
                                     DeliveryState::kProcessed, DeliveryState::kRejected,  DeliveryState::kDead};
constexpr Input kAllInputs[] = {Input::kHandOver,   Input::kAccepted,    Input::kProcessed,     Input::kRejected,
                                Input::kRetry,      Input::kAckTimeout,  Input::kAdapterLost,   Input::kOperatorRetry,
                                Input::kOperatorReplay, Input::kUnusable};

config::RetryPolicy Policy() {
  config::RetryPolicy p;
  p.initial_backoff_ms = 1000;
  p.max_backoff_ms = 60000;
  p.multiplier = 2.0;
  p.jitter = 0.2;
  p.max_attempts = 5;
  return p;
}

DeliveryRecord Record(DeliveryState state, std::uint32_t attempts) {
  DeliveryRecord r;
  r.seq = 17;
  r.agency = "tax";
  r.uscc = "91110000100000001A";
  r.state = state;
  r.attempts = attempts;
  r.updated_at = 500;
  return r;
}

// The document's table: cell text by (state name, input name).
std::map<std::pair<std::string, std::string>, std::string> DocumentedTable() {
  const std::string doc = testing::ReadTextFile(std::string(YILIAN_SOURCE_DIR) + "/docs/storage.md");
  EXPECT_FALSE(doc.empty());
  std::map<std::pair<std::string, std::string>, std::string> cells;
  for (const auto& table : testing::Tables(testing::Section(doc, "4. Delivery state machine"))) {
    if (table.header.empty() || table.header[0] != "state \\ input") continue;
    for (const auto& row : table.rows)
      for (std::size_t c = 1; c < row.size(); ++c) cells[{row[0], table.header[c]}] = row[c];
  }
  return cells;
}

// Removes a trailing footnote mark (¹ ² ³ ⁴: two or three UTF-8 bytes).
std::string WithoutMark(std::string cell, bool* late_answer) {
  static const std::string kMarks[] = {"\xC2\xB9", "\xC2\xB2", "\xC2\xB3", "\xE2\x81\xB4"};
  *late_answer = false;
  for (const auto& mark : kMarks) {
    if (cell.size() >= mark.size() && cell.compare(cell.size() - mark.size(), mark.size(), mark) == 0) {
      *late_answer = mark == kMarks[0];
      cell.resize(cell.size() - mark.size());
    }
  }
  return cell;
}

TEST(DeliveryStateMachine, EveryStateAndInputDoesWhatTheDocumentedTableSays) {
  const auto cells = DocumentedTable();
  ASSERT_EQ(cells.size(), 6u * kInputs) << "docs/storage.md section 4 should have a 6 x 10 table";
  const config::RetryPolicy policy = Policy();
  int checked = 0;
  for (DeliveryState state : kStates) {
    for (Input input : kAllInputs) {
      auto cell = cells.find({std::string(store::ToString(state)), std::string(ToString(input))});
      ASSERT_NE(cell, cells.end()) << ToString(state) << " x " << ToString(input) << " is not in the table";
      bool late_answer = false;
      const std::string want = WithoutMark(cell->second, &late_answer);
      for (std::uint32_t attempts : {0u, 1u, policy.max_attempts}) {
        // An adapter holds a delivery only after a hand-over.
        if ((state == DeliveryState::kDelivered || state == DeliveryState::kAccepted) && attempts == 0) continue;
        const DeliveryRecord before = Record(state, attempts);
        auto got = Apply(before, {input, 1000, "text", 0, 0.5}, policy);
        const std::string where = std::string(store::ToString(state)) + " x " + std::string(ToString(input)) +
                                  " with " + std::to_string(attempts) + " attempts (table: " + cell->second + ")";
        ++checked;
        if (want == "\xE2\x80\x94" || (late_answer && attempts == 0)) {  // "—"
          ASSERT_FALSE(got.ok()) << where << " should be refused";
          EXPECT_EQ(got.status().code(), StatusCode::kFailedPrecondition) << where;
          EXPECT_NE(got.status().message().find(std::string(ToString(input))), std::string::npos) << where;
          continue;
        }
        ASSERT_TRUE(got.ok()) << where << ": " << got.status().message();
        if (want == "same") {
          EXPECT_FALSE(got.value().changed) << where;
          EXPECT_EQ(got.value().record.state, state) << where;
          EXPECT_EQ(got.value().record.updated_at, before.updated_at) << where;
          continue;
        }
        EXPECT_TRUE(got.value().changed) << where;
        EXPECT_EQ(got.value().record.updated_at, 1000) << where;
        std::string expected = want;
        if (want == "PENDING or DEAD") expected = attempts < policy.max_attempts ? "PENDING" : "DEAD";
        EXPECT_EQ(store::ToString(got.value().record.state), expected) << where;
      }
    }
  }
  EXPECT_GT(checked, 150);
}

TEST(DeliveryStateMachine, AHandOverIsOneMoreAttemptAndClearsTheLastAnswer) {
  DeliveryRecord r = Record(DeliveryState::kPending, 2);
  r.reason = "timed out";
  r.next_attempt_at = 900;
  r.first_delivered_at = 100;
  r.replay = true;
  auto t = Apply(r, {Input::kHandOver, 1000}, Policy());
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(t.value().record.state, DeliveryState::kDelivered);
  EXPECT_EQ(t.value().record.attempts, 3u);
  EXPECT_EQ(t.value().record.next_attempt_at, 0);
  EXPECT_EQ(t.value().record.reason, "");
  EXPECT_EQ(t.value().record.first_delivered_at, 100);  // the first hand-over's time stays
  EXPECT_EQ(t.value().record.last_delivered_at, 1000);
  EXPECT_TRUE(t.value().record.replay);
  EXPECT_EQ(Apply(Record(DeliveryState::kPending, 0), {Input::kHandOver, 1000}, Policy()).value().record
                .first_delivered_at,
            1000);
}

TEST(DeliveryStateMachine, AnswersWriteTheirReferenceOrReasonAndSettle) {
  auto processed = Apply(Record(DeliveryState::kDelivered, 1), {Input::kProcessed, 1000, "TAX-1"}, Policy());
  ASSERT_TRUE(processed.ok());
  EXPECT_EQ(processed.value().record.reference, "TAX-1");
  EXPECT_EQ(processed.value().record.settled_at, 1000);
  auto rejected = Apply(Record(DeliveryState::kAccepted, 1), {Input::kRejected, 1000, "no such bank"}, Policy());
  ASSERT_TRUE(rejected.ok());
  EXPECT_EQ(rejected.value().record.reason, "no such bank");
  EXPECT_EQ(rejected.value().record.settled_at, 1000);
  auto accepted = Apply(Record(DeliveryState::kDelivered, 1), {Input::kAccepted, 1000}, Policy());
  ASSERT_TRUE(accepted.ok());
  EXPECT_EQ(accepted.value().record.accepted_at, 1000);
  EXPECT_EQ(accepted.value().record.settled_at, 0);
}

TEST(DeliveryStateMachine, GoingBackWaitsTheLongerOfTheBackoffAndTheAdaptersWish) {
  const config::RetryPolicy policy = Policy();
  // Attempt 3 of 5, no jitter: 1000 * 2^2 = 4000 ms.
  auto backoff = Apply(Record(DeliveryState::kDelivered, 3), {Input::kRetry, 1000, "busy", 0, 0.0}, policy);
  ASSERT_TRUE(backoff.ok());
  EXPECT_EQ(backoff.value().record.state, DeliveryState::kPending);
  EXPECT_EQ(backoff.value().record.next_attempt_at, 1000 + 4000);
  EXPECT_EQ(backoff.value().record.reason, "busy");
  auto wish = Apply(Record(DeliveryState::kDelivered, 3), {Input::kRetry, 1000, "busy", 30000, 0.0}, policy);
  EXPECT_EQ(wish.value().record.next_attempt_at, 1000 + 30000);
  auto timeout = Apply(Record(DeliveryState::kDelivered, 1), {Input::kAckTimeout, 1000, "no answer", 0, 0.0}, policy);
  EXPECT_EQ(timeout.value().record.next_attempt_at, 1000 + 1000);
  auto lost = Apply(Record(DeliveryState::kDelivered, 1), {Input::kAdapterLost, 1000, "lost", 0, 0.0}, policy);
  EXPECT_EQ(lost.value().record.state, DeliveryState::kPending);
  EXPECT_EQ(lost.value().record.next_attempt_at, 0);  // at once
  auto last = Apply(Record(DeliveryState::kDelivered, 5), {Input::kAdapterLost, 1000, "lost", 0, 0.0}, policy);
  EXPECT_EQ(last.value().record.state, DeliveryState::kDead);
  EXPECT_EQ(last.value().record.settled_at, 1000);
  EXPECT_EQ(last.value().record.reason, "lost");
}

TEST(DeliveryStateMachine, OperatorsReopenWithNoAttempts) {
  DeliveryRecord dead = Record(DeliveryState::kDead, 5);
  dead.settled_at = 900;
  dead.reason = "gave up";
  auto retry = Apply(dead, {Input::kOperatorRetry, 1000, "bank fixed"}, Policy());
  ASSERT_TRUE(retry.ok());
  EXPECT_EQ(retry.value().record.state, DeliveryState::kPending);
  EXPECT_EQ(retry.value().record.attempts, 0u);
  EXPECT_EQ(retry.value().record.settled_at, 0);
  EXPECT_EQ(retry.value().record.reason, "operator retry: bank fixed");
  EXPECT_FALSE(retry.value().record.replay);
  DeliveryRecord processed = Record(DeliveryState::kProcessed, 1);
  processed.reference = "TAX-1";
  auto replay = Apply(processed, {Input::kOperatorReplay, 1000}, Policy());
  ASSERT_TRUE(replay.ok());
  EXPECT_EQ(replay.value().record.state, DeliveryState::kPending);
  EXPECT_EQ(replay.value().record.attempts, 0u);
  EXPECT_TRUE(replay.value().record.replay);
}

TEST(DeliveryStateMachine, UnknownStatesAndInputsAreRefused) {
  EXPECT_FALSE(Apply(Record(static_cast<DeliveryState>(9), 1), {Input::kHandOver, 1000}, Policy()).ok());
  EXPECT_FALSE(Apply(Record(DeliveryState::kPending, 1), {static_cast<Input>(42), 1000}, Policy()).ok());
}

}  // namespace
}  // namespace yilian::delivery
