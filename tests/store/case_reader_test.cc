// The read side on both backends: the row access (sql_rows.h) against a real
// SQLite file and a private PostgreSQL server (parameters, literals, NULLs,
// batches, snapshots, errors), the PostgreSQL reader's promises (it cannot
// write, it connects again after the server restarted), and CaseReader
// answering exactly the same cases, lists, timelines, statistics and audit
// report on PostgreSQL as on SQLite for the same writes.
#include "yilian/store/case_reader.h"

#include <google/protobuf/util/message_differencer.h>
#include <gtest/gtest.h>
#include <sqlite3.h>

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "store/sql_rows.h"
#include "store/store.h"
#include "testing/postgres.h"
#include "testing/process.h"

namespace yilian::store {
namespace {

using sql::ReadConnection;
using sql::Rows;
using sql::StepResult;
using sql::Use;

constexpr Millis kNow = 1'700'000'000'000;

std::unique_ptr<yilian::testing::TestPostgres> StartPostgres() {
  std::string error;
  auto pg = yilian::testing::TestPostgres::Start({}, &error);
  EXPECT_TRUE(pg) << error;
  return pg;
}

TEST(StoreRowsTest, NumbersParametersInOrderOfFirstUseOutsideQuotesAndComments) {
  std::vector<int> order;
  EXPECT_EQ(sql::PostgresPlaceholders("SELECT a FROM t WHERE b = ?3 AND c = ?1 AND d = ?3 LIMIT ?6", &order),
            "SELECT a FROM t WHERE b = $1 AND c = $2 AND d = $1 LIMIT $3");
  EXPECT_EQ(order, (std::vector<int>{3, 1, 6}));
  EXPECT_EQ(sql::PostgresPlaceholders("SELECT '?1', 'it''s ?2', \"?3\" -- ?4\n, ?5 /* ?6 */ FROM t", &order),
            "SELECT '?1', 'it''s ?2', \"?3\" -- ?4\n, $1 /* ?6 */ FROM t");
  EXPECT_EQ(order, (std::vector<int>{5}));
  EXPECT_EQ(sql::PostgresPlaceholders("SELECT ?12 + ?2, ? FROM t", &order), "SELECT $1 + $2, ? FROM t");
  EXPECT_EQ(order, (std::vector<int>{12, 2}));
  // An unterminated literal is copied as it is (the server reports it).
  EXPECT_EQ(sql::PostgresPlaceholders("SELECT 'abc ?1", &order), "SELECT 'abc ?1");
  EXPECT_TRUE(order.empty());
}

// One table `t (id, name, n)` on either backend, a reader connection on it,
// and a second connection that writes.
class StoreReadConnectionTest : public ::testing::TestWithParam<std::string> {
 protected:
  bool postgres() const { return GetParam() == "postgresql"; }

  void SetUp() override {
    dir_ = yilian::testing::MakeTempDir("yilian-rows-test");
    if (postgres()) {
      pg_ = StartPostgres();
      ASSERT_TRUE(pg_);
    } else {
      ASSERT_EQ(sqlite3_open((dir_ + "/t.db").c_str(), &writer_), SQLITE_OK);
      Write("PRAGMA journal_mode=WAL");
    }
    Write("CREATE TABLE t (id BIGINT PRIMARY KEY, name TEXT NOT NULL, n BIGINT)");
    Write("INSERT INTO t (id, name, n) VALUES (1, 'a?1', 10), (2, 'it''s', 20), (3, '同一', 30), (4, 'none', NULL)");
    auto conn = postgres() ? sql::OpenPostgres(pg_->conninfo()) : sql::OpenSqlite(dir_ + "/t.db");
    ASSERT_TRUE(conn.ok()) << conn.status().ToString();
    conn_ = std::move(conn).value();
  }
  void TearDown() override {
    conn_.reset();
    if (writer_) sqlite3_close(writer_);
    pg_.reset();
    yilian::testing::RemoveTree(dir_);
  }

  // On the second connection, committed at once.
  void Write(const std::string& text) {
    if (postgres()) {
      std::string error;
      yilian::testing::Psql(pg_->conninfo(), text, &error);
      ASSERT_EQ(error, "") << text;
      return;
    }
    char* error = nullptr;
    int rc = sqlite3_exec(writer_, text.c_str(), nullptr, nullptr, &error);
    std::string message = error ? error : "";
    sqlite3_free(error);
    ASSERT_EQ(rc, SQLITE_OK) << message << " in " << text;
  }

  std::unique_ptr<sql::Statement> Prepare(const std::string& text, Rows rows = Rows::kFew) {
    auto stmt = conn_->Prepare(text, rows);
    EXPECT_TRUE(stmt.ok()) << stmt.status().ToString();
    return stmt.ok() ? std::move(stmt).value() : nullptr;
  }

  std::int64_t Count() {
    auto stmt = Prepare("SELECT COUNT(*) FROM t");
    Use u(*stmt);
    EXPECT_EQ(u->Step(), StepResult::kRow) << u->Error("count").ToString();
    return u->Int(0);
  }

  std::string dir_;
  std::unique_ptr<yilian::testing::TestPostgres> pg_;
  sqlite3* writer_ = nullptr;
  std::unique_ptr<ReadConnection> conn_;
};

INSTANTIATE_TEST_SUITE_P(Backends, StoreReadConnectionTest, ::testing::Values("sqlite", "postgresql"),
                         [](const ::testing::TestParamInfo<std::string>& info) { return info.param; });

TEST_P(StoreReadConnectionTest, BindsParametersTheTextUsesAndReadsColumns) {
  // ?2 and ?5 are bound but not used: PostgreSQL gets only ?3 and ?6.
  auto stmt = Prepare("SELECT id, name, n FROM t WHERE name <> '?2' AND n >= ?3 ORDER BY id LIMIT ?6");
  ASSERT_TRUE(stmt);
  for (int run = 0; run < 2; ++run) {  // a statement runs again after Reset
    Use u(*stmt);
    u->Bind(2, "a?1");
    u->Bind(3, std::int64_t{20});
    u->Bind(5, std::int64_t{99});
    u->Bind(6, std::int64_t{5});
    ASSERT_EQ(u->Step(), StepResult::kRow) << u->Error("select").ToString();
    EXPECT_EQ(u->Int(0), 2);
    EXPECT_EQ(u->Text(1), "it's");
    ASSERT_EQ(u->Step(), StepResult::kRow);
    EXPECT_EQ(u->Int(0), 3);
    EXPECT_EQ(u->Text(1), "同一");
    EXPECT_EQ(u->Int(2), 30);
    EXPECT_EQ(u->Step(), StepResult::kDone);
  }
  // The portable forms of counts and flags; NULL reads as 0 and "".
  auto agg = Prepare(
      "SELECT COUNT(*), COUNT(CASE WHEN n > ?1 THEN 1 END), CASE WHEN MAX(n) = 30 THEN 1 ELSE 0 END, "
      "(SELECT n FROM t WHERE id = 4), (SELECT name FROM t WHERE id = 99), COALESCE(MAX(n), 0) - MIN(n) FROM t");
  ASSERT_TRUE(agg);
  Use u(*agg);
  u->Bind(1, std::int64_t{15});
  ASSERT_EQ(u->Step(), StepResult::kRow) << u->Error("aggregate").ToString();
  EXPECT_EQ(u->Int(0), 4);
  EXPECT_EQ(u->Int(1), 2);
  EXPECT_EQ(u->Int(2), 1);
  EXPECT_EQ(u->Int(3), 0);
  EXPECT_EQ(u->Text(4), "");
  EXPECT_EQ(u->Int(5), 20);
  EXPECT_EQ(u->Step(), StepResult::kDone);
}

TEST_P(StoreReadConnectionTest, ManyRowsAreReadInBatchesBesideOtherStatements) {
  Write(
      "WITH RECURSIVE s(i) AS (SELECT 10 UNION ALL SELECT i + 1 FROM s WHERE i < 2509) "
      "INSERT INTO t (id, name, n) SELECT i, 'row', i FROM s");
  auto all = Prepare("SELECT id, n FROM t WHERE id >= ?1 ORDER BY id", Rows::kMany);
  auto one = Prepare("SELECT name FROM t WHERE id = ?1");
  ASSERT_TRUE(all && one);
  ASSERT_TRUE(conn_->BeginSnapshot().ok());
  std::int64_t rows = 0, sum = 0;
  {
    Use u(*all);
    u->Bind(1, std::int64_t{10});
    for (;;) {
      StepResult rc = u->Step();
      if (rc == StepResult::kDone) break;
      ASSERT_EQ(rc, StepResult::kRow) << u->Error("scan").ToString();
      ++rows;
      sum += u->Int(0);
      EXPECT_EQ(u->Int(1), u->Int(0));
      if (rows % 700 == 0) {  // another statement while the scan is open
        Use v(*one);
        v->Bind(1, u->Int(0));
        ASSERT_EQ(v->Step(), StepResult::kRow) << v->Error("lookup").ToString();
        EXPECT_EQ(v->Text(0), "row");
      }
    }
  }
  EXPECT_TRUE(conn_->EndSnapshot().ok());
  EXPECT_EQ(rows, 2500);
  EXPECT_EQ(sum, (10 + 2509) * 2500 / 2);
  // Outside a snapshot too (PostgreSQL then reads them at once).
  Use u(*all);
  u->Bind(1, std::int64_t{2500});
  int n = 0;
  while (u->Step() == StepResult::kRow) ++n;
  EXPECT_EQ(n, 10);
}

TEST_P(StoreReadConnectionTest, ASnapshotDoesNotSeeWhatIsCommittedAfterItsFirstRead) {
  ASSERT_TRUE(conn_->BeginSnapshot().ok());
  EXPECT_EQ(Count(), 4);
  Write("INSERT INTO t (id, name, n) VALUES (5, 'later', 50)");
  EXPECT_EQ(Count(), 4);
  ASSERT_TRUE(conn_->EndSnapshot().ok());
  ASSERT_TRUE(conn_->BeginSnapshot().ok());
  EXPECT_EQ(Count(), 5);
  ASSERT_TRUE(conn_->EndSnapshot().ok());
  EXPECT_EQ(Count(), 5);  // and without a snapshot
}

TEST_P(StoreReadConnectionTest, AnErrorNamesWhatFailedAndTheSnapshotStillEnds) {
  ASSERT_TRUE(conn_->BeginSnapshot().ok());
  auto bad = conn_->Prepare("SELECT no_such_column FROM t");
  Status error;
  if (!bad.ok()) {
    error = bad.status();  // SQLite compiles it at once
  } else {
    Use u(*bad.value());
    ASSERT_EQ(u->Step(), StepResult::kError);
    error = u->Error("read t");
    EXPECT_EQ(error.message().rfind("read t: ", 0), 0u) << error.ToString();
  }
  EXPECT_FALSE(error.ok());
  EXPECT_NE(error.message().find("no_such_column"), std::string::npos) << error.ToString();
  // PostgreSQL aborted the transaction: it is rolled back, and the
  // connection reads again.
  EXPECT_TRUE(conn_->EndSnapshot().ok());
  ASSERT_TRUE(conn_->BeginSnapshot().ok());
  EXPECT_EQ(Count(), 4);
  EXPECT_TRUE(conn_->EndSnapshot().ok());
}

TEST_P(StoreReadConnectionTest, TheReaderCannotWrite) {
  for (bool in_snapshot : {false, true}) {
    SCOPED_TRACE(in_snapshot ? "in a snapshot" : "outside a snapshot");
    if (in_snapshot) {
      ASSERT_TRUE(conn_->BeginSnapshot().ok());
    }
    auto insert = conn_->Prepare("INSERT INTO t (id, name, n) VALUES (7, 'written', 7)");
    if (insert.ok()) {
      Use u(*insert.value());
      EXPECT_EQ(u->Step(), StepResult::kError);
      EXPECT_FALSE(u->Error("insert").ok());
    }
    if (in_snapshot) {
      EXPECT_TRUE(conn_->EndSnapshot().ok());
    }
  }
  EXPECT_EQ(Count(), 4);
}

TEST_P(StoreReadConnectionTest, TextPostgresqlCannotHoldFindsNothingOrIsRefused) {
  auto stmt = Prepare("SELECT id FROM t WHERE name = ?1");
  ASSERT_TRUE(stmt);
  for (const std::string& text : {std::string("a?1\0x", 5), std::string("\xff\xfe")}) {
    Use u(*stmt);
    u->Bind(1, text);
    StepResult rc = u->Step();
    if (postgres()) {
      // Refused before it reaches the server (which would cut it at the
      // NUL, or fail on the bytes).
      ASSERT_EQ(rc, StepResult::kError);
      EXPECT_EQ(u->Error("find").code(), StatusCode::kInvalidArgument) << u->Error("find").ToString();
    } else {
      EXPECT_EQ(rc, StepResult::kDone);
    }
  }
}

// --- The PostgreSQL reader across a server restart. ---

TEST(PostgresStoreReaderTest, ConnectsAgainOnTheNextCallAfterTheServerRestarted) {
  auto pg = StartPostgres();
  ASSERT_TRUE(pg);
  {
    PostgresOptions options;
    options.conninfo = pg->conninfo();
    auto store = Store::OpenPostgres(options);
    ASSERT_TRUE(store.ok()) << store.status().ToString();
    // Only the broker that holds the lease writes (docs/storage.md section 13).
    auto lead = store.value()->TryLead({"test-node", "tcp://127.0.0.1:1"});
    ASSERT_TRUE(lead.ok() && lead.value()) << lead.status().ToString();
    StoredEvent e;
    e.event_id = "evt-1";
    e.uscc = "91350100M000100Y43";
    e.revision = 1;
    e.type = 1;
    e.agencies = {"tax"};
    e.payload = "p";
    e.published_at = kNow;
    ASSERT_TRUE(store.value()->Begin().ok());
    ASSERT_TRUE(store.value()->InsertEvent(e, kNow).ok());
    ASSERT_TRUE(store.value()->Commit().ok());
  }
  auto reader = CaseReader::OpenPostgres(pg->conninfo());
  ASSERT_TRUE(reader.ok()) << reader.status().ToString();
  auto before = reader.value()->LoadCase("evt-1");
  ASSERT_TRUE(before.ok() && before.value()) << before.status().ToString();

  std::string error;
  ASSERT_TRUE(pg->StopPrimary(&error)) << error;
  auto down = reader.value()->LoadCase("evt-1");
  ASSERT_FALSE(down.ok());
  EXPECT_EQ(down.status().code(), StatusCode::kUnavailable) << down.status().ToString();
  ASSERT_TRUE(pg->StartPrimary(&error)) << error;
  // Connection attempts are spaced (at most 100 ms after the failed one):
  // poll, and each call is one attempt.
  Result<std::optional<v1::Case>> after = Status::Unavailable("not yet");
  EXPECT_TRUE(yilian::testing::PollUntil(
      [&] {
        after = reader.value()->LoadCase("evt-1");
        return after.ok();
      },
      10000))
      << after.status().ToString();
  ASSERT_TRUE(after.ok() && after.value());
  EXPECT_EQ(after.value()->sequence(), before.value()->sequence());

  // A restart between two calls is not seen at all: the next call connects
  // again and goes on.
  ASSERT_TRUE(pg->StopPrimary(&error)) << error;
  ASSERT_TRUE(pg->StartPrimary(&error)) << error;
  auto list = reader.value()->ListCases(CaseFilter{});
  ASSERT_TRUE(list.ok()) << list.status().ToString();
  EXPECT_EQ(list.value().cases_size(), 1);
}

TEST(PostgresStoreReaderTest, AnUnreachableServerIsUnavailable) {
  const int port = yilian::testing::FreeTcpPort();
  auto reader = CaseReader::OpenPostgres("host=127.0.0.1 port=" + std::to_string(port) +
                                         " dbname=yilian user=yilian connect_timeout=5");
  ASSERT_FALSE(reader.ok());
  EXPECT_EQ(reader.status().code(), StatusCode::kUnavailable);
  EXPECT_NE(reader.status().message().find("cannot connect to PostgreSQL"), std::string::npos)
      << reader.status().ToString();
}

// --- CaseReader: the same answers from both stores for the same writes. ---

class StoreReadersAgreeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = yilian::testing::MakeTempDir("yilian-reader-test");
    pg_ = StartPostgres();
    ASSERT_TRUE(pg_);
    auto sqlite = Store::OpenSqlite(dir_ + "/data", StoreOptions{});
    ASSERT_TRUE(sqlite.ok()) << sqlite.status().ToString();
    PostgresOptions options;
    options.conninfo = pg_->conninfo();
    auto postgres = Store::OpenPostgres(options);
    ASSERT_TRUE(postgres.ok()) << postgres.status().ToString();
    auto lead = postgres.value()->TryLead({"test-node", "tcp://127.0.0.1:1"});
    ASSERT_TRUE(lead.ok() && lead.value()) << lead.status().ToString();
    ASSERT_NO_FATAL_FAILURE(Fill(*sqlite.value()));
    ASSERT_NO_FATAL_FAILURE(Fill(*postgres.value()));
    auto a = CaseReader::Open(dir_ + "/data");
    ASSERT_TRUE(a.ok()) << a.status().ToString();
    sqlite_ = std::move(a).value();
    auto b = CaseReader::OpenPostgres(pg_->conninfo());
    ASSERT_TRUE(b.ok()) << b.status().ToString();
    postgres_ = std::move(b).value();
  }
  void TearDown() override {
    sqlite_.reset();
    postgres_.reset();
    pg_.reset();
    yilian::testing::RemoveTree(dir_);
  }

  static StoredEvent Event(const std::string& id, const std::string& uscc, std::uint64_t revision,
                           std::vector<std::string> agencies, Millis published_at) {
    StoredEvent e;
    e.event_id = id;
    e.uscc = uscc;
    e.revision = revision;
    e.type = 1;
    e.agencies = std::move(agencies);
    e.payload = "payload of " + id;
    e.published_at = published_at;
    e.enterprise_name = "厦门" + uscc.substr(14) + "有限公司";
    return e;
  }

  // Moves a delivery to `to` as the broker would record it.
  static void Settle(Store& s, Sequence seq, const std::string& agency, DeliveryState to, const std::string& reference,
                     Millis at) {
    auto got = s.GetDelivery(seq, agency);
    ASSERT_TRUE(got.ok() && got.value()) << agency;
    DeliveryRecord r = *got.value();
    const DeliveryState from = r.state;
    const std::uint32_t attempts = r.attempts;
    r.state = to;
    r.attempts = attempts + 1;
    r.updated_at = at;
    r.first_delivered_at = at - 10;
    r.last_delivered_at = at - 10;
    if (to == DeliveryState::kProcessed) r.reference = reference;
    if (to == DeliveryState::kRejected) r.reason = "refused: " + reference;
    if (IsSettled(to)) r.settled_at = at;
    auto ok = s.UpdateDelivery(r, from, attempts);
    ASSERT_TRUE(ok.ok() && ok.value()) << ok.status().ToString();
  }

  // The same writes on either store: 3 enterprises, 26 events, deliveries
  // settled every way, a resolution, overdue flags, and an audit trail.
  static void Fill(Store& s) {
    ASSERT_TRUE(s.Begin().ok());
    // Agencies numbered in an order that is not their names' order.
    std::vector<Sequence> seqs;
    auto insert = [&](const StoredEvent& e) {
      auto seq = s.InsertEvent(e, e.published_at);
      ASSERT_TRUE(seq.ok()) << seq.status().ToString();
      seqs.push_back(seq.value());
    };
    ASSERT_NO_FATAL_FAILURE(
        insert(Event("a-1", "91350100M000100A01", 1, {"tax", "bank:ICBC", "housing_fund"}, kNow - 9000)));
    ASSERT_NO_FATAL_FAILURE(insert(Event("a-2", "91350100M000100A01", 2, {"tax", "bank:ICBC"}, kNow - 8000)));
    ASSERT_NO_FATAL_FAILURE(insert(Event("b-1", "91350100M000100B02", 1, {"social_insurance"}, kNow - 7000)));
    ASSERT_NO_FATAL_FAILURE(insert(Event("b-2", "91350100M000100B02", 2, {}, kNow - 6000)));
    for (int i = 0; i < 22; ++i)
      ASSERT_NO_FATAL_FAILURE(
          insert(Event("c-" + std::to_string(i), "91350100M000100C03", static_cast<std::uint64_t>(i + 1),
                       {i % 2 ? "tax" : "housing_fund"}, kNow - 5000 + i * 100)));
    ASSERT_TRUE(s.Commit().ok());

    ASSERT_TRUE(s.Begin().ok());
    ASSERT_NO_FATAL_FAILURE(Settle(s, seqs[0], "tax", DeliveryState::kProcessed, "T-1", kNow - 4000));
    ASSERT_NO_FATAL_FAILURE(Settle(s, seqs[0], "bank:ICBC", DeliveryState::kProcessed, "B-1", kNow - 3900));
    ASSERT_NO_FATAL_FAILURE(Settle(s, seqs[0], "housing_fund", DeliveryState::kRejected, "no account", kNow - 3800));
    ASSERT_TRUE(s.SetCaseState(seqs[0], CaseState::kAttention, 0).ok());
    ASSERT_NO_FATAL_FAILURE(Settle(s, seqs[1], "tax", DeliveryState::kProcessed, "T-2", kNow - 3000));
    // Settled at the same time as a-1's: the later event's reference is the latest.
    ASSERT_NO_FATAL_FAILURE(Settle(s, seqs[1], "bank:ICBC", DeliveryState::kProcessed, "B-2", kNow - 3900));
    ASSERT_TRUE(s.SetCaseState(seqs[1], CaseState::kCompleted, kNow - 3000).ok());
    ASSERT_TRUE(s.SetCaseOverdue(seqs[2]).ok());
    ASSERT_TRUE(s.SetDeliveryOverdue(seqs[2], "social_insurance").ok());
    for (int i = 0; i < 22; i += 3) {
      const std::string agency = i % 2 ? "tax" : "housing_fund";
      ASSERT_NO_FATAL_FAILURE(Settle(s, seqs[4 + i], agency, i % 4 ? DeliveryState::kProcessed : DeliveryState::kDead,
                                     "C-" + std::to_string(i), kNow - 2000 + i));
      ASSERT_TRUE(s.SetCaseState(seqs[4 + i], i % 4 ? CaseState::kCompleted : CaseState::kAttention,
                                 i % 4 ? kNow - 2000 + i : 0)
                      .ok());
    }
    ASSERT_TRUE(s.SetCaseResolution(seqs[5], "handled at the counter", kNow - 1000).ok());
    auto audit = s.AppendAudit(kNow - 900, "broker", "transitions",
                               "delivery seq=1 agency=tax PENDING->PROCESSED\n"
                               "delivery seq=1 agency=bank:ICBC PENDING->PROCESSED\n"
                               "delivery seq=1 agency=housing_fund PENDING->REJECTED\n"
                               "case seq=1 IN_PROGRESS->ATTENTION");
    ASSERT_TRUE(audit.ok()) << audit.status().ToString();
    auto resolve = s.AppendAudit(kNow - 800, "dev", "resolve", "event=c-1 reason=handled at the counter");
    ASSERT_TRUE(resolve.ok()) << resolve.status().ToString();
    ASSERT_TRUE(s.Commit().ok());
  }

  template <typename M>
  static void ExpectSame(const Result<M>& a, const Result<M>& b, const std::string& what) {
    ASSERT_TRUE(a.ok()) << what << ": " << a.status().ToString();
    ASSERT_TRUE(b.ok()) << what << ": " << b.status().ToString();
    EXPECT_TRUE(google::protobuf::util::MessageDifferencer::Equals(a.value(), b.value()))
        << what << "\nSQLite:     " << a.value().ShortDebugString() << "\nPostgreSQL: " << b.value().ShortDebugString();
  }
  template <typename M>
  static void ExpectSame(const Result<std::optional<M>>& a, const Result<std::optional<M>>& b,
                         const std::string& what) {
    ASSERT_TRUE(a.ok()) << what << ": " << a.status().ToString();
    ASSERT_TRUE(b.ok()) << what << ": " << b.status().ToString();
    ASSERT_EQ(a.value().has_value(), b.value().has_value()) << what;
    if (!a.value()) return;
    EXPECT_TRUE(google::protobuf::util::MessageDifferencer::Equals(*a.value(), *b.value()))
        << what << "\nSQLite:     " << a.value()->ShortDebugString()
        << "\nPostgreSQL: " << b.value()->ShortDebugString();
  }

  std::string dir_;
  std::unique_ptr<yilian::testing::TestPostgres> pg_;
  std::unique_ptr<CaseReader> sqlite_;
  std::unique_ptr<CaseReader> postgres_;
};

TEST_F(StoreReadersAgreeTest, CasesWithTheirAgenciesInBytewiseOrder) {
  std::vector<std::string> ids = {"a-1", "a-2", "b-1", "b-2", "nope"};
  for (int i = 0; i < 22; ++i) ids.push_back("c-" + std::to_string(i));
  for (const auto& id : ids) ExpectSame(sqlite_->LoadCase(id), postgres_->LoadCase(id), "case " + id);
  auto c = postgres_->LoadCase("a-1");
  ASSERT_TRUE(c.ok() && c.value());
  ASSERT_EQ(c.value()->agencies_size(), 3);
  EXPECT_EQ(c.value()->agencies(0).agency(), "bank:ICBC");
  EXPECT_EQ(c.value()->agencies(1).agency(), "housing_fund");
  EXPECT_EQ(c.value()->agencies(2).agency(), "tax");
  EXPECT_EQ(c.value()->agencies(2).reference(), "T-1");
  EXPECT_EQ(c.value()->agencies(1).state(), v1::REJECTED);
  EXPECT_EQ(c.value()->state(), v1::ATTENTION);
  EXPECT_EQ(c.value()->enterprise_name(), "厦门0A01有限公司");
}

TEST_F(StoreReadersAgreeTest, ListsWithEachFilterAndTheCursor) {
  std::vector<std::pair<std::string, CaseFilter>> filters;
  filters.push_back({"all", CaseFilter{}});
  CaseFilter f;
  f.uscc = "91350100M000100C03";
  filters.push_back({"uscc", f});
  for (int state = 1; state <= 3; ++state) {
    f = CaseFilter{};
    f.state = state;
    filters.push_back({"state " + std::to_string(state), f});
  }
  for (std::string agency : {"tax", "bank:ICBC", "housing_fund", "nobody"}) {
    f = CaseFilter{};
    f.agency = agency;
    filters.push_back({"agency " + agency, f});
  }
  f = CaseFilter{};
  f.overdue_only = true;
  filters.push_back({"overdue", f});
  f = CaseFilter{};
  f.since = kNow - 4000;
  filters.push_back({"since", f});
  f = CaseFilter{};
  f.uscc = "91350100M000100C03";
  f.state = 2;
  f.agency = "tax";
  f.since = kNow - 4500;
  f.limit = 2;
  filters.push_back({"all filters, 2 a page", f});
  for (const auto& [name, filter] : filters) {
    ExpectSame(sqlite_->ListCases(filter), postgres_->ListCases(filter), "list " + name);
  }
  // Paging with the cursor walks the whole list, newest first, on both.
  for (CaseReader* reader : {sqlite_.get(), postgres_.get()}) {
    CaseFilter page;
    page.limit = 4;
    std::vector<std::uint64_t> seen;
    for (int pages = 0; pages < 20; ++pages) {
      auto list = reader->ListCases(page);
      ASSERT_TRUE(list.ok()) << list.status().ToString();
      for (const auto& c : list.value().cases()) seen.push_back(c.sequence());
      if (list.value().next_cursor().empty()) break;
      page.before = std::stoull(list.value().next_cursor());
    }
    ASSERT_EQ(seen.size(), 26u);
    for (std::size_t i = 0; i < seen.size(); ++i) EXPECT_EQ(seen[i], 26 - i);
  }
  CaseFilter overdue_only;
  overdue_only.overdue_only = true;
  auto overdue = postgres_->ListCases(overdue_only);
  ASSERT_TRUE(overdue.ok());
  ASSERT_EQ(overdue.value().cases_size(), 1);
  EXPECT_EQ(overdue.value().cases(0).event_id(), "b-1");
}

TEST_F(StoreReadersAgreeTest, TimelinesWithEachAgencysLatestReference) {
  for (std::string uscc : {"91350100M000100A01", "91350100M000100B02", "91350100M000100C03", "91350100M000100Z99"})
    ExpectSame(sqlite_->Timeline(uscc), postgres_->Timeline(uscc), "timeline " + uscc);
  auto t = postgres_->Timeline("91350100M000100A01");
  ASSERT_TRUE(t.ok() && t.value());
  EXPECT_EQ(t.value()->events_size(), 2);
  EXPECT_EQ(t.value()->last_revision(), 2u);
  ASSERT_EQ(t.value()->references_size(), 2);
  EXPECT_EQ(t.value()->references(0).agency(), "bank:ICBC");
  EXPECT_EQ(t.value()->references(0).reference(), "B-2");  // a tie: the later event's
  EXPECT_EQ(t.value()->references(1).agency(), "tax");
  EXPECT_EQ(t.value()->references(1).reference(), "T-2");
}

TEST_F(StoreReadersAgreeTest, Statistics) {
  ExpectSame(sqlite_->ComputeStats(kNow, 86400), postgres_->ComputeStats(kNow, 86400), "stats");
  ExpectSame(sqlite_->ComputeStats(kNow, 2), postgres_->ComputeStats(kNow, 2), "stats of the last 2 s");
  auto st = postgres_->ComputeStats(kNow, 86400);
  ASSERT_TRUE(st.ok());
  EXPECT_EQ(st.value().cases(), 26u);
  EXPECT_EQ(st.value().overdue(), 1u);
  EXPECT_GT(st.value().case_median_ms(), 0);
}

TEST_F(StoreReadersAgreeTest, AuditVerification) {
  std::vector<AuditAnchorPoint> none;
  ExpectSame(sqlite_->VerifyAudit(none), postgres_->VerifyAudit(none), "audit");
  auto report = postgres_->VerifyAudit(none);
  ASSERT_TRUE(report.ok());
  EXPECT_EQ(report.value().records(), 2u);
  EXPECT_EQ(report.value().cases_checked(), 26u);
  // The trail names no state for the other rows: those differ, the same
  // on both.
  EXPECT_FALSE(report.value().intact());
  ASSERT_GT(report.value().mismatches_size(), 0);
  std::vector<AuditAnchorPoint> anchors = {{2, report.value().head_hash(), "anchor file line 1"},
                                           {1, "0000", "anchor file line 2"},
                                           {9, "ffff", "anchor file line 3"}};
  ExpectSame(sqlite_->VerifyAudit(anchors), postgres_->VerifyAudit(anchors), "audit with anchors");
}

}  // namespace
}  // namespace yilian::store
