// The store against real files in a fresh temporary directory (SQLite) and
// against a private PostgreSQL server (StoreTest runs on both): what is
// committed is there after a reopen, what is rolled back is not, delivery
// updates are compare-and-set, and recovery sees exactly the unsettled rows.
// SqliteStoreTest holds what only the SQLite store has: its files, its
// lock, its checkpoints and its schema migrations.
#include <gtest/gtest.h>
#include <sqlite3.h>
#include <stdlib.h>

#include <algorithm>
#include <filesystem>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "store/schema.h"
#include "store/store.h"
#include "testing/postgres.h"
#include "testing/process.h"

namespace yilian::store {
namespace {

constexpr Millis kNow = 1'700'000'000'123;

StoredEvent MakeEvent(std::string id, std::string uscc, std::uint64_t revision, std::vector<std::string> agencies,
                      std::string payload) {
  StoredEvent e;
  e.event_id = std::move(id);
  e.uscc = std::move(uscc);
  e.revision = revision;
  e.type = 1;
  e.agencies = std::move(agencies);
  e.payload = std::move(payload);
  e.published_at = kNow - 5;
  return e;
}

// Bytes a text column would cut short: NULs at the start, middle and end.
const std::string kBinaryPayload("\0\x08\x01\x12\x00yilian\xff\xfe\0", 14);

class StoreFixture : public ::testing::Test {
 protected:
  // "sqlite" or "postgresql".
  virtual std::string backend() const { return "sqlite"; }

  void SetUp() override {
    char tmpl[] = "/tmp/yilian_store_test_XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    root_ = tmpl;
    dir_ = root_ + "/data";  // not there yet: Open creates it
  }
  void TearDown() override {
    store_.reset();
    postgres_.reset();
    std::error_code ec;
    if (!root_.empty()) std::filesystem::remove_all(root_, ec);
  }

  void OpenStore() {
    if (backend() == "postgresql") {
      if (!postgres_) {
        std::string error;
        postgres_ = yilian::testing::TestPostgres::Start({}, &error);
        ASSERT_TRUE(postgres_) << error;
      }
      PostgresOptions options;
      options.conninfo = postgres_->conninfo();
      auto r = Store::OpenPostgres(options);
      ASSERT_TRUE(r.ok()) << r.status().ToString();
      store_ = std::move(r.value());
      auto lead = store_->TryLead({"test-node", "tcp://127.0.0.1:1"});
      ASSERT_TRUE(lead.ok() && lead.value()) << lead.status().ToString();
      return;
    }
    auto r = Store::OpenSqlite(dir_, StoreOptions{});
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    store_ = std::move(r.value());
  }
  void Reopen() {
    store_.reset();
    OpenStore();
  }

  Sequence Insert(const StoredEvent& e) {
    EXPECT_TRUE(store_->Begin().ok());
    auto seq = store_->InsertEvent(e, kNow);
    EXPECT_TRUE(seq.ok()) << seq.status().ToString();
    Status c = store_->Commit();
    EXPECT_TRUE(c.ok()) << c.ToString();
    return seq.ok() ? seq.value() : 0;
  }

  DeliveryRecord Get(Sequence seq, const std::string& agency) {
    auto r = store_->GetDelivery(seq, agency);
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    EXPECT_TRUE(r.ok() && r.value().has_value()) << "no delivery " << seq << "/" << agency;
    return r.ok() && r.value() ? *r.value() : DeliveryRecord{};
  }

  // Sets the stored state of one delivery, checking it had `from`.
  void Move(Sequence seq, const std::string& agency, DeliveryState to, std::uint32_t attempts) {
    DeliveryRecord r = Get(seq, agency);
    DeliveryState from = r.state;
    std::uint32_t from_attempts = r.attempts;
    r.state = to;
    r.attempts = attempts;
    auto ok = store_->UpdateDelivery(r, from, from_attempts);
    ASSERT_TRUE(ok.ok()) << ok.status().ToString();
    ASSERT_TRUE(ok.value());
  }

  std::vector<DeliveryRecord> Unsettled() {
    std::vector<DeliveryRecord> rows;
    Status s = store_->ForEachUnsettled([&](const DeliveryRecord& r) { rows.push_back(r); });
    EXPECT_TRUE(s.ok()) << s.ToString();
    return rows;
  }

  std::string root_;
  std::string dir_;
  std::unique_ptr<yilian::testing::TestPostgres> postgres_;
  std::unique_ptr<Store> store_;
};

// What every store promises: runs on each backend.
class StoreTest : public StoreFixture, public ::testing::WithParamInterface<std::string> {
 protected:
  std::string backend() const override { return GetParam(); }
};

INSTANTIATE_TEST_SUITE_P(Backends, StoreTest, ::testing::Values("sqlite", "postgresql"),
                         [](const ::testing::TestParamInfo<std::string>& info) { return info.param; });

// What only the SQLite store has.
class SqliteStoreTest : public StoreFixture {};

TEST_F(SqliteStoreTest, OpenCreatesDirectoryAndFiles) {
  ASSERT_FALSE(std::filesystem::exists(dir_));
  OpenStore();
  EXPECT_TRUE(std::filesystem::is_directory(dir_));
  EXPECT_TRUE(std::filesystem::exists(dir_ + "/yilian.db"));
  EXPECT_TRUE(std::filesystem::exists(dir_ + "/LOCK"));
  auto n = store_->CountEvents();
  ASSERT_TRUE(n.ok()) << n.status().ToString();
  EXPECT_EQ(n.value(), 0);
}

TEST_F(SqliteStoreTest, SecondOpenWhileFirstIsOpenIsRefused) {
  OpenStore();
  auto second = Store::OpenSqlite(dir_, StoreOptions{});
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.status().code(), StatusCode::kUnavailable) << second.status().ToString();
  // The refused open must not have taken the lock away from the first.
  auto third = Store::OpenSqlite(dir_, StoreOptions{});
  EXPECT_EQ(third.status().code(), StatusCode::kUnavailable);
  // Closing the first frees the directory.
  store_.reset();
  auto after = Store::OpenSqlite(dir_, StoreOptions{});
  EXPECT_TRUE(after.ok()) << after.status().ToString();
}

TEST_F(SqliteStoreTest, SynchronousNormalOpens) {
  StoreOptions options;
  options.synchronous = "normal";
  auto r = Store::OpenSqlite(dir_, options);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
}

TEST_P(StoreTest, EmptyStoreAnswersNotFound) {
  OpenStore();
  auto ev = store_->FindEvent("nope");
  ASSERT_TRUE(ev.ok());
  EXPECT_FALSE(ev.value().has_value());
  auto seq = store_->FindSequence("nope");
  ASSERT_TRUE(seq.ok());
  EXPECT_FALSE(seq.value().has_value());
  auto rev = store_->LastRevision("91110000100000001A");
  ASSERT_TRUE(rev.ok());
  EXPECT_EQ(rev.value(), 0u);
  auto d = store_->GetDelivery(1, "tax");
  ASSERT_TRUE(d.ok());
  EXPECT_FALSE(d.value().has_value());
  auto p = store_->LoadPayload(1);
  ASSERT_FALSE(p.ok());
  EXPECT_EQ(p.status().code(), StatusCode::kNotFound);
  EXPECT_TRUE(Unsettled().empty());
}

TEST_P(StoreTest, InsertedEventRoundTrips) {
  OpenStore();
  const std::vector<std::string> agencies = {"bank:ICBC", "housing_fund", "social_insurance", "tax"};
  ASSERT_TRUE(store_->Begin().ok());
  auto seq = store_->InsertEvent(MakeEvent("evt-1", "91110000100000001A", 7, agencies, kBinaryPayload), kNow);
  ASSERT_TRUE(seq.ok()) << seq.status().ToString();
  EXPECT_GT(seq.value(), 0u);

  // Readable inside the transaction that wrote it.
  auto found = store_->FindEvent("evt-1");
  ASSERT_TRUE(found.ok()) << found.status().ToString();
  ASSERT_TRUE(found.value().has_value());
  EXPECT_EQ(found.value()->seq, seq.value());
  EXPECT_EQ(found.value()->agencies, agencies);
  EXPECT_EQ(found.value()->payload.size(), kBinaryPayload.size());
  EXPECT_EQ(found.value()->payload, kBinaryPayload);
  ASSERT_TRUE(store_->Commit().ok());

  auto by_id = store_->FindSequence("evt-1");
  ASSERT_TRUE(by_id.ok());
  EXPECT_EQ(by_id.value(), std::optional<Sequence>(seq.value()));
  auto rev = store_->LastRevision("91110000100000001A");
  ASSERT_TRUE(rev.ok());
  EXPECT_EQ(rev.value(), 7u);
  EXPECT_EQ(store_->LastRevision("91110000100000002B").value(), 0u);
  auto payload = store_->LoadPayload(seq.value());
  ASSERT_TRUE(payload.ok()) << payload.status().ToString();
  EXPECT_EQ(payload.value(), kBinaryPayload);
  EXPECT_EQ(store_->CountEvents().value(), 1);
}

TEST_P(StoreTest, OnePendingDeliveryPerAgency) {
  OpenStore();
  const std::vector<std::string> agencies = {"housing_fund", "social_insurance", "tax"};
  Sequence seq = Insert(MakeEvent("evt-1", "91110000100000001A", 1, agencies, "p"));
  for (const auto& agency : agencies) {
    SCOPED_TRACE(agency);
    DeliveryRecord d = Get(seq, agency);
    EXPECT_EQ(d.seq, seq);
    EXPECT_EQ(d.agency, agency);
    EXPECT_EQ(d.uscc, "91110000100000001A");
    EXPECT_EQ(d.state, DeliveryState::kPending);
    EXPECT_EQ(d.attempts, 0u);
    EXPECT_EQ(d.next_attempt_at, 0);
    EXPECT_EQ(d.updated_at, kNow);
    EXPECT_EQ(d.reference, "");
    EXPECT_EQ(d.reason, "");
  }
  auto other = store_->GetDelivery(seq, "bank:ICBC");
  ASSERT_TRUE(other.ok());
  EXPECT_FALSE(other.value().has_value());
  std::vector<DeliveryRecord> rows = Unsettled();
  ASSERT_EQ(rows.size(), agencies.size());
  for (size_t i = 0; i < rows.size(); ++i) EXPECT_EQ(rows[i].agency, agencies[i]);
}

TEST_P(StoreTest, HandedOverDeliveryIsInsertedDeliveredWithOneAttempt) {
  OpenStore();
  StoredEvent e = MakeEvent("evt-1", "91110000100000001A", 1, {"bank:ICBC", "tax"}, "p");
  e.handed_over = {false, true};
  Sequence seq = Insert(e);
  DeliveryRecord pending = Get(seq, "bank:ICBC");
  EXPECT_EQ(pending.state, DeliveryState::kPending);
  EXPECT_EQ(pending.attempts, 0u);
  EXPECT_EQ(pending.first_delivered_at, 0);
  DeliveryRecord out = Get(seq, "tax");
  EXPECT_EQ(out.state, DeliveryState::kDelivered);
  EXPECT_EQ(out.attempts, 1u);
  EXPECT_EQ(out.first_delivered_at, kNow);
  EXPECT_EQ(out.last_delivered_at, kNow);
  // A restart puts it back with its attempt counted.
  Reopen();
  ASSERT_TRUE(store_->RequeueDelivered().ok());
  out = Get(seq, "tax");
  EXPECT_EQ(out.state, DeliveryState::kPending);
  EXPECT_EQ(out.attempts, 1u);
}

TEST_F(SqliteStoreTest, CommittedPagesReachTheDatabaseFileWhileTheStoreIsOpen) {
  // The broker never waits for a checkpoint: a background connection copies
  // the WAL into yilian.db. Without it nothing would be copied before the
  // WAL reached the fallback threshold (128 MiB).
  OpenStore();
  const std::string db = dir_ + "/yilian.db";
  const auto initial = std::filesystem::file_size(db);
  const std::string payload(1500, 'x');
  for (int i = 0; i < 400; ++i) {
    Insert(MakeEvent("evt-" + std::to_string(i), "91110000100000001A", i + 1, {"tax"}, payload));
  }
  EXPECT_TRUE(yilian::testing::PollUntil([&] { return std::filesystem::file_size(db) >= initial + 400 * 1500; }, 5000))
      << "yilian.db stayed at " << std::filesystem::file_size(db) << " bytes";
}

TEST_P(StoreTest, AResultWithoutTimestampsKeepsTheHandOverTimes) {
  OpenStore();
  Sequence seq = Insert(MakeEvent("evt-1", "91110000100000001A", 1, {"tax"}, "p"));
  ASSERT_TRUE(store_->Begin().ok());
  DeliveryRecord r = Get(seq, "tax");
  r.state = DeliveryState::kDelivered;
  r.attempts = 1;
  r.first_delivered_at = kNow + 1;
  r.last_delivered_at = kNow + 1;
  ASSERT_TRUE(store_->UpdateDelivery(r, DeliveryState::kPending, 0).value());
  // As the broker records a result: the record knows no times but its own.
  DeliveryRecord result;
  result.seq = seq;
  result.agency = "tax";
  result.state = DeliveryState::kProcessed;
  result.attempts = 1;
  result.updated_at = kNow + 2;
  result.reference = "REF-1";
  result.settled_at = kNow + 2;
  ASSERT_TRUE(store_->UpdateDelivery(result, DeliveryState::kDelivered, 1).value());
  EXPECT_FALSE(store_->UpdateDelivery(result, DeliveryState::kDelivered, 1).value()) << "compare-and-set";
  ASSERT_TRUE(store_->Commit().ok());
  DeliveryRecord got = Get(seq, "tax");
  EXPECT_EQ(got.state, DeliveryState::kProcessed);
  EXPECT_EQ(got.reference, "REF-1");
  EXPECT_EQ(got.settled_at, kNow + 2);
  EXPECT_EQ(got.first_delivered_at, kNow + 1);
  EXPECT_EQ(got.last_delivered_at, kNow + 1);
}

TEST_P(StoreTest, EventWithoutAgenciesHasNoDeliveries) {
  OpenStore();
  Sequence seq = Insert(MakeEvent("evt-filed", "91110000100000001A", 1, {}, "p"));
  auto found = store_->FindEvent("evt-filed");
  ASSERT_TRUE(found.ok() && found.value().has_value());
  EXPECT_TRUE(found.value()->agencies.empty());
  EXPECT_EQ(found.value()->seq, seq);
  EXPECT_TRUE(Unsettled().empty());
}

TEST_P(StoreTest, SequencesIncreaseAndRevisionFollowsTheLatestEvent) {
  OpenStore();
  Sequence s1 = Insert(MakeEvent("e1", "91110000100000001A", 1, {"tax"}, "a"));
  Sequence s2 = Insert(MakeEvent("e2", "91110000100000002B", 4, {"tax"}, "b"));
  Sequence s3 = Insert(MakeEvent("e3", "91110000100000001A", 2, {"tax"}, "c"));
  EXPECT_LT(s1, s2);
  EXPECT_LT(s2, s3);
  EXPECT_EQ(store_->LastRevision("91110000100000001A").value(), 2u);
  EXPECT_EQ(store_->LastRevision("91110000100000002B").value(), 4u);
  EXPECT_EQ(store_->LoadPayload(s2).value(), "b");
  EXPECT_EQ(store_->CountEvents().value(), 3);
}

// The broker relies on it: a stored event_id is a conflict that leaves the
// turn's transaction usable, with nothing of the refused event in it.
TEST_P(StoreTest, DuplicateEventIdIsAConflictAndTheTurnGoesOn) {
  OpenStore();
  Insert(MakeEvent("dup", "91110000100000001A", 1, {"tax"}, "a"));
  ASSERT_TRUE(store_->Begin().ok());
  Result<Sequence> before = store_->InsertEvent(MakeEvent("e2", "91110000100000002B", 1, {"tax"}, "b"), kNow);
  ASSERT_TRUE(before.ok()) << before.status().ToString();
  auto again = store_->InsertEvent(MakeEvent("dup", "91110000100000001A", 2, {"tax", "bank:NEW"}, "c"), kNow);
  ASSERT_FALSE(again.ok());
  EXPECT_EQ(again.status().code(), StatusCode::kConflict) << again.status().ToString();
  Result<Sequence> after = store_->InsertEvent(MakeEvent("e3", "91110000100000003C", 1, {"tax"}, "d"), kNow);
  ASSERT_TRUE(after.ok()) << after.status().ToString();
  ASSERT_TRUE(store_->Commit().ok());
  Reopen();
  EXPECT_EQ(store_->CountEvents().value(), 3);
  EXPECT_EQ(store_->LastRevision("91110000100000001A").value(), 1u);
  EXPECT_EQ(store_->LoadPayload(before.value()).value(), "b");
  EXPECT_EQ(store_->LoadPayload(after.value()).value(), "d");
  EXPECT_EQ(Unsettled().size(), 3u);
}

TEST_P(StoreTest, UpdateDeliveryIsCompareAndSet) {
  OpenStore();
  Sequence seq = Insert(MakeEvent("evt-1", "91110000100000001A", 1, {"tax", "social_insurance"}, "p"));

  DeliveryRecord d = Get(seq, "tax");
  d.state = DeliveryState::kDelivered;
  d.attempts = 1;
  d.next_attempt_at = kNow + 1000;
  d.updated_at = kNow + 1;
  d.reason = "first try";
  ASSERT_TRUE(store_->Begin().ok());
  auto ok = store_->UpdateDelivery(d, DeliveryState::kPending, 0);
  ASSERT_TRUE(ok.ok()) << ok.status().ToString();
  EXPECT_TRUE(ok.value());
  ASSERT_TRUE(store_->Commit().ok());

  DeliveryRecord stored = Get(seq, "tax");
  EXPECT_EQ(stored.state, DeliveryState::kDelivered);
  EXPECT_EQ(stored.attempts, 1u);
  EXPECT_EQ(stored.next_attempt_at, kNow + 1000);
  EXPECT_EQ(stored.updated_at, kNow + 1);
  EXPECT_EQ(stored.reason, "first try");
  // The other agency's row is untouched.
  EXPECT_EQ(Get(seq, "social_insurance").state, DeliveryState::kPending);

  DeliveryRecord next = stored;
  next.state = DeliveryState::kProcessed;
  next.reference = "REF-1";
  next.updated_at = kNow + 2;
  // Wrong expected state.
  auto r1 = store_->UpdateDelivery(next, DeliveryState::kPending, 1);
  ASSERT_TRUE(r1.ok());
  EXPECT_FALSE(r1.value());
  // Right state, wrong attempts (an answer to an earlier attempt).
  auto r2 = store_->UpdateDelivery(next, DeliveryState::kDelivered, 0);
  ASSERT_TRUE(r2.ok());
  EXPECT_FALSE(r2.value());
  // No such row.
  DeliveryRecord ghost = next;
  ghost.agency = "customs";
  auto r3 = store_->UpdateDelivery(ghost, DeliveryState::kDelivered, 1);
  ASSERT_TRUE(r3.ok());
  EXPECT_FALSE(r3.value());

  DeliveryRecord unchanged = Get(seq, "tax");
  EXPECT_EQ(unchanged.state, DeliveryState::kDelivered);
  EXPECT_EQ(unchanged.attempts, 1u);
  EXPECT_EQ(unchanged.reference, "");
  EXPECT_EQ(unchanged.updated_at, kNow + 1);

  auto r4 = store_->UpdateDelivery(next, DeliveryState::kDelivered, 1);
  ASSERT_TRUE(r4.ok());
  EXPECT_TRUE(r4.value());
  EXPECT_EQ(Get(seq, "tax").state, DeliveryState::kProcessed);
  EXPECT_EQ(Get(seq, "tax").reference, "REF-1");
}

// Inside a turn, a compare-and-set on a row the turn has not written yet
// and that is not as expected: SQLite answers false at once; PostgreSQL,
// which does not wait for the answers of queued writes, fails the commit
// instead, keeps nothing of the turn and asks the broker to read its state
// again.
TEST_P(StoreTest, ACompareAndSetThatFailsLateFailsTheWholeTurn) {
  OpenStore();
  Sequence seq = Insert(MakeEvent("evt-1", "91110000100000001A", 1, {"tax", "social_insurance"}, "p"));
  ASSERT_TRUE(store_->Begin().ok());
  Sequence other = 0;
  {
    auto r = store_->InsertEvent(MakeEvent("evt-2", "91110000100000002A", 1, {"tax"}, "q"), kNow);
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    other = r.value();
  }
  DeliveryRecord d = Get(seq, "tax");
  d.state = DeliveryState::kProcessed;
  d.attempts = 1;
  auto wrong = store_->UpdateDelivery(d, DeliveryState::kDelivered, 1);  // the row is PENDING, attempts 0
  ASSERT_TRUE(wrong.ok()) << wrong.status().ToString();
  if (GetParam() == "sqlite") {
    EXPECT_FALSE(wrong.value());
    ASSERT_TRUE(store_->Commit().ok());
    EXPECT_EQ(Get(other, "tax").state, DeliveryState::kPending);
    EXPECT_FALSE(store_->TakeReconnected());
  } else {
    EXPECT_TRUE(wrong.value()) << "decided at commit";
    Status c = store_->Commit();
    EXPECT_FALSE(c.ok()) << "the commit of a turn whose compare-and-set failed";
    EXPECT_NE(c.message().find("not in the state the broker holds"), std::string::npos) << c.ToString();
    store_->Rollback();
    EXPECT_TRUE(store_->TakeReconnected()) << "the broker must read its state again";
    auto gone = store_->FindSequence("evt-2");
    ASSERT_TRUE(gone.ok()) << gone.status().ToString();
    EXPECT_FALSE(gone.value().has_value()) << "nothing of the failed turn is kept";
  }
  DeliveryRecord unchanged = Get(seq, "tax");
  EXPECT_EQ(unchanged.state, DeliveryState::kPending);
  EXPECT_EQ(unchanged.attempts, 0u);
  // The store goes on: the next turn commits.
  ASSERT_TRUE(store_->Begin().ok());
  Move(seq, "tax", DeliveryState::kDelivered, 1);
  ASSERT_TRUE(store_->Commit().ok());
  EXPECT_EQ(Get(seq, "tax").state, DeliveryState::kDelivered);
}

// A turn that announces its reads (Prefetch; PostgreSQL reads them in one
// go, SQLite ignores it) gets the same answers as one that does not: the
// stored rows, and this turn's own writes over them. Quoting characters in
// an event id do not break the lookup.
TEST_P(StoreTest, ReadsAnnouncedByPrefetchAnswerAsStoredAndAsWrittenThisTurn) {
  OpenStore();
  const std::string a = "91110000100000001A", b = "91110000100000002B", c = "91110000100000003C";
  Sequence first = Insert(MakeEvent("evt-\"1\\,{x}", a, 3, {"tax", "bank:ICBC"}, "p"));
  ASSERT_TRUE(store_->Begin().ok());
  ASSERT_TRUE(store_->UpsertReference(a, "bank:ICBC", "ACC-1", kNow).ok());
  ASSERT_TRUE(store_->Commit().ok());

  ASSERT_TRUE(store_->Begin().ok());
  TurnReads reads;
  reads.usccs = {a, b, a};
  reads.event_ids = {"evt-\"1\\,{x}", "evt-2", "evt-3"};
  reads.cases = {first, first + 1000};
  ASSERT_TRUE(store_->Prefetch(reads).ok());

  EXPECT_EQ(store_->LastRevision(a).value(), 3u);
  EXPECT_EQ(store_->LastRevision(b).value(), 0u);
  EXPECT_EQ(store_->LastRevision(c).value(), 0u) << "not announced: read from the store";
  EXPECT_EQ(store_->BanksHolding(a).value(), std::vector<std::string>{"bank:ICBC"});
  EXPECT_TRUE(store_->BanksHolding(b).value().empty());
  EXPECT_EQ(store_->FindSequence("evt-\"1\\,{x}").value(), std::optional<Sequence>(first));
  EXPECT_FALSE(store_->FindSequence("evt-2").value().has_value());
  auto again = store_->InsertEvent(MakeEvent("evt-\"1\\,{x}", a, 4, {"tax"}, "q"), kNow);
  EXPECT_EQ(again.status().code(), StatusCode::kConflict) << again.status().ToString();
  auto kase = store_->GetCase(first);
  ASSERT_TRUE(kase.ok() && kase.value().has_value());
  EXPECT_EQ(kase.value()->uscc, a);
  EXPECT_EQ(kase.value()->state, CaseState::kInProgress);
  EXPECT_FALSE(store_->GetCase(first + 1000).value().has_value());

  // This turn's writes over what was read.
  auto second = store_->InsertEvent(MakeEvent("evt-2", b, 7, {"tax"}, "r"), kNow);
  ASSERT_TRUE(second.ok()) << second.status().ToString();
  EXPECT_GT(second.value(), first);
  EXPECT_EQ(store_->LastRevision(b).value(), 7u);
  EXPECT_EQ(store_->FindSequence("evt-2").value(), std::optional<Sequence>(second.value()));
  EXPECT_EQ(store_->InsertEvent(MakeEvent("evt-2", b, 8, {"tax"}, "r"), kNow).status().code(), StatusCode::kConflict);
  ASSERT_TRUE(store_->UpsertReference(b, "bank:CCB", "ACC-2", kNow).ok());
  EXPECT_EQ(store_->BanksHolding(b).value(), std::vector<std::string>{"bank:CCB"});
  ASSERT_TRUE(store_->SetCaseState(first, CaseState::kAttention, 0).ok());
  EXPECT_EQ(store_->GetCase(first).value()->state, CaseState::kAttention);
  auto fresh = store_->GetCase(second.value());
  ASSERT_TRUE(fresh.ok() && fresh.value().has_value());
  EXPECT_EQ(fresh.value()->uscc, b);
  CaseUpdateRecord u;
  u.seq = second.value();
  u.kind = 1;
  u.at = kNow;
  auto u1 = store_->InsertCaseUpdate(u);
  auto u2 = store_->InsertCaseUpdate(u);
  ASSERT_TRUE(u1.ok() && u2.ok());
  EXPECT_LT(u1.value(), u2.value());
  ASSERT_TRUE(store_->Commit().ok());

  // As committed, read without an announcement.
  ASSERT_TRUE(store_->Begin().ok());
  EXPECT_EQ(store_->LastRevision(b).value(), 7u);
  EXPECT_EQ(store_->BanksHolding(b).value(), std::vector<std::string>{"bank:CCB"});
  EXPECT_EQ(store_->GetCase(first).value()->state, CaseState::kAttention);
  EXPECT_EQ(store_->FindSequence("evt-2").value(), std::optional<Sequence>(second.value()));
  std::vector<std::uint64_t> open;
  ASSERT_TRUE(store_->ForEachOpenCaseUpdate([&](const CaseUpdateRecord& r) { open.push_back(r.id); }).ok());
  EXPECT_EQ(open, (std::vector<std::uint64_t>{u1.value(), u2.value()}));
  store_->Rollback();
}

// Numbers given in a turn that rolled back are given again; those of a
// committed turn never are, also after the store is opened again.
TEST_P(StoreTest, SequencesOfARolledBackTurnAreGivenAgainAndCommittedOnesNever) {
  OpenStore();
  Sequence first = Insert(MakeEvent("evt-1", "91110000100000001A", 1, {"tax"}, "p"));
  ASSERT_TRUE(store_->Begin().ok());
  auto lost = store_->InsertEvent(MakeEvent("evt-2", "91110000100000002B", 1, {"tax"}, "p"), kNow);
  ASSERT_TRUE(lost.ok());
  store_->Rollback();
  Sequence second = Insert(MakeEvent("evt-3", "91110000100000003C", 1, {"tax"}, "p"));
  EXPECT_GT(second, first);
  Reopen();
  Sequence third = Insert(MakeEvent("evt-4", "91110000100000004D", 1, {"tax"}, "p"));
  EXPECT_GT(third, second);
  EXPECT_EQ(store_->FindSequence("evt-3").value(), std::optional<Sequence>(second));
  EXPECT_FALSE(store_->FindSequence("evt-2").value().has_value());
}

TEST_P(StoreTest, CommitSurvivesReopen) {
  OpenStore();
  Sequence seq = Insert(MakeEvent("evt-1", "91110000100000001A", 3, {"tax", "bank:ABC"}, kBinaryPayload));
  Move(seq, "tax", DeliveryState::kAccepted, 2);
  Reopen();
  auto found = store_->FindEvent("evt-1");
  ASSERT_TRUE(found.ok() && found.value().has_value());
  EXPECT_EQ(found.value()->seq, seq);
  EXPECT_EQ(found.value()->payload, kBinaryPayload);
  EXPECT_EQ(found.value()->agencies, (std::vector<std::string>{"tax", "bank:ABC"}));
  EXPECT_EQ(store_->LastRevision("91110000100000001A").value(), 3u);
  DeliveryRecord tax = Get(seq, "tax");
  EXPECT_EQ(tax.state, DeliveryState::kAccepted);
  EXPECT_EQ(tax.attempts, 2u);
  EXPECT_EQ(Get(seq, "bank:ABC").state, DeliveryState::kPending);
  // A later event continues the sequence.
  Sequence next = Insert(MakeEvent("evt-2", "91110000100000001A", 4, {"tax"}, "x"));
  EXPECT_GT(next, seq);
}

TEST_P(StoreTest, RollbackDiscardsTheTransaction) {
  OpenStore();
  Sequence kept = Insert(MakeEvent("kept", "91110000100000001A", 1, {"tax"}, "k"));

  ASSERT_TRUE(store_->Begin().ok());
  auto seq = store_->InsertEvent(MakeEvent("dropped", "91110000100000001A", 2, {"tax"}, "d"), kNow);
  ASSERT_TRUE(seq.ok());
  DeliveryRecord d = Get(kept, "tax");
  d.state = DeliveryState::kDelivered;
  d.attempts = 1;
  ASSERT_TRUE(store_->UpdateDelivery(d, DeliveryState::kPending, 0).value());
  store_->Rollback();

  auto check = [&] {
    EXPECT_FALSE(store_->FindEvent("dropped").value().has_value());
    EXPECT_FALSE(store_->FindSequence("dropped").value().has_value());
    EXPECT_EQ(store_->LastRevision("91110000100000001A").value(), 1u);
    EXPECT_EQ(store_->CountEvents().value(), 1);
    DeliveryRecord k = Get(kept, "tax");
    EXPECT_EQ(k.state, DeliveryState::kPending);
    EXPECT_EQ(k.attempts, 0u);
    std::vector<DeliveryRecord> rows = Unsettled();
    ASSERT_EQ(rows.size(), 1u);
    EXPECT_EQ(rows[0].seq, kept);
  };
  check();
  // Rollback outside a transaction is harmless.
  store_->Rollback();
  Reopen();
  check();
}

TEST_P(StoreTest, RequeueDeliveredKeepsAttempts) {
  OpenStore();
  Sequence seq = Insert(MakeEvent("evt-1", "91110000100000001A", 1,
                                  {"a_delivered", "b_accepted", "c_processed", "d_pending", "e_delivered"}, "p"));
  Move(seq, "a_delivered", DeliveryState::kDelivered, 3);
  Move(seq, "b_accepted", DeliveryState::kAccepted, 1);
  Move(seq, "c_processed", DeliveryState::kProcessed, 1);
  Move(seq, "e_delivered", DeliveryState::kDelivered, 1);
  store_.reset();  // as after a crash: the next run recovers

  OpenStore();
  auto n = store_->RequeueDelivered();
  ASSERT_TRUE(n.ok()) << n.status().ToString();
  EXPECT_EQ(n.value(), 2);
  DeliveryRecord a = Get(seq, "a_delivered");
  EXPECT_EQ(a.state, DeliveryState::kPending);
  EXPECT_EQ(a.attempts, 3u);
  DeliveryRecord e = Get(seq, "e_delivered");
  EXPECT_EQ(e.state, DeliveryState::kPending);
  EXPECT_EQ(e.attempts, 1u);
  EXPECT_EQ(Get(seq, "b_accepted").state, DeliveryState::kAccepted);
  EXPECT_EQ(Get(seq, "c_processed").state, DeliveryState::kProcessed);
  EXPECT_EQ(Get(seq, "d_pending").state, DeliveryState::kPending);
  EXPECT_EQ(Get(seq, "d_pending").attempts, 0u);
  // Nothing left to requeue; and it persists.
  EXPECT_EQ(store_->RequeueDelivered().value(), 0);
  Reopen();
  EXPECT_EQ(Get(seq, "a_delivered").state, DeliveryState::kPending);
}

TEST_P(StoreTest, ForEachUnsettledReturnsOnlyUnsettledInSequenceOrder) {
  OpenStore();
  Sequence s1 = Insert(MakeEvent("e1", "91110000100000001A", 1, {"tax", "social_insurance"}, "1"));
  Sequence s2 = Insert(MakeEvent("e2", "91110000100000002B", 1, {"tax", "housing_fund"}, "2"));
  Sequence s3 = Insert(MakeEvent("e3", "91110000100000001A", 2, {"tax", "bank:ICBC"}, "3"));
  Sequence s4 = Insert(MakeEvent("e4", "91110000100000003C", 1, {"tax"}, "4"));
  Move(s1, "tax", DeliveryState::kProcessed, 1);
  Move(s2, "tax", DeliveryState::kRejected, 1);
  Move(s3, "bank:ICBC", DeliveryState::kDead, 10);
  Move(s4, "tax", DeliveryState::kProcessed, 1);
  Move(s2, "housing_fund", DeliveryState::kDelivered, 1);
  Move(s3, "tax", DeliveryState::kAccepted, 2);

  std::vector<DeliveryRecord> rows = Unsettled();
  std::vector<std::pair<Sequence, std::string>> got;
  for (const auto& r : rows) {
    got.emplace_back(r.seq, r.agency);
    EXPECT_FALSE(IsSettled(r.state)) << r.seq << "/" << r.agency << " is " << ToString(r.state);
  }
  EXPECT_EQ(got, (std::vector<std::pair<Sequence, std::string>>{
                     {s1, "social_insurance"}, {s2, "housing_fund"}, {s3, "tax"}}));
  for (size_t i = 1; i < rows.size(); ++i) EXPECT_LE(rows[i - 1].seq, rows[i].seq);
  ASSERT_EQ(rows.size(), 3u);
  EXPECT_EQ(rows[0].uscc, "91110000100000001A");
  EXPECT_EQ(rows[1].state, DeliveryState::kDelivered);
  EXPECT_EQ(rows[2].state, DeliveryState::kAccepted);
  EXPECT_EQ(rows[2].attempts, 2u);
}

TEST_P(StoreTest, ForEachUnsettledIsInSequenceOrderAcrossManyEvents) {
  OpenStore();
  ASSERT_TRUE(store_->Begin().ok());
  for (int i = 0; i < 200; ++i) {
    // Agency names chosen so that agency order and insertion order disagree.
    std::vector<std::string> agencies = {i % 2 ? "z" : "a", "m"};
    auto seq = store_->InsertEvent(
        MakeEvent("e" + std::to_string(i), "9111000010000000" + std::to_string(10 + i % 7), i + 1, agencies, "p"),
        kNow);
    ASSERT_TRUE(seq.ok()) << seq.status().ToString();
  }
  ASSERT_TRUE(store_->Commit().ok());
  std::vector<DeliveryRecord> rows = Unsettled();
  ASSERT_EQ(rows.size(), 400u);
  for (size_t i = 1; i < rows.size(); ++i) {
    ASSERT_LE(rows[i - 1].seq, rows[i].seq) << "row " << i;
    ASSERT_FALSE(rows[i - 1].seq == rows[i].seq && rows[i - 1].agency == rows[i].agency) << "row " << i;
  }
}

// Runs SQL on the closed store's database file.
void ExecOnFile(const std::string& db_path, const std::string& sql) {
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(db_path.c_str(), &db), SQLITE_OK);
  char* err = nullptr;
  int rc = sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &err);
  EXPECT_EQ(rc, SQLITE_OK) << (err ? err : "") << " in " << sql;
  sqlite3_free(err);
  sqlite3_close(db);
}

// Turns the closed store's file back into the version 1 shape: deliveries
// keyed by (seq, agency text), no agency numbering; `with_replay` false
// makes the shape of builds older than the `replay` column.
void RewindToVersion1(const std::string& dir, bool with_replay) {
  const std::string replay_column = with_replay ? "replay INTEGER NOT NULL DEFAULT 0, " : "";
  const std::string replay_value = with_replay ? ", replay" : "";
  ExecOnFile(dir + "/yilian.db", R"sql(
    BEGIN;
    CREATE TABLE deliveries_v1 (
      seq INTEGER NOT NULL, agency TEXT NOT NULL, uscc TEXT NOT NULL, state INTEGER NOT NULL,
      attempts INTEGER NOT NULL, next_attempt_at INTEGER NOT NULL, updated_at INTEGER NOT NULL,
      reference TEXT NOT NULL DEFAULT '', reason TEXT NOT NULL DEFAULT '',
      first_delivered_at INTEGER NOT NULL DEFAULT 0, last_delivered_at INTEGER NOT NULL DEFAULT 0,
      accepted_at INTEGER NOT NULL DEFAULT 0, settled_at INTEGER NOT NULL DEFAULT 0,
      deadline_at INTEGER NOT NULL DEFAULT 0, overdue INTEGER NOT NULL DEFAULT 0, )sql" +
                                       replay_column + R"sql(PRIMARY KEY (seq, agency)) WITHOUT ROWID;
    INSERT INTO deliveries_v1 SELECT seq, agency, uscc, state, attempts, next_attempt_at, updated_at, reference,
      reason, first_delivered_at, last_delivered_at, accepted_at, settled_at, deadline_at, overdue)sql" +
                                       replay_value + R"sql( FROM deliveries;
    DROP TABLE deliveries;
    DROP TABLE agencies;
    ALTER TABLE deliveries_v1 RENAME TO deliveries;
    UPDATE meta SET value = '1' WHERE key = 'schema_version';
    COMMIT;)sql");
}

TEST_F(SqliteStoreTest, Version1StoreIsMigratedWithEveryDelivery) {
  OpenStore();
  Sequence s1 = Insert(MakeEvent("e1", "91110000100000001A", 1, {"tax", "social_insurance"}, "1"));
  Sequence s2 = Insert(MakeEvent("e2", "91110000100000002B", 1, {"bank:ICBC", "tax"}, "2"));
  Move(s1, "tax", DeliveryState::kProcessed, 1);
  Move(s2, "bank:ICBC", DeliveryState::kAccepted, 3);
  store_.reset();
  RewindToVersion1(dir_, /*with_replay=*/true);

  OpenStore();
  EXPECT_EQ(Get(s1, "tax").state, DeliveryState::kProcessed);
  EXPECT_EQ(Get(s1, "social_insurance").state, DeliveryState::kPending);
  DeliveryRecord bank = Get(s2, "bank:ICBC");
  EXPECT_EQ(bank.state, DeliveryState::kAccepted);
  EXPECT_EQ(bank.attempts, 3u);
  EXPECT_EQ(bank.uscc, "91110000100000002B");
  std::vector<DeliveryRecord> rows = Unsettled();
  std::vector<std::pair<Sequence, std::string>> got;
  for (const auto& r : rows) got.emplace_back(r.seq, r.agency);
  std::sort(got.begin(), got.end());
  EXPECT_EQ(got, (std::vector<std::pair<Sequence, std::string>>{
                     {s1, "social_insurance"}, {s2, "bank:ICBC"}, {s2, "tax"}}));
  // Updates find the migrated rows, and a new agency gets a number of its own.
  Move(s2, "tax", DeliveryState::kProcessed, 1);
  Sequence s3 = Insert(MakeEvent("e3", "91110000100000001A", 2, {"housing_fund", "tax"}, "3"));
  Reopen();
  EXPECT_EQ(Get(s2, "tax").state, DeliveryState::kProcessed);
  EXPECT_EQ(Get(s3, "housing_fund").state, DeliveryState::kPending);
  EXPECT_EQ(Get(s3, "tax").state, DeliveryState::kPending);
  EXPECT_FALSE(store_->GetDelivery(s3, "social_insurance").value().has_value());
  auto c = store_->LoadCase(s2);
  ASSERT_TRUE(c.ok() && c.value()) << c.status().ToString();
  ASSERT_EQ(c.value()->agencies_size(), 2);
  EXPECT_EQ(c.value()->agencies(0).agency(), "bank:ICBC");
  EXPECT_EQ(c.value()->agencies(1).agency(), "tax");
}

// The reads select the deliveries columns from the one definition of the
// table: the list is the created table's columns after the key, in order.
TEST_F(SqliteStoreTest, TheDeliveryColumnListIsTheCreatedTables) {
  OpenStore();
  store_.reset();
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open_v2((dir_ + "/yilian.db").c_str(), &db, SQLITE_OPEN_READONLY, nullptr), SQLITE_OK);
  sqlite3_stmt* stmt = nullptr;
  ASSERT_EQ(sqlite3_prepare_v2(db, "SELECT name FROM pragma_table_info('deliveries') ORDER BY cid", -1, &stmt, nullptr),
            SQLITE_OK);
  std::string columns;
  while (sqlite3_step(stmt) == SQLITE_ROW) {
    std::string name = reinterpret_cast<const char*>(sqlite3_column_text(stmt, 0));
    if (name == "id") continue;
    columns += (columns.empty() ? "" : ", ") + name;
  }
  sqlite3_finalize(stmt);
  sqlite3_close(db);
  EXPECT_EQ(DeliveryColumnList(), columns);
  EXPECT_EQ(columns.substr(0, 24), "seq, agency, uscc, state");
  EXPECT_EQ(DeliveryColumnList("d.").substr(0, 14), "d.seq, d.agenc");
}

TEST_F(SqliteStoreTest, FailedMigrationLeavesTheVersion1StoreAsItWas) {
  OpenStore();
  Insert(MakeEvent("e1", "91110000100000001A", 1, {"tax", "social_insurance"}, "1"));
  store_.reset();
  // An older build's version 1 shape: no `replay` column, which the
  // migration copies.
  RewindToVersion1(dir_, /*with_replay=*/false);

  auto r = Store::OpenSqlite(dir_, StoreOptions{});
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("cannot migrate schema version 1 to 2"), std::string::npos)
      << r.status().ToString();
  EXPECT_NE(r.status().message().find("replay"), std::string::npos) << r.status().ToString();
  // Nothing of the migration stayed: version 1, the old deliveries, no
  // agencies table, no half-built copy.
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open_v2((dir_ + "/yilian.db").c_str(), &db, SQLITE_OPEN_READONLY, nullptr), SQLITE_OK);
  auto one = [&](const char* sql) {
    sqlite3_stmt* st = nullptr;
    std::string out;
    if (sqlite3_prepare_v2(db, sql, -1, &st, nullptr) == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW)
      out = reinterpret_cast<const char*>(sqlite3_column_text(st, 0));
    sqlite3_finalize(st);
    return out;
  };
  EXPECT_EQ(one("SELECT value FROM meta WHERE key = 'schema_version'"), "1");
  EXPECT_EQ(one("SELECT COUNT(*) FROM deliveries"), "2");
  EXPECT_EQ(one("SELECT COUNT(*) FROM sqlite_master WHERE name IN ('agencies', 'deliveries_v2')"), "0");
  sqlite3_close(db);
}

TEST_P(StoreTest, AgencyNumberOfARolledBackTurnIsNotKept) {
  OpenStore();
  ASSERT_TRUE(store_->Begin().ok());
  ASSERT_TRUE(store_->InsertEvent(MakeEvent("dropped", "91110000100000001A", 1, {"bank:NEW"}, "d"), kNow).ok());
  store_->Rollback();
  // The next turn numbers another new agency, then the rolled-back one.
  Sequence s1 = Insert(MakeEvent("e1", "91110000100000001A", 1, {"bank:OTHER"}, "1"));
  Sequence s2 = Insert(MakeEvent("e2", "91110000100000001A", 2, {"bank:NEW", "tax"}, "2"));
  Reopen();
  EXPECT_EQ(Get(s1, "bank:OTHER").state, DeliveryState::kPending);
  EXPECT_EQ(Get(s2, "bank:NEW").state, DeliveryState::kPending);
  EXPECT_EQ(Get(s2, "tax").state, DeliveryState::kPending);
  EXPECT_FALSE(store_->GetDelivery(s1, "bank:NEW").value().has_value());
  EXPECT_EQ(Unsettled().size(), 3u);
}

TEST_F(SqliteStoreTest, AgencyBeyondTheKeyRangeIsRefusedAndTheTurnCanRollBack) {
  OpenStore();
  Insert(MakeEvent("e1", "91110000100000001A", 1, {"tax"}, "1"));
  store_.reset();
  ExecOnFile(dir_ + "/yilian.db", "INSERT INTO agencies (id, name) VALUES (65535, 'bank:LAST')");
  OpenStore();
  ASSERT_TRUE(store_->Begin().ok());
  auto r = store_->InsertEvent(MakeEvent("e2", "91110000100000001A", 2, {"bank:ONE_TOO_MANY"}, "2"), kNow);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kResourceExhausted) << r.status().ToString();
  EXPECT_NE(r.status().message().find("bank:ONE_TOO_MANY"), std::string::npos) << r.status().message();
  store_->Rollback();
  // Known agencies go on working.
  Sequence s = Insert(MakeEvent("e3", "91110000100000001A", 2, {"bank:LAST", "tax"}, "3"));
  EXPECT_EQ(Get(s, "bank:LAST").state, DeliveryState::kPending);
  EXPECT_EQ(store_->CountEvents().value(), 2);
}

TEST_F(SqliteStoreTest, UnknownSchemaVersionIsRefused) {
  OpenStore();
  Insert(MakeEvent("evt-1", "91110000100000001A", 1, {"tax"}, "p"));
  store_.reset();

  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open((dir_ + "/yilian.db").c_str(), &db), SQLITE_OK);
  char* err = nullptr;
  int rc = sqlite3_exec(db, "UPDATE meta SET value = '99' WHERE key = 'schema_version'", nullptr, nullptr, &err);
  EXPECT_EQ(rc, SQLITE_OK) << (err ? err : "");
  sqlite3_free(err);
  EXPECT_EQ(sqlite3_changes(db), 1);
  sqlite3_close(db);

  auto r = Store::OpenSqlite(dir_, StoreOptions{});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kFailedPrecondition) << r.status().ToString();
  EXPECT_NE(r.status().message().find("99"), std::string::npos) << r.status().message();
  // The failed open released the directory lock: a second try gives the same
  // answer rather than "in use".
  auto again = Store::OpenSqlite(dir_, StoreOptions{});
  EXPECT_EQ(again.status().code(), StatusCode::kFailedPrecondition) << again.status().ToString();
}

}  // namespace
}  // namespace yilian::store
