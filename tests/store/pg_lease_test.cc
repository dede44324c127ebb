// The PostgreSQL store's promises that only a running server can show
// (docs/storage.md, section 13), with two stores on one private server:
// - the lease: one store leads; a store paused inside a turn past its lease
//   loses it, the other takes over, and nothing of the paused turn is
//   committed (the fence);
// - COMMIT is never cancelled by the statement timeout: it waits for the
//   synchronous standby as long as that takes;
// - a COMMIT whose wait for the standby is cancelled (by an administrator)
//   is reported as not confirmed, although the primary kept it.
// - every connection gives up a silent server after 10 s of unacknowledged
//   data (tcp_user_timeout), unless the connection string says otherwise.
// The synchronous standby is simulated by a synchronous_standby_names that
// no server matches: every COMMIT waits until the setting changes.
#include <future>
#include <memory>
#include <string>

#include <gtest/gtest.h>

#include "store/pg_util.h"
#include "store/store.h"
#include "testing/postgres.h"
#include "testing/process.h"

namespace yilian::store {
namespace {

using yilian::testing::PollUntil;
using yilian::testing::TestPostgres;

constexpr Millis kNow = 1'700'000'000'123;

StoredEvent MakeEvent(const std::string& id, const std::string& uscc) {
  StoredEvent e;
  e.event_id = id;
  e.uscc = uscc;
  e.revision = 1;
  e.type = 1;
  e.agencies = {"tax"};
  e.payload = "p";
  e.published_at = kNow;
  return e;
}

class PgLeaseTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string error;
    TestPostgres::Options options;
    options.synchronous_standby_ready = true;  // WAL senders: commits can wait for a standby
    postgres_ = TestPostgres::Start(options, &error);
    ASSERT_TRUE(postgres_) << error;
  }

  std::unique_ptr<Store> Open(int lease_ms = 5000, int statement_timeout_ms = 10000) {
    PostgresOptions options;
    options.conninfo = postgres_->conninfo();
    options.lease_ms = lease_ms;
    options.statement_timeout_ms = statement_timeout_ms;
    auto r = Store::OpenPostgres(options);
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return r.ok() ? std::move(r).value() : nullptr;
  }

  // Every later COMMIT waits for a standby named "nobody" (or, with "",
  // for none), as seen by a new session.
  void WaitForStandby(const std::string& name) {
    postgres_->psql("ALTER SYSTEM SET synchronous_standby_names = '" + name + "'");
    postgres_->psql("SELECT pg_reload_conf()");
    ASSERT_TRUE(PollUntil([&] { return postgres_->psql("SHOW synchronous_standby_names") == name; }, 10000));
  }

  // The broker store's session waiting for the synchronous standby.
  std::string WaitingForStandby() {
    return postgres_->psql(
        "SELECT count(*) FROM pg_stat_activity WHERE usename = 'yilian' AND wait_event = 'SyncRep'");
  }

  std::unique_ptr<TestPostgres> postgres_;
};

TEST_F(PgLeaseTest, OneStoreLeadsAndAStorePausedInATurnPastItsLeaseCommitsNothing) {
  auto a = Open(/*lease_ms=*/1000);
  auto b = Open(/*lease_ms=*/1000);
  ASSERT_TRUE(a && b);
  ASSERT_TRUE(a->TryLead({"node-a", "tcp://a:7700"}).value());
  auto b_first = b->TryLead({"node-b", "tcp://b:7700"});
  ASSERT_TRUE(b_first.ok()) << b_first.status().ToString();
  EXPECT_FALSE(b_first.value()) << "the lease is a's";
  EXPECT_FALSE(b->leading());
  EXPECT_EQ(b->LeaderEndpoint().value(), "tcp://a:7700");
  EXPECT_FALSE(b->Begin().ok()) << "a standby begins no turn";

  // a begins a turn, writes, and stops there (a pause, a stall).
  ASSERT_TRUE(a->Begin().ok());
  auto seq = a->InsertEvent(MakeEvent("evt-a", "91110000100000001A"), kNow);
  ASSERT_TRUE(seq.ok()) << seq.status().ToString();
  // The last things a sends: writes queued in the pipeline, their answers
  // not awaited, more of them (80 KB) than libpq holds before it sends on
  // its own (64 KiB).
  for (int i = 0; i < 8; ++i)
    ASSERT_TRUE(a->SetCaseResolution(seq.value(), std::string(10000, 'r'), kNow).ok());
  ASSERT_TRUE(a->SetCaseOverdue(seq.value()).ok());

  // b takes over once the server has ended a's idle transaction and the
  // lease has expired.
  ASSERT_TRUE(PollUntil(
      [&] {
        auto r = b->TryLead({"node-b", "tcp://b:7700"});
        return r.ok() && r.value();
      },
      15000));
  EXPECT_EQ(b->LeaderEndpoint().value(), "tcp://b:7700");

  // a resumes: its turn does not commit, and it begins no other.
  EXPECT_FALSE(a->Commit().ok());
  a->Rollback();
  Status again = a->Begin();
  EXPECT_FALSE(again.ok());
  EXPECT_FALSE(a->leading()) << again.ToString();

  ASSERT_TRUE(b->Begin().ok());
  EXPECT_FALSE(b->FindSequence("evt-a").value().has_value()) << "the paused turn's event was committed";
  ASSERT_TRUE(b->InsertEvent(MakeEvent("evt-b", "91110000100000002B"), kNow).ok());
  ASSERT_TRUE(b->Commit().ok());
  EXPECT_EQ(postgres_->psql("SELECT string_agg(event_id, ',') FROM events"), "evt-b");
}

TEST_F(PgLeaseTest, CommitWaitsForTheSynchronousStandbyPastTheStatementTimeout) {
  auto a = Open(/*lease_ms=*/30000, /*statement_timeout_ms=*/100);
  ASSERT_TRUE(a);
  ASSERT_TRUE(a->TryLead({"node-a", "tcp://a:7700"}).value());
  WaitForStandby("nobody");
  ASSERT_TRUE(a->Begin().ok());
  ASSERT_TRUE(a->InsertEvent(MakeEvent("evt-1", "91110000100000001A"), kNow).ok());
  auto commit = std::async(std::launch::async, [&] { return a->Commit(); });
  ASSERT_TRUE(PollUntil([&] { return WaitingForStandby() == "1"; }, 10000));
  // Ten times the statement timeout later, still waiting, not cancelled.
  EXPECT_FALSE(PollUntil([&] { return commit.wait_for(std::chrono::milliseconds(0)) == std::future_status::ready; },
                         1000));
  EXPECT_EQ(WaitingForStandby(), "1");
  WaitForStandby("");  // the standby is back (here: none is needed)
  Status s = commit.get();
  EXPECT_TRUE(s.ok()) << s.ToString();
  EXPECT_EQ(postgres_->psql("SELECT count(*) FROM events WHERE event_id = 'evt-1'"), "1");
}

TEST_F(PgLeaseTest, ACommitWhoseWaitForTheStandbyIsCancelledIsNotConfirmed) {
  auto a = Open();
  ASSERT_TRUE(a);
  ASSERT_TRUE(a->TryLead({"node-a", "tcp://a:7700"}).value());
  WaitForStandby("nobody");
  ASSERT_TRUE(a->Begin().ok());
  ASSERT_TRUE(a->InsertEvent(MakeEvent("evt-1", "91110000100000001A"), kNow).ok());
  auto commit = std::async(std::launch::async, [&] { return a->Commit(); });
  ASSERT_TRUE(PollUntil([&] { return WaitingForStandby() == "1"; }, 10000));
  postgres_->psql("SELECT pg_cancel_backend(pid) FROM pg_stat_activity WHERE wait_event = 'SyncRep'");
  Status s = commit.get();
  EXPECT_FALSE(s.ok()) << "a commit the standby may not have is not confirmed";
  EXPECT_NE(s.message().find("synchronous standby was cancelled"), std::string::npos) << s.ToString();
  a->Rollback();
  WaitForStandby("");
  // The primary kept it: the publisher's resend meets the stored event_id.
  ASSERT_TRUE(a->Begin().ok());
  auto resend = a->InsertEvent(MakeEvent("evt-1", "91110000100000001A"), kNow);
  EXPECT_EQ(resend.status().code(), StatusCode::kConflict) << resend.status().ToString();
  a->Rollback();
}

// The value a connection uses for a libpq option.
std::string OptionOf(PGconn* conn, const std::string& keyword) {
  std::string value;
  PQconninfoOption* options = PQconninfo(conn);
  for (PQconninfoOption* o = options; o != nullptr && o->keyword != nullptr; ++o)
    if (keyword == o->keyword && o->val != nullptr) value = o->val;
  PQconninfoFree(options);
  return value;
}

TEST_F(PgLeaseTest, ConnectionsGiveUpASilentServerUnlessTheConnectionStringSaysOtherwise) {
  PGconn* plain = pg::Connect(postgres_->conninfo());
  ASSERT_EQ(PQstatus(plain), CONNECTION_OK) << PQerrorMessage(plain);
  EXPECT_EQ(OptionOf(plain, "tcp_user_timeout"), "10000");
  EXPECT_EQ(OptionOf(plain, "keepalives_idle"), "10");
  EXPECT_EQ(OptionOf(plain, "dbname"), "yilian");
  PQfinish(plain);
  PGconn* own = pg::Connect(postgres_->conninfo() + " tcp_user_timeout=2500 keepalives_idle=30");
  ASSERT_EQ(PQstatus(own), CONNECTION_OK) << PQerrorMessage(own);
  EXPECT_EQ(OptionOf(own, "tcp_user_timeout"), "2500");
  EXPECT_EQ(OptionOf(own, "keepalives_idle"), "30");
  PQfinish(own);
}

}  // namespace
}  // namespace yilian::store
