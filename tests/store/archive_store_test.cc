// The archive's store side on real SQLite files (docs/storage.md section 14):
// which cases a file takes and which stay (a dead letter, an update the
// platform has not taken, a case in progress, a young one), that an event
// changed after it was copied stays live, that the index answers for the
// archived ones, and that the audit verification reads archive files and
// the live store as one chain: it passes across two files, and fails when a
// record inside a file is edited even with the file's registered SM3
// recomputed to match.
#include <gtest/gtest.h>
#include <sqlite3.h>

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "common/digest.h"
#include "store/archive.h"
#include "store/sql_rows.h"
#include "store/store.h"
#include "yilian/store/case_reader.h"

namespace yilian::store {
namespace {

constexpr Millis kNow = 1'700'000'000'000;
constexpr Millis kCutoff = kNow - 60'000;
constexpr Millis kOld = kCutoff - 30'000;   // before the cutoff
constexpr Millis kYoung = kCutoff + 30'000;  // after it

class ArchiveStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/yilian_archive_store_test_XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    root_ = tmpl;
    dir_ = root_ + "/data";
    archive_dir_ = dir_ + "/archive";
    auto r = Store::OpenSqlite(dir_, StoreOptions{});
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    store_ = std::move(r.value());
  }
  void TearDown() override {
    store_.reset();
    std::error_code ec;
    std::filesystem::remove_all(root_, ec);
  }

  // One event for `agencies`; its case and deliveries then reach the
  // states below, each change written to the audit trail as the broker
  // writes it ("transitions" records), at `at`.
  Sequence Publish(const std::string& id, const std::vector<std::string>& agencies) {
    StoredEvent e;
    e.event_id = id;
    e.uscc = "91350100M000100Y43";
    e.revision = ++revision_;
    e.type = 1;
    e.agencies = agencies;
    e.payload = "payload of " + id;
    e.published_at = kOld - 1000;
    EXPECT_TRUE(store_->Begin().ok());
    auto seq = store_->InsertEvent(e, kOld - 1000);
    EXPECT_TRUE(seq.ok()) << seq.status().ToString();
    EXPECT_TRUE(store_->Commit().ok());
    return seq.value();
  }

  void Settle(Sequence seq, const std::string& agency, DeliveryState to, Millis at) {
    ASSERT_TRUE(store_->Begin().ok());
    auto row = store_->GetDelivery(seq, agency);
    ASSERT_TRUE(row.ok() && row.value());
    DeliveryRecord r = *row.value();
    const DeliveryState from = r.state;
    const std::uint32_t attempts = r.attempts;
    r.state = to;
    r.updated_at = at;
    r.settled_at = IsSettled(to) ? at : 0;
    auto ok = store_->UpdateDelivery(r, from, attempts);
    ASSERT_TRUE(ok.ok() && ok.value());
    ASSERT_TRUE(store_
                    ->AppendAudit(at, "broker", "transitions",
                                  "delivery seq=" + std::to_string(seq) + " agency=" + agency + " " +
                                      std::string(ToString(from)) + "->" + std::string(ToString(to)))
                    .ok());
    ASSERT_TRUE(store_->Commit().ok());
  }

  void Complete(Sequence seq, Millis at) {
    ASSERT_TRUE(store_->Begin().ok());
    ASSERT_TRUE(store_->SetCaseState(seq, CaseState::kCompleted, at).ok());
    ASSERT_TRUE(
        store_->AppendAudit(at, "broker", "transitions", "case seq=" + std::to_string(seq) + " IN_PROGRESS->COMPLETED")
            .ok());
    ASSERT_TRUE(store_->Commit().ok());
  }

  void Update(Sequence seq, bool acked) {
    ASSERT_TRUE(store_->Begin().ok());
    CaseUpdateRecord u;
    u.seq = seq;
    u.kind = 2;
    u.at = kOld;
    auto id = store_->InsertCaseUpdate(u);
    ASSERT_TRUE(id.ok());
    if (acked) ASSERT_TRUE(store_->AckCaseUpdate(id.value()).ok());
    ASSERT_TRUE(store_->Commit().ok());
  }

  // A completed case: both agencies processed, its update taken.
  Sequence Done(const std::string& id, Millis at) {
    const Sequence seq = Publish(id, {"tax", "bank:ICBC"});
    Settle(seq, "tax", DeliveryState::kProcessed, at);
    Settle(seq, "bank:ICBC", DeliveryState::kProcessed, at);
    Complete(seq, at);
    Update(seq, true);
    return seq;
  }

  Result<ArchiveSegment> Write(std::uint64_t id, Sequence after_seq, std::uint64_t audit_after, Millis cutoff) {
    auto conn = sql::OpenSqlite(dir_ + "/yilian.db");
    EXPECT_TRUE(conn.ok()) << conn.status().ToString();
    return WriteArchiveFile(conn.value().get(), archive_dir_, id, cutoff, kNow, after_seq, audit_after,
                            [](const std::string& stored) { return Sm3Hex(stored); }, ArchiveLimits{});
  }

  std::uint64_t Apply(const ArchiveSegment& seg) {
    EXPECT_TRUE(store_->Begin().ok());
    EXPECT_TRUE(store_->RegisterArchive(seg).ok());
    auto moved = store_->ApplyArchive(seg.id, seg.archived);
    EXPECT_TRUE(moved.ok()) << moved.status().ToString();
    if (seg.audit_last > 0) EXPECT_TRUE(store_->DeleteArchivedAudit(seg.audit_first, seg.audit_last).ok());
    EXPECT_TRUE(store_->MarkArchiveApplied(seg.id).ok());
    EXPECT_TRUE(store_->Commit().ok());
    return moved.ok() ? moved.value() : 0;
  }

  long long Count(const std::string& db, const std::string& sql) {
    sqlite3* h = nullptr;
    long long n = -1;
    if (sqlite3_open_v2(db.c_str(), &h, SQLITE_OPEN_READONLY, nullptr) == SQLITE_OK) {
      sqlite3_stmt* s = nullptr;
      if (sqlite3_prepare_v2(h, sql.c_str(), -1, &s, nullptr) == SQLITE_OK && sqlite3_step(s) == SQLITE_ROW)
        n = sqlite3_column_int64(s, 0);
      sqlite3_finalize(s);
    }
    sqlite3_close_v2(h);
    return n;
  }

  v1::AuditVerifyReport Verify() {
    auto reader = CaseReader::Open(dir_);
    EXPECT_TRUE(reader.ok()) << reader.status().ToString();
    auto report = reader.value()->VerifyAudit({}, archive_dir_);
    EXPECT_TRUE(report.ok()) << report.status().ToString();
    return report.ok() ? report.value() : v1::AuditVerifyReport{};
  }

  std::string root_, dir_, archive_dir_;
  std::unique_ptr<Store> store_;
  std::uint64_t revision_ = 0;
};

TEST_F(ArchiveStoreTest, OnlySettledOldUnchangedCasesMoveAndTheChainVerifiesAcrossFiles) {
  const Sequence done = Done("ev-done", kOld);
  const Sequence dead = Publish("ev-dead", {"tax"});
  Settle(dead, "tax", DeliveryState::kDead, kOld);
  Complete(dead, kOld);  // resolved by hand, say: a dead letter still keeps it live
  const Sequence untaken = Publish("ev-untaken", {"tax"});
  Settle(untaken, "tax", DeliveryState::kProcessed, kOld);
  Complete(untaken, kOld);
  Update(untaken, false);
  const Sequence open = Publish("ev-open", {"tax"});
  const Sequence young = Done("ev-young", kYoung);
  const Sequence changed = Done("ev-changed", kOld);
  const std::uint64_t records = store_->AuditHead().first;

  auto seg = Write(1, 0, 0, kCutoff);
  ASSERT_TRUE(seg.ok()) << seg.status().ToString();
  std::vector<Sequence> copied;
  for (const auto& e : seg.value().archived) copied.push_back(e.seq);
  EXPECT_EQ(copied, (std::vector<Sequence>{done, changed}));
  EXPECT_EQ(seg.value().audit_first, 1u);
  EXPECT_GT(seg.value().audit_last, 1u);
  EXPECT_LT(seg.value().audit_last, records);  // the young records, and the chain's last, stay
  const std::string file = archive_dir_ + "/" + seg.value().file;
  EXPECT_EQ(Count(file, "SELECT COUNT(*) FROM events"), 2);
  EXPECT_EQ(Count(file, "SELECT COUNT(*) FROM deliveries"), 4);

  // ev-changed is replayed after it was copied: it must stay live.
  Settle(changed, "tax", DeliveryState::kPending, kNow);
  EXPECT_EQ(Apply(seg.value()), 1u);

  const std::string db = dir_ + "/yilian.db";
  EXPECT_EQ(Count(db, "SELECT COUNT(*) FROM events WHERE seq = " + std::to_string(done)), 0);
  EXPECT_EQ(Count(db, "SELECT COUNT(*) FROM deliveries WHERE seq = " + std::to_string(done)), 0);
  EXPECT_EQ(Count(db, "SELECT COUNT(*) FROM case_updates WHERE seq = " + std::to_string(done)), 0);
  for (Sequence live : {dead, untaken, open, young, changed})
    EXPECT_EQ(Count(db, "SELECT COUNT(*) FROM events WHERE seq = " + std::to_string(live)), 1) << live;
  EXPECT_EQ(Count(db, "SELECT COUNT(*) FROM archived_events"), 1);

  // The index answers for the archived event, with the content hash.
  ASSERT_TRUE(store_->Begin().ok());
  auto found = store_->FindEvent("ev-done");
  ASSERT_TRUE(found.ok() && found.value());
  EXPECT_TRUE(found.value()->archived);
  EXPECT_EQ(found.value()->seq, done);
  EXPECT_EQ(found.value()->content, Sm3Hex("payload of ev-done"));
  EXPECT_EQ(found.value()->agencies, (std::vector<std::string>{"tax", "bank:ICBC"}));
  // A new revision under the archived id is refused by the insert.
  StoredEvent again;
  again.event_id = "ev-done";
  again.uscc = "91350100M000100Y43";
  again.revision = 99;
  again.payload = "x";
  EXPECT_EQ(store_->InsertEvent(again, kNow).status().code(), StatusCode::kConflict);
  store_->Rollback();

  // Verified as one chain, archive file first.
  v1::AuditVerifyReport report = Verify();
  EXPECT_TRUE(report.intact()) << report.DebugString();
  EXPECT_EQ(report.archive_files(), 1u);
  EXPECT_EQ(report.records(), store_->AuditHead().first);
  // Without the files: the live part, from the archived head on.
  {
    auto reader = CaseReader::Open(dir_);
    auto live_only = reader.value()->VerifyAudit({}, "");
    ASSERT_TRUE(live_only.ok());
    EXPECT_TRUE(live_only.value().intact()) << live_only.value().DebugString();
    EXPECT_EQ(live_only.value().archived_records(), seg.value().audit_last);
    EXPECT_FALSE(live_only.value().archives_checked());
  }

  // A second file later: the young case and the rest of the chain but its last record.
  ASSERT_NO_FATAL_FAILURE(Settle(changed, "tax", DeliveryState::kProcessed, kNow));
  auto second = Write(2, seg.value().last_seq, seg.value().audit_last, kNow + 1);
  ASSERT_TRUE(second.ok()) << second.status().ToString();
  EXPECT_EQ(second.value().audit_first, seg.value().audit_last + 1);
  Apply(second.value());
  // A number is never handed out twice: the next event is after every archived one.
  EXPECT_GT(Publish("ev-next", {"tax"}), young);
  report = Verify();
  EXPECT_TRUE(report.intact()) << report.DebugString();
  EXPECT_EQ(report.archive_files(), 2u);

  // A record edited inside the first file, its registered SM3 made to match:
  // the chain still catches it.
  store_.reset();
  {
    sqlite3* h = nullptr;
    ASSERT_EQ(sqlite3_open_v2(file.c_str(), &h, SQLITE_OPEN_READWRITE, nullptr), SQLITE_OK);
    ASSERT_EQ(sqlite3_exec(h, "UPDATE audit SET body = body || ' ' WHERE id = 2", nullptr, nullptr, nullptr),
              SQLITE_OK);
    sqlite3_close_v2(h);
    auto sm3 = FileSm3(file);
    ASSERT_TRUE(sm3.ok());
    ASSERT_EQ(sqlite3_open_v2((dir_ + "/yilian.db").c_str(), &h, SQLITE_OPEN_READWRITE, nullptr), SQLITE_OK);
    ASSERT_EQ(sqlite3_exec(h, ("UPDATE archives SET sm3 = '" + sm3.value() + "' WHERE id = 1").c_str(), nullptr,
                           nullptr, nullptr),
              SQLITE_OK);
    sqlite3_close_v2(h);
  }
  report = Verify();
  EXPECT_FALSE(report.intact());
  bool edited = false;
  for (const auto& p : report.problems()) edited |= p.find("record 2 (archive archive-000001.db): content does not match") != std::string::npos;
  EXPECT_TRUE(edited) << report.DebugString();
}

}  // namespace
}  // namespace yilian::store
