// `yilian audit verify` against rewrites of the database that the hash chain
// alone cannot catch, on a real broker's store with signed anchors
// (security.audit_key_file) and operator actions in its history: a record
// rewritten with the whole chain and meta.audit_head recomputed, the tail
// deleted with the head rewritten, thirty deliveries turned from REJECTED to
// PROCESSED, a case state changed, a delivery and an event removed, and
// forged anchor lines. Each tampering is done with SQLite (and SM3, as
// docs/storage.md section 6 defines the chain) on a copy of the stopped
// broker's data directory and anchor file.
#include <google/protobuf/util/json_util.h>
#include <gtest/gtest.h>
#include <httplib.h>
#include <sqlite3.h>
#include <sys/stat.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>

#include "cli/sample.h"
#include "cli_run.h"
#include "client/publisher.h"
#include "common/digest.h"
#include "testing/broker_fixture.h"
#include "yilian/audit/anchor.h"
#include "yilian/v1/tracking.pb.h"

namespace yilian {
namespace {

using testing::BrokerProcess;
using testing::CliRun;
using testing::PollUntil;
using testing::Process;

constexpr const char* kAuditKey = "3f1c0a9b8e7d6c5b4a39281706f5e4d3c2b1a09f8e7d6c5b4a3928170605f4e3";
constexpr const char* kOtherKey = "0e1d2c3b4a5968778695a4b3c2d1e0f00e1d2c3b4a5968778695a4b3c2d1e0f0";
constexpr int kEvents = 12;
// Tax, social insurance and housing fund reject events 3 to 12; the bank
// processes everything: 30 REJECTED deliveries, 2 cases COMPLETED.
constexpr const char* kRejectPattern = "-([3-9]|1[0-2])$";

class AuditAnchorTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    keys_dir_ = new std::string(testing::MakeTempDir("yilian-audit-anchor-keys"));
    key_path_ = new std::string(*keys_dir_ + "/audit.key");
    testing::WriteFile(*key_path_, std::string(kAuditKey) + "\n");
    ::chmod(key_path_->c_str(), 0600);
    // Anchors as often as every 100 ms, to the default file beside the data
    // directory.
    broker_ = new BrokerProcess("security:\n  audit_key_file: " + *key_path_ + "\naudit:\n  anchor_interval_ms: 100\n");
    broker_->Start();
    setup_error_ = new std::string(Populate());
    if (!setup_error_->empty()) return;
    live_ = new CliRun(testing::RunCli(
        broker_->dir(), {"audit", "verify", "--data-dir", broker_->data_dir(), "--audit-key", *key_path_}));
    consumers_.clear();
    if (int code = broker_->Stop(); code != 0) *setup_error_ = "broker exited " + std::to_string(code);
  }

  // Publishes the events, lets the agencies answer, and runs a retry, a
  // resolve and a replay over the HTTP API. "" or what went wrong.
  static std::string Populate() {
    sample::SampleOptions o;
    o.seed = 23;
    o.enterprises = kEvents;
    o.events_per_enterprise = 1;
    o.deregister_fraction = 0;
    o.banks = {"ICBC"};
    events_ = sample::Generate(o);
    for (std::string agency : {"tax", "social_insurance", "housing_fund"})
      consumers_.push_back(Process::Start({testing::CliBinary(), "consume", "--broker", broker_->endpoint(), "--agency",
                                           agency, "--reject-pattern", kRejectPattern},
                                          "", ""));
    consumers_.push_back(Process::Start(
        {testing::CliBinary(), "consume", "--broker", broker_->endpoint(), "--agency", "bank:ICBC"}, "", ""));
    zmq::context_t context(1);
    client::ClientOptions options;
    options.endpoint = broker_->endpoint();
    client::Publisher publisher(context, options);
    for (const auto& e : events_) publisher.Publish(e);
    std::size_t confirmed = 0;
    if (!PollUntil(
            [&] {
              publisher.Poll(20, [&](std::uint64_t, const v1::PublishAck&) { ++confirmed; });
              return confirmed == events_.size();
            },
            20000))
      return "events not confirmed within 20 s";
    auto settled = [] { return broker_->QueryInt("SELECT COUNT(*) FROM deliveries WHERE state >= 3") == 4 * kEvents; };
    if (!PollUntil(settled, 30000)) return "deliveries not settled within 30 s";
    if (broker_->QueryInt("SELECT COUNT(*) FROM deliveries WHERE state = 4") != 30)
      return broker_->Query("SELECT COUNT(*) FROM deliveries WHERE state = 4") + " rejected deliveries, expected 30";

    if (Post("/api/v1/cases/" + events_[2].event_id() + "/agencies/tax/retry", R"({"reason":"data corrected"})") != 200)
      return "retry refused";
    if (!PollUntil(
            [&] {
              return settled() &&
                     broker_->QueryInt(
                         "SELECT attempts FROM deliveries WHERE agency = 'tax' AND seq = (SELECT seq "
                         "FROM events WHERE event_id = '" +
                         events_[2].event_id() + "')") == 1 &&
                     broker_->QueryInt("SELECT COUNT(*) FROM deliveries WHERE state = 4") == 30;
            },
            30000))
      return "the retried delivery was not rejected again within 30 s";
    if (Post("/api/v1/cases/" + events_[3].event_id() + "/resolve", R"({"reason":"registered at the counter"})") != 200)
      return "resolve refused";
    if (Post("/api/v1/agencies/bank:ICBC/replay", R"({"since":"2000-01-01T00:00:00Z","reason":"bank restored"})") !=
        200)
      return "replay refused";
    if (!PollUntil(
            [&] {
              return settled() &&
                     broker_->QueryInt("SELECT COUNT(*) FROM deliveries WHERE replay = 1 AND state = 3") == kEvents;
            },
            30000))
      return "the replay did not settle within 30 s";
    return "";
  }

  static int Post(const std::string& path, const std::string& body) {
    httplib::Client c("127.0.0.1", broker_->http_port());
    auto r = c.Post(path.c_str(), body, "application/json");
    return r ? r->status : 0;
  }

  static void TearDownTestSuite() {
    consumers_.clear();
    delete live_;
    delete broker_;
    if (keys_dir_) testing::RemoveTree(*keys_dir_);
    delete keys_dir_;
    delete key_path_;
    delete setup_error_;
  }

  void SetUp() override {
    ASSERT_NE(setup_error_, nullptr);
    ASSERT_TRUE(setup_error_->empty()) << *setup_error_;
    dir_ = testing::MakeTempDir("yilian-audit-anchor-test");
    std::filesystem::copy(broker_->data_dir(), dir_ + "/data", std::filesystem::copy_options::recursive);
    std::filesystem::copy_file(broker_->dir() + "/audit-anchors.log", anchors());
  }
  void TearDown() override {
    if (!std::getenv("YILIAN_KEEP_TEST_DIRS")) testing::RemoveTree(dir_);
  }

  std::string anchors() const { return dir_ + "/audit-anchors.log"; }
  std::vector<std::string> WithAnchors() const { return {"--audit-key", *key_path_, "--anchor-file", anchors()}; }

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

  std::string SeqOf(const v1::EnterpriseEvent& e) {
    return QueryText("SELECT seq FROM events WHERE event_id = '" + e.event_id() + "'");
  }

  // What an attacker with the database (and docs/storage.md) does after an
  // edit: every record's prev_hash and hash recomputed with SM3 from the
  // first on, and meta.audit_head set to the new last record.
  void RecomputeChain() {
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open((dir_ + "/data/yilian.db").c_str(), &db), SQLITE_OK);
    ASSERT_EQ(sqlite3_exec(db, "BEGIN", nullptr, nullptr, nullptr), SQLITE_OK);
    sqlite3_stmt* read = nullptr;
    sqlite3_stmt* write = nullptr;
    ASSERT_EQ(sqlite3_prepare_v2(db, "SELECT id, at, actor, kind, body FROM audit ORDER BY id", -1, &read, nullptr),
              SQLITE_OK);
    ASSERT_EQ(sqlite3_prepare_v2(db, "UPDATE audit SET prev_hash = ?1, hash = ?2 WHERE id = ?3", -1, &write, nullptr),
              SQLITE_OK);
    auto text = [&](int i) { return std::string(reinterpret_cast<const char*>(sqlite3_column_text(read, i))); };
    std::string prev, head;
    while (sqlite3_step(read) == SQLITE_ROW) {
      const std::string id = std::to_string(sqlite3_column_int64(read, 0));
      const std::string at = std::to_string(sqlite3_column_int64(read, 1));
      const std::string hash = Sm3Hex(prev + "\n" + id + "\n" + at + "\n" + text(2) + "\n" + text(3) + "\n" + text(4));
      sqlite3_bind_text(write, 1, prev.c_str(), -1, SQLITE_TRANSIENT);
      sqlite3_bind_text(write, 2, hash.c_str(), -1, SQLITE_TRANSIENT);
      sqlite3_bind_int64(write, 3, sqlite3_column_int64(read, 0));
      ASSERT_EQ(sqlite3_step(write), SQLITE_DONE);
      sqlite3_reset(write);
      prev = hash;
      head = id + ":" + hash;
    }
    sqlite3_finalize(read);
    sqlite3_finalize(write);
    const std::string set_head = "UPDATE meta SET value = '" + head + "' WHERE key = 'audit_head'";
    ASSERT_EQ(sqlite3_exec(db, set_head.c_str(), nullptr, nullptr, nullptr), SQLITE_OK);
    ASSERT_EQ(sqlite3_exec(db, "COMMIT", nullptr, nullptr, nullptr), SQLITE_OK);
    sqlite3_close(db);
  }

  // Runs the verifier on the copy; checks the exit code matches the report.
  v1::AuditVerifyReport Verify(int expected_exit, const std::vector<std::string>& extra = {}, CliRun* out = nullptr) {
    std::vector<std::string> args = {"audit", "verify", "--data-dir", dir_ + "/data"};
    args.insert(args.end(), extra.begin(), extra.end());
    CliRun run = testing::RunCli(dir_, args);
    EXPECT_EQ(run.exit_code, expected_exit) << run.out << run.err;
    v1::AuditVerifyReport report;
    EXPECT_TRUE(google::protobuf::util::JsonStringToMessage(run.out, &report).ok()) << run.out << run.err;
    EXPECT_EQ(report.intact(), expected_exit == 0) << run.out;
    if (expected_exit == 1) {
      EXPECT_NE(run.err.find("NOT intact"), std::string::npos) << run.err;
    }
    if (out) *out = run;
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
  static std::string* setup_error_;
  static std::string* keys_dir_;
  static std::string* key_path_;
  static std::vector<v1::EnterpriseEvent> events_;
  static std::vector<std::unique_ptr<Process>> consumers_;
  std::string dir_;
};

BrokerProcess* AuditAnchorTest::broker_ = nullptr;
CliRun* AuditAnchorTest::live_ = nullptr;
std::string* AuditAnchorTest::setup_error_ = nullptr;
std::string* AuditAnchorTest::keys_dir_ = nullptr;
std::string* AuditAnchorTest::key_path_ = nullptr;
std::vector<v1::EnterpriseEvent> AuditAnchorTest::events_;
std::vector<std::unique_ptr<Process>> AuditAnchorTest::consumers_;

TEST_F(AuditAnchorTest, CleanStorePassesWithItsAnchorsWhileTheBrokerRunsAndAfterItStopped) {
  ASSERT_NE(live_, nullptr);
  EXPECT_EQ(live_->exit_code, 0) << live_->out << live_->err;
  EXPECT_NE(live_->out.find("\"intact\":true"), std::string::npos) << live_->out;

  const long long records = std::stoll(QueryText("SELECT COUNT(*) FROM audit"));
  auto report = Verify(0, WithAnchors());
  EXPECT_EQ(report.problems_size(), 0) << Problems(report);
  EXPECT_EQ(report.records(), static_cast<std::uint64_t>(records));
  EXPECT_TRUE(report.anchors_checked());
  EXPECT_GE(report.anchors(), 2u);
  // The broker signed its last head when it stopped.
  EXPECT_EQ(report.anchored_id(), static_cast<std::uint64_t>(records));
  EXPECT_EQ(report.unanchored_records(), 0u);
  EXPECT_EQ(report.deliveries_checked(), 4u * kEvents);
  EXPECT_EQ(report.cases_checked(), static_cast<std::uint64_t>(kEvents));
  EXPECT_EQ(report.mismatches_size(), 0);

  // The history has each kind of operator record, the replay with the
  // deliveries it re-opened, and the cases it moved back and forth.
  EXPECT_EQ(QueryText("SELECT COUNT(*) FROM audit WHERE kind = 'retry'"), "1");
  EXPECT_EQ(QueryText("SELECT COUNT(*) FROM audit WHERE kind = 'resolve'"), "1");
  const std::string replay = QueryText("SELECT body FROM audit WHERE kind = 'replay'");
  std::size_t lines = 0;
  for (std::size_t at = 0; (at = replay.find(" agency=bank:ICBC PROCESSED->PENDING replay", at)) != std::string::npos;
       ++at)
    ++lines;
  EXPECT_EQ(lines, static_cast<std::size_t>(kEvents)) << replay;
  EXPECT_NE(QueryText("SELECT COUNT(*) FROM audit WHERE body LIKE '%COMPLETED->IN_PROGRESS%'"), "0");
  EXPECT_EQ(QueryText("SELECT case_state FROM events WHERE seq = " + SeqOf(events_[3])), "2");

  // The anchor file is private, beside the data directory (the default
  // when --anchor-file is not given), and its last line is in the log too.
  struct stat st {};
  ASSERT_EQ(::stat((broker_->dir() + "/audit-anchors.log").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  Verify(0, {"--audit-key", *key_path_});
  std::vector<std::string> anchor_lines;
  {
    std::ifstream in(anchors());
    for (std::string line; std::getline(in, line);) anchor_lines.push_back(line);
  }
  ASSERT_FALSE(anchor_lines.empty());
  EXPECT_NE(testing::ReadFile(broker_->log_path()).find("[audit] " + anchor_lines.back()), std::string::npos);

  // Without the key the chain is checked as before, with a warning that it
  // cannot prove more.
  CliRun plain;
  auto unanchored = Verify(0, {}, &plain);
  EXPECT_FALSE(unanchored.anchors_checked());
  EXPECT_NE(plain.err.find("cannot detect a consistent rewrite"), std::string::npos) << plain.err;
}

TEST_F(AuditAnchorTest, ARecordRewrittenWithTheChainRecomputedPassesTheChainButNotTheAnchors) {
  // Hide a rejection: the tax bureau's REJECTED of event 5 becomes
  // PROCESSED in the row and in the audit record that reported it, and the
  // chain and its head are recomputed.
  const std::string seq = SeqOf(events_[4]);
  const std::string line = "delivery seq=" + seq + " agency=tax DELIVERED->REJECTED";
  const std::string record = QueryText("SELECT id FROM audit WHERE instr(body, '" + line + " ') > 0");
  ASSERT_FALSE(record.empty());
  Tamper("UPDATE audit SET body = replace(body, '" + line + " ', 'delivery seq=" + seq +
         " agency=tax DELIVERED->PROCESSED ') WHERE id = " + record +
         "; UPDATE deliveries SET state = 3, reason = '' WHERE seq = " + seq + " AND agency = 'tax'");
  RecomputeChain();

  // The chain alone (the only check before anchors) finds nothing wrong.
  auto chain_only = Verify(0);
  EXPECT_EQ(chain_only.problems_size(), 0) << Problems(chain_only);

  auto report = Verify(1, WithAnchors());
  EXPECT_TRUE(HasProblem(report, "was anchored with hash")) << Problems(report);
  EXPECT_TRUE(HasProblem(report, "the chain up to this record was rewritten")) << Problems(report);
  EXPECT_EQ(report.mismatches_size(), 0);
  // Every anchor of the record or a later one differs; none before it.
  for (const auto& p : report.problems()) {
    auto at = p.find(": record ");
    ASSERT_NE(at, std::string::npos) << p;
    EXPECT_GE(std::stoull(p.substr(at + 9)), std::stoull(record)) << p;
  }
}

TEST_F(AuditAnchorTest, TheTailDeletedWithTheHeadRewrittenIsCaughtByTheAnchors) {
  const std::uint64_t last = std::stoull(QueryText("SELECT MAX(id) FROM audit"));
  ASSERT_GE(last, 4u);
  Tamper("DELETE FROM audit WHERE id > " + std::to_string(last - 2) +
         "; UPDATE meta SET value = (SELECT id || ':' || hash FROM audit ORDER BY id DESC LIMIT 1) "
         "WHERE key = 'audit_head'");
  auto report = Verify(1, WithAnchors());
  EXPECT_EQ(report.records(), last - 2);
  EXPECT_TRUE(HasProblem(report, "record " + std::to_string(last) + " was anchored but the chain ends at record " +
                                     std::to_string(last - 2) + " (records removed from the end)"))
      << Problems(report);
  // The chain and its rewritten head agree with each other.
  EXPECT_FALSE(HasProblem(report, "chain head is")) << Problems(report);
  EXPECT_FALSE(HasProblem(report, "prev_hash")) << Problems(report);
}

TEST_F(AuditAnchorTest, ThirtyRejectedDeliveriesMarkedProcessedAreEachReported) {
  ASSERT_EQ(QueryText("SELECT COUNT(*) FROM deliveries WHERE state = 4"), "30");
  Tamper("UPDATE deliveries SET state = 3, reason = '' WHERE state = 4");
  for (const auto& extra : {std::vector<std::string>{}, WithAnchors()}) {
    auto report = Verify(1, extra);
    ASSERT_EQ(report.mismatches_size(), 30) << Problems(report);
    std::set<std::pair<std::uint64_t, std::string>> rows;
    for (const auto& m : report.mismatches()) {
      EXPECT_EQ(m.kind(), "delivery");
      EXPECT_EQ(m.stored(), "PROCESSED");
      EXPECT_EQ(m.audited(), "REJECTED");
      EXPECT_GT(m.audit_id(), 0u);
      EXPECT_FALSE(m.event_id().empty());
      EXPECT_TRUE(m.agency() == "tax" || m.agency() == "social_insurance" || m.agency() == "housing_fund")
          << m.agency();
      rows.emplace(m.sequence(), m.agency());
    }
    EXPECT_EQ(rows.size(), 30u);
    EXPECT_EQ(report.problems_size(), 30) << Problems(report);
    EXPECT_TRUE(HasProblem(report, "is PROCESSED in the store, but the audit trail says REJECTED (record "))
        << Problems(report);
  }
}

TEST_F(AuditAnchorTest, AChangedCaseStateAndARemovedDeliveryAreReported) {
  const std::string attention = SeqOf(events_[5]), removed = SeqOf(events_[6]);
  ASSERT_EQ(QueryText("SELECT case_state FROM events WHERE seq = " + attention), "3");
  Tamper("UPDATE events SET case_state = 2 WHERE seq = " + attention +
         "; DELETE FROM deliveries WHERE seq = " + removed + " AND agency = 'tax'");
  auto report = Verify(1, WithAnchors());
  ASSERT_EQ(report.mismatches_size(), 2) << Problems(report);
  std::map<std::string, v1::AuditStateMismatch> by_kind;
  for (const auto& m : report.mismatches()) by_kind[m.kind()] = m;
  EXPECT_EQ(by_kind["case"].sequence(), std::stoull(attention));
  EXPECT_EQ(by_kind["case"].event_id(), events_[5].event_id());
  EXPECT_EQ(by_kind["case"].stored(), "COMPLETED");
  EXPECT_EQ(by_kind["case"].audited(), "ATTENTION");
  EXPECT_EQ(by_kind["delivery"].sequence(), std::stoull(removed));
  EXPECT_EQ(by_kind["delivery"].agency(), "tax");
  EXPECT_EQ(by_kind["delivery"].stored(), "");
  EXPECT_EQ(by_kind["delivery"].audited(), "REJECTED");
  EXPECT_TRUE(HasProblem(report, "but the store has no such delivery")) << Problems(report);
}

TEST_F(AuditAnchorTest, ARemovedEventIsReported) {
  const std::string seq = SeqOf(events_[7]);
  Tamper("DELETE FROM events WHERE seq = " + seq);
  auto report = Verify(1);
  for (std::string agency : {"tax", "social_insurance", "housing_fund", "bank:ICBC"})
    EXPECT_TRUE(HasProblem(report, "delivery seq=" + seq + " agency=" + agency + " has no events row (removed)"))
        << Problems(report);
  // The trail says the case needed attention; the store has no such case.
  ASSERT_EQ(report.mismatches_size(), 1) << Problems(report);
  EXPECT_EQ(report.mismatches(0).kind(), "case");
  EXPECT_EQ(report.mismatches(0).stored(), "");
  EXPECT_EQ(report.mismatches(0).audited(), "ATTENTION");
}

TEST_F(AuditAnchorTest, ForgedAnchorLinesAreReported) {
  std::string lines = testing::ReadFile(anchors());
  ASSERT_FALSE(lines.empty());
  const std::size_t count = static_cast<std::size_t>(std::count(lines.begin(), lines.end(), '\n'));
  // A real line with another hash (its mac no longer fits), a head signed
  // with another key, and a line that is not an anchor.
  std::string last = lines.substr(lines.rfind('\n', lines.size() - 2) + 1);
  last.pop_back();
  auto real = audit::ParseAnchorLine(last);
  ASSERT_TRUE(real.ok()) << last;
  audit::Anchor altered = real.value();
  altered.hash = std::string(64, 'f');
  auto other = audit::AnchorKey::FromKeyHex(kOtherKey).value().Sign(real->at, real->id, std::string(64, 'e'));
  ASSERT_TRUE(other.ok());
  testing::WriteFile(anchors(), lines + audit::FormatAnchorLine(altered) + "\n" +
                                    audit::FormatAnchorLine(other.value()) + "\nanchor of the day\n");
  auto report = Verify(1, WithAnchors());
  EXPECT_EQ(report.problems_size(), 3) << Problems(report);
  EXPECT_TRUE(HasProblem(report, "anchor file line " + std::to_string(count + 1) + ": its signature does not verify"))
      << Problems(report);
  EXPECT_TRUE(HasProblem(report, "anchor file line " + std::to_string(count + 2) + ": its signature does not verify"))
      << Problems(report);
  EXPECT_TRUE(HasProblem(report, "anchor file line " + std::to_string(count + 3) + ": not an anchor line"))
      << Problems(report);
  EXPECT_EQ(report.anchors(), count);

  // A file with nothing but forgeries vouches for nothing.
  testing::WriteFile(anchors(), audit::FormatAnchorLine(other.value()) + "\n");
  auto forged_only = Verify(1, WithAnchors());
  EXPECT_TRUE(HasProblem(forged_only, "holds no valid anchor")) << Problems(forged_only);
}

TEST_F(AuditAnchorTest, AnchorOptionsNeedTheKeyAndReadableFiles) {
  CliRun no_key = testing::RunCli(dir_, {"audit", "verify", "--data-dir", dir_ + "/data", "--anchor-file", anchors()});
  EXPECT_EQ(no_key.exit_code, 2);
  EXPECT_NE(no_key.err.find("--anchor-file needs --audit-key"), std::string::npos) << no_key.err;
  CliRun no_file = testing::RunCli(dir_, {"audit", "verify", "--data-dir", dir_ + "/data", "--audit-key", *key_path_,
                                          "--anchor-file", dir_ + "/none"});
  EXPECT_EQ(no_file.exit_code, 2);
  EXPECT_NE(no_file.err.find("cannot read the anchor file"), std::string::npos) << no_file.err;
  const std::string open_key = dir_ + "/open.key";
  testing::WriteFile(open_key, kAuditKey);
  ::chmod(open_key.c_str(), 0644);
  CliRun bad_key = testing::RunCli(dir_, {"audit", "verify", "--data-dir", dir_ + "/data", "--audit-key", open_key});
  EXPECT_EQ(bad_key.exit_code, 2);
  EXPECT_NE(bad_key.err.find("mode 0644"), std::string::npos) << bad_key.err;
  EXPECT_EQ(bad_key.out, "");
}

}  // namespace
}  // namespace yilian
