// The case tracking of the server as a unit, without a broker process: a
// real SQLite store in a temporary directory, the turn's context, outbox and
// audit trail, and Tracking between them. What the process-level tests show
// through the wire (tracking_test.cc) is checked here at the seam the
// restructure made.
#include "server/tracking.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <memory>

#include "common/log.h"
#include "server/audit_trail.h"
#include "server/outbox.h"
#include "server/tables.h"
#include "server/turn_context.h"
#include "testing/process.h"

namespace yilian::server {
namespace {

using store::CaseState;
using store::DeliveryState;

class TrackingUnitTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = testing::MakeTempDir("yilian-tracking-unit");
    auto opened = store::Store::OpenSqlite(dir_ + "/data", store::StoreOptions{});
    ASSERT_TRUE(opened.ok()) << opened.status().ToString();
    store_ = std::move(opened).value();
    audit_ = std::make_unique<AuditTrail>(config_, store_.get(), GetLogger("test"));
    tracking_ = std::make_unique<Tracking>(store_.get(), turn_, outbox_, *audit_, metrics_, sessions_, agencies_,
                                           GetLogger("test"));
    tax_ = agencies_.Index("tax");
    social_ = agencies_.Index("social_insurance");
  }
  void TearDown() override {
    tracking_.reset();
    audit_.reset();
    store_.reset();
    testing::RemoveTree(dir_);
  }

  // One turn around `work`, committed, its effects run.
  template <typename F>
  void InTurn(F work) {
    turn_.Begin(++now_);
    tracking_->BeginTurn();
    ASSERT_TRUE(store_->Begin().ok());
    turn_.set_in_transaction(true);
    work();
    ASSERT_TRUE(audit_->Flush(now_, turn_.failed()).ok());
    ASSERT_FALSE(turn_.failed()) << turn_.error().ToString();
    ASSERT_TRUE(store_->Commit().ok());
    turn_.set_in_transaction(false);
    turn_.RunEffects();
  }

  void Settle(Sequence seq, const std::string& agency, DeliveryState state) {
    auto row = store_->GetDelivery(seq, agency);
    ASSERT_TRUE(row.ok() && row.value());
    store::DeliveryRecord r = *row.value();
    const DeliveryState before = r.state;
    r.state = state;
    r.settled_at = now_;
    ASSERT_TRUE(store_->UpdateDelivery(r, before, r.attempts).value());
  }

  std::string dir_;
  config::BrokerConfig config_;
  std::unique_ptr<store::Store> store_;
  TurnContext turn_{GetLogger("test")};
  SessionTable sessions_;
  Outbox outbox_{sessions_, turn_};
  routing::Router router_{config_.agencies};
  Agencies agencies_{router_, GetLogger("test")};
  BrokerMetrics metrics_;
  std::unique_ptr<AuditTrail> audit_;
  std::unique_ptr<Tracking> tracking_;
  int tax_ = -1, social_ = -1;
  Millis now_ = 1'700'000'000'000;
};

TEST_F(TrackingUnitTest, ACaseCompletesWhenItsLastDeliveryIsProcessedAndIsAuditedAndAnnounced) {
  store::StoredEvent e;
  e.event_id = "evt-1";
  e.uscc = "91110000100000001A";
  e.revision = 1;
  e.type = 1;
  e.agencies = {"social_insurance", "tax"};
  e.payload = "x";
  e.published_at = now_;
  Sequence seq = 0;
  InTurn([&] { seq = store_->InsertEvent(e, now_).value(); });
  const auto key = delivery::UsccKey::From(e.uscc);
  // The queues hold what is unsettled: the social insurance delivery still is.
  agencies_[social_]->queue.Append(e.uscc, seq);
  InTurn([&] {
    Settle(seq, "tax", DeliveryState::kProcessed);
    tracking_->StageCaseSettled(seq, key, tax_, DeliveryState::kProcessed, now_);
  });
  EXPECT_EQ(store_->GetCase(seq).value()->state, CaseState::kInProgress);
  EXPECT_FALSE(tracking_->HasOpenUpdates());

  agencies_[social_]->queue.Settle(key, seq);
  InTurn([&] {
    Settle(seq, "social_insurance", DeliveryState::kProcessed);
    tracking_->StageCaseSettled(seq, key, social_, DeliveryState::kProcessed, now_);
  });
  EXPECT_EQ(store_->GetCase(seq).value()->state, CaseState::kCompleted);
  EXPECT_TRUE(tracking_->HasOpenUpdates());  // CASE_COMPLETED for the watchers
  auto [audit_id, hash] = store_->AuditHead();
  EXPECT_GE(audit_id, 1u);
}

TEST_F(TrackingUnitTest, ARejectionNeedsAttentionAndARolledBackTurnLeavesNothing) {
  store::StoredEvent e;
  e.event_id = "evt-2";
  e.uscc = "91110000100000002B";
  e.revision = 1;
  e.type = 1;
  e.agencies = {"tax"};
  e.payload = "x";
  e.published_at = now_;
  Sequence seq = 0;
  InTurn([&] { seq = store_->InsertEvent(e, now_).value(); });
  const auto key = delivery::UsccKey::From(e.uscc);

  // A turn that fails after staging: the store rolls back, no update is open.
  turn_.Begin(++now_);
  ASSERT_TRUE(store_->Begin().ok());
  Settle(seq, "tax", DeliveryState::kRejected);
  tracking_->StageCaseSettled(seq, key, tax_, DeliveryState::kRejected, now_);
  turn_.Fail(Status::IoError("disk full"));
  store_->Rollback();
  turn_.RunEffects();
  EXPECT_FALSE(tracking_->HasOpenUpdates());
  EXPECT_EQ(store_->GetCase(seq).value()->state, CaseState::kInProgress);

  InTurn([&] {
    Settle(seq, "tax", DeliveryState::kRejected);
    tracking_->StageCaseSettled(seq, key, tax_, DeliveryState::kRejected, now_);
  });
  EXPECT_EQ(store_->GetCase(seq).value()->state, CaseState::kAttention);
  EXPECT_TRUE(tracking_->HasOpenUpdates());  // CASE_NEEDS_ATTENTION
}

}  // namespace
}  // namespace yilian::server
