// `yilian audit verify` on a real broker's store: intact beside a running
// broker and after it stopped, and caught out by each kind of tampering done
// with SQLite on a copy of the stopped broker's data directory: a record's
// body edited, a middle record deleted, the last record deleted, two
// records' ids swapped (reordered).
#include <sqlite3.h>

#include <filesystem>

#include <google/protobuf/util/json_util.h>
#include <gtest/gtest.h>

#include "cli/sample.h"
#include "cli_run.h"
#include "client/publisher.h"
#include "testing/broker_fixture.h"
#include "yilian/v1/tracking.pb.h"

namespace yilian {
namespace {

using testing::BrokerProcess;
using testing::CliRun;
using testing::PollUntil;
using testing::Process;

class AuditVerifyTest : public ::testing::Test {
 protected:
  // One broker run for the whole suite: its stopped store is copied for
  // each tampering. A failure here is kept in setup_error_ and fails every
  // test in SetUp(): an assertion in SetUpTestSuite would only mark them
  // skipped, which ctest counts as passed.
  static void SetUpTestSuite() {
    broker_ = new BrokerProcess();
    broker_->Start();
    sample::SampleOptions o;
    o.seed = 11;
    o.enterprises = 3;
    o.events_per_enterprise = 1;
    o.deregister_fraction = 0;
    o.banks = {"ICBC"};
    auto events = sample::Generate(o);
    std::vector<std::unique_ptr<Process>> consumers;
    for (std::string agency : {"tax", "social_insurance", "housing_fund", "bank:ICBC"})
      consumers.push_back(Process::Start(
          {testing::CliBinary(), "consume", "--broker", broker_->endpoint(), "--agency", agency}, "", ""));
    zmq::context_t context(1);
    client::ClientOptions options;
    options.endpoint = broker_->endpoint();
    client::Publisher publisher(context, options);
    // One event at a time, each settled at its 4 agencies before the next:
    // its hand-overs and its results are committed in different turns (a
    // result can only follow its delivery's commit), so every event adds at
    // least two audit records, and the suite has at least six to tamper with.
    for (std::size_t i = 0; i < events.size(); ++i) {
      publisher.Publish(events[i]);
      bool confirmed = false;
      if (!PollUntil(
              [&] {
                publisher.Poll(20, [&](std::uint64_t, const v1::PublishAck&) { confirmed = true; });
                return confirmed;
              },
              20000)) {
        setup_error_ = "event " + events[i].event_id() + " not confirmed within 20 s";
        return;
      }
      const int expected = static_cast<int>(4 * (i + 1));
      if (!PollUntil(
              [&] {
                return broker_->QueryInt("SELECT COUNT(*) FROM deliveries WHERE state >= 3") == expected;
              },
              30000)) {
        setup_error_ = "event " + std::to_string(i + 1) + " not settled within 30 s: " +
                       broker_->Query("SELECT COUNT(*) FROM deliveries") + " deliveries, " +
                       broker_->Query("SELECT COUNT(*) FROM deliveries WHERE state < 3") + " unsettled";
        return;
      }
    }
    const int records = broker_->QueryInt("SELECT COUNT(*) FROM audit");
    if (records < 6) {
      setup_error_ = std::to_string(records) + " audit records, expected at least 6";
      return;
    }

    // Verified while the broker runs: a read-only snapshot beside the writer.
    live_ = new CliRun(testing::RunCli(broker_->dir(), {"audit", "verify", "--data-dir", broker_->data_dir()}));
    consumers.clear();
    if (int code = broker_->Stop(); code != 0) setup_error_ = "broker exited " + std::to_string(code);
  }

  static void TearDownTestSuite() {
    delete live_;
    delete broker_;
  }

  void SetUp() override {
    ASSERT_TRUE(setup_error_.empty()) << setup_error_;
    ASSERT_NE(broker_, nullptr);
    dir_ = testing::MakeTempDir("yilian-audit-test");
    std::filesystem::copy(broker_->data_dir(), dir_ + "/data", std::filesystem::copy_options::recursive);
  }
  void TearDown() override { testing::RemoveTree(dir_); }

  // Runs statements on the copy, as someone with write access to the file.
  void Tamper(const std::string& sql) {
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open((dir_ + "/data/yilian.db").c_str(), &db), SQLITE_OK);
    char* error = nullptr;
    int rc = sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &error);
    std::string message = error ? error : "";
    sqlite3_free(error);
    sqlite3_close(db);
    ASSERT_EQ(rc, SQLITE_OK) << message << " in " << sql;
  }

  std::string QueryText(const std::string& sql) {
    sqlite3* db = nullptr;
    std::string out;
    if (sqlite3_open_v2((dir_ + "/data/yilian.db").c_str(), &db, SQLITE_OPEN_READONLY, nullptr) == SQLITE_OK) {
      sqlite3_stmt* stmt = nullptr;
      if (sqlite3_prepare_v2(db, sql.c_str(), -1, &stmt, nullptr) == SQLITE_OK && sqlite3_step(stmt) == SQLITE_ROW &&
          sqlite3_column_text(stmt, 0))
        out = reinterpret_cast<const char*>(sqlite3_column_text(stmt, 0));
      sqlite3_finalize(stmt);
    }
    sqlite3_close(db);
    return out;
  }

  // Runs the verifier on the copy; checks the exit code matches the report.
  v1::AuditVerifyReport Verify(int expected_exit) {
    CliRun run = testing::RunCli(dir_, {"audit", "verify", "--data-dir", dir_ + "/data"});
    EXPECT_EQ(run.exit_code, expected_exit) << run.out << run.err;
    v1::AuditVerifyReport report;
    EXPECT_EQ(run.out.find('\n'), run.out.size() - 1) << "not one JSON line: " << run.out;
    EXPECT_TRUE(google::protobuf::util::JsonStringToMessage(run.out, &report).ok()) << run.out;
    EXPECT_EQ(report.intact(), expected_exit == 0) << run.out;
    if (expected_exit == 1) {
      EXPECT_NE(run.err.find("NOT intact"), std::string::npos) << run.err;
    }
    return report;
  }

  static bool HasProblem(const v1::AuditVerifyReport& r, const std::string& text) {
    for (const auto& p : r.problems())
      if (p.find(text) != std::string::npos) return true;
    return false;
  }

  static std::string Problems(const v1::AuditVerifyReport& r) {
    std::string all;
    for (const auto& p : r.problems()) all += p + "\n";
    return all;
  }

  static BrokerProcess* broker_;
  static CliRun* live_;
  static std::string setup_error_;
  std::string dir_;
};

BrokerProcess* AuditVerifyTest::broker_ = nullptr;
CliRun* AuditVerifyTest::live_ = nullptr;
std::string AuditVerifyTest::setup_error_;

TEST_F(AuditVerifyTest, IntactTrailVerifiesWhileTheBrokerRunsAndAfterItStopped) {
  ASSERT_NE(live_, nullptr);
  EXPECT_EQ(live_->exit_code, 0) << live_->out << live_->err;
  EXPECT_NE(live_->out.find("\"intact\":true"), std::string::npos) << live_->out;

  auto report = Verify(0);
  long long records = std::stoll(QueryText("SELECT COUNT(*) FROM audit"));
  EXPECT_GE(records, 4);
  EXPECT_EQ(report.records(), static_cast<std::uint64_t>(records));
  EXPECT_EQ(report.problems_size(), 0);
  // The head the store recorded is "<last id>:<its hash>".
  EXPECT_EQ(QueryText("SELECT value FROM meta WHERE key = 'audit_head'"),
            std::to_string(records) + ":" + report.head_hash());
}

TEST_F(AuditVerifyTest, EditedBodyIsCaught) {
  Tamper("UPDATE audit SET body = body || ' and something else' WHERE id = 2");
  auto report = Verify(1);
  EXPECT_TRUE(HasProblem(report, "record 2: content does not match its hash (edited)")) << Problems(report);
}

TEST_F(AuditVerifyTest, DeletedMiddleRecordIsCaught) {
  Tamper("DELETE FROM audit WHERE id = 2");
  auto report = Verify(1);
  EXPECT_TRUE(HasProblem(report, "record 3: expected id 2 (records removed or reordered)")) << Problems(report);
  EXPECT_TRUE(HasProblem(report, "record 3: prev_hash does not match")) << Problems(report);
}

TEST_F(AuditVerifyTest, DeletedLastRecordIsCaught) {
  std::string last = QueryText("SELECT MAX(id) FROM audit");
  Tamper("DELETE FROM audit WHERE id = " + last);
  auto report = Verify(1);
  EXPECT_EQ(report.records(), std::stoull(last) - 1);
  EXPECT_TRUE(HasProblem(report, "chain head is")) << Problems(report);
  EXPECT_TRUE(HasProblem(report, "records removed from the end")) << Problems(report);
}

TEST_F(AuditVerifyTest, SwappedIdsAreCaught) {
  Tamper(
      "BEGIN; UPDATE audit SET id = -1 WHERE id = 2; UPDATE audit SET id = 2 WHERE id = 3; "
      "UPDATE audit SET id = 3 WHERE id = -1; COMMIT;");
  auto report = Verify(1);
  EXPECT_TRUE(HasProblem(report, "record 2: content does not match its hash")) << Problems(report);
  EXPECT_TRUE(HasProblem(report, "record 3: content does not match its hash")) << Problems(report);
  EXPECT_TRUE(HasProblem(report, "prev_hash does not match")) << Problems(report);
}

TEST_F(AuditVerifyTest, UnreadableStoreExitsTwo) {
  CliRun run = testing::RunCli(dir_, {"audit", "verify", "--data-dir", dir_ + "/nothing-here"});
  EXPECT_EQ(run.exit_code, 2);
  EXPECT_EQ(run.out, "");
  EXPECT_NE(run.err.find("cannot open store"), std::string::npos) << run.err;
  EXPECT_EQ(testing::RunCli(dir_, {"audit", "verify"}).exit_code, 2);  // --data-dir is required
}

}  // namespace
}  // namespace yilian
