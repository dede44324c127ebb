// Retention and archive through real broker processes (docs/storage.md
// section 14): settled cases older than store.retention_days move from the
// live store into archive files when the job runs (POST /api/v1/archive, as
// `yilian archive`); cases needing attention stay; the audit trail verifies
// across the archive files and the live store as one chain, and a changed
// or missing archive file is detected; an archived event_id published
// again is a duplicate (same content) or a conflict (other content); the
// HTTP API says a case was archived; a broker killed in the middle of a run
// loses nothing and the next run finishes it. The personal fields stay
// encrypted in the archive files. No sleeps: every wait polls a deadline.
#include <signal.h>
#include <sqlite3.h>
#include <sys/stat.h>

#include <chrono>
#include <set>
#include <string>
#include <vector>

#include <google/protobuf/util/json_util.h>
#include <gtest/gtest.h>
#include <httplib.h>

#include "testing/broker_fixture.h"
#include "testing/guarantees.h"
#include "validation/json.h"
#include "yilian/v1/tools.pb.h"
#include "yilian/v1/tracking.pb.h"

namespace yilian {
namespace {

using testing::BrokerProcess;

const char kDataKey[] = "0f1e2d3c4b5a69788796a5b4c3d2e1f00f1e2d3c4b5a69788796a5b4c3d2e1f0";
// 0.00002 days: 1.7 s.
constexpr double kRetentionDays = 0.00002;
constexpr long long kRetentionMs = 1728;

long long NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::optional<v1::ArchiveStatus> ReadArchive(const BrokerProcess& broker) {
  httplib::Client client("127.0.0.1", broker.http_port());
  client.set_connection_timeout(2);
  auto res = client.Get("/api/v1/archive");
  if (!res || res->status != 200) return std::nullopt;
  v1::ArchiveStatus status;
  if (!google::protobuf::util::JsonStringToMessage(res->body, &status).ok()) return std::nullopt;
  return status;
}

// Runs a command to its end; its exit code, stdout in *out.
int RunCli(const std::vector<std::string>& args, const std::string& dir, const std::string& name, std::string* out) {
  auto p = testing::Process::Start(args, dir + "/" + name + ".out", dir + "/" + name + ".err");
  int code = -1;
  if (!p->WaitExit(120000, &code)) {
    p->Signal(SIGKILL);
    p->WaitExit(5000, &code);
    return -1;
  }
  if (out) *out = testing::ReadFile(dir + "/" + name + ".out") + testing::ReadFile(dir + "/" + name + ".err");
  return code;
}

// The first column of the first row of `sql` on an archive file.
std::string QueryFile(const std::string& path, const std::string& sql) {
  sqlite3* db = nullptr;
  std::string out;
  if (sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr) == SQLITE_OK) {
    sqlite3_stmt* s = nullptr;
    if (sqlite3_prepare_v2(db, sql.c_str(), -1, &s, nullptr) == SQLITE_OK && sqlite3_step(s) == SQLITE_ROW) {
      const unsigned char* text = sqlite3_column_text(s, 0);
      out = text ? reinterpret_cast<const char*>(text) : "";
    }
    sqlite3_finalize(s);
  }
  sqlite3_close_v2(db);
  return out;
}

class ArchiveTest : public ::testing::Test {
 protected:
  void SetUp() override {
    broker_ = std::make_unique<BrokerProcess>(
        "store:\n  retention_days: " + std::to_string(kRetentionDays) +
        "\n"
        "delivery:\n  ack_timeout_ms: 3000\nretry:\n  initial_backoff_ms: 50\n  max_backoff_ms: 500\n");
    dir_ = broker_->dir();
    const std::string key = dir_ + "/data.key";
    testing::WriteFile(key, std::string(kDataKey) + "\n");
    ASSERT_EQ(::chmod(key.c_str(), 0600), 0);
    testing::WriteFile(broker_->config_path(),
                       testing::ReadFile(broker_->config_path()) + "security:\n  data_key_file: " + key + "\n");
    broker_->Start();
  }
  void TearDown() override {
    for (auto& p : clients_) p->Signal(SIGTERM);
    clients_.clear();
  }

  // Consumers for every agency (tax refuses the events matching `reject`:
  // their cases need attention) and a watcher acknowledging case updates.
  void StartClients(const std::string& reject) {
    for (const auto& a : guarantees::Agencies()) {
      std::vector<std::string> args = {testing::CliBinary(), "consume", "--broker", broker_->endpoint(), "--agency", a,
                                       "--log", dir_ + "/" + a + ".log", "--credit", "32"};
      if (a == "tax") {
        args.push_back("--reject-pattern");
        args.push_back(reject);
      }
      clients_.push_back(testing::Process::Start(args, "", dir_ + "/consume-" + a + ".err"));
    }
    clients_.push_back(testing::Process::Start(
        {testing::CliBinary(), "watch", "--broker", broker_->endpoint()}, dir_ + "/watch.out", dir_ + "/watch.err"));
  }

  void Publish(const std::vector<v1::EnterpriseEvent>& events, const std::string& name) {
    std::string lines;
    for (const auto& e : events) lines += json::Print(e) + "\n";
    testing::WriteFile(dir_ + "/" + name + ".jsonl", lines);
    std::string out;
    ASSERT_EQ(RunCli({testing::CliBinary(), "publish", "--broker", broker_->endpoint(), "--timeout", "60",
                      dir_ + "/" + name + ".jsonl"},
                     dir_, name, &out),
              0)
        << out;
  }

  // The statuses `yilian publish` reported for `name`, by event id.
  std::map<std::string, v1::PublishReport> Reports(const std::string& name) {
    std::map<std::string, v1::PublishReport> out;
    for (const auto& line : testing::ReadLines(dir_ + "/" + name + ".out")) {
      v1::PublishReport r;
      if (json::Parse(line, &r).ok()) out[r.event_id()] = r;
    }
    return out;
  }

  // Waits until every case is settled, every update acknowledged and every
  // case older than the retention.
  void WaitUntilDue() {
    ASSERT_TRUE(testing::PollUntil(
        [&] {
          return broker_->QueryInt("SELECT COUNT(*) FROM events WHERE case_state = 1") == 0 &&
                 broker_->QueryInt("SELECT COUNT(*) FROM case_updates WHERE acked = 0") == 0;
        },
        120000))
        << broker_->QueryInt("SELECT COUNT(*) FROM events WHERE case_state = 1") << " cases in progress, "
        << broker_->QueryInt("SELECT COUNT(*) FROM case_updates WHERE acked = 0") << " updates unacknowledged";
    const long long newest = broker_->QueryInt("SELECT MAX(completed_at) FROM events");
    ASSERT_TRUE(testing::PollUntil([&] { return NowMs() > newest + kRetentionMs + 50; }, 10000));
  }

  int Verify(std::string* out) {
    return RunCli({testing::CliBinary(), "audit", "verify", "--data-dir", broker_->data_dir()}, dir_, "verify", out);
  }

  std::unique_ptr<BrokerProcess> broker_;
  std::string dir_;
  std::vector<std::unique_ptr<testing::Process>> clients_;
};

TEST_F(ArchiveTest, SettledCasesMoveToVerifiableArchiveFilesAndStayKnownByEventId) {
  auto all = guarantees::SampleEvents();
  const std::vector<v1::EnterpriseEvent> events(all.begin(), all.begin() + 300);
  // Tax refuses the first ten events: their cases need attention and stay.
  std::string refuse = "^(";
  for (int i = 0; i < 10; ++i) refuse += (i ? "|" : "") + events[static_cast<std::size_t>(i)].event_id();
  StartClients(refuse + ")$");
  Publish(events, "first");
  WaitUntilDue();
  const long long completed = broker_->QueryInt("SELECT COUNT(*) FROM events WHERE case_state = 2");
  const long long attention = broker_->QueryInt("SELECT COUNT(*) FROM events WHERE case_state = 3");
  ASSERT_EQ(completed + attention, static_cast<long long>(events.size()));
  ASSERT_GT(attention, 0);
  const long long audit_before = broker_->QueryInt("SELECT MAX(id) FROM audit");
  const std::string archived_id = broker_->Query("SELECT event_id FROM events WHERE case_state = 2 LIMIT 1");
  const std::string live_id = broker_->Query("SELECT event_id FROM events WHERE case_state = 3 LIMIT 1");

  // The run, asked for as an operator does.
  std::string out;
  ASSERT_EQ(RunCli({testing::CliBinary(), "archive", "--http", "127.0.0.1:" + std::to_string(broker_->http_port())},
                   dir_, "archive", &out),
            0)
      << out;
  EXPECT_NE(out.find("archive idle events_archived=" + std::to_string(completed)), std::string::npos) << out;
  auto status = ReadArchive(*broker_);
  ASSERT_TRUE(status);
  EXPECT_EQ(status->events_archived(), static_cast<std::uint64_t>(completed));
  EXPECT_EQ(status->last_error(), "");
  EXPECT_GT(status->audit_records_archived(), 0u);

  // The live store keeps the cases needing attention only, and knows the
  // archived ones by event id.
  EXPECT_EQ(broker_->QueryInt("SELECT COUNT(*) FROM events"), attention);
  EXPECT_EQ(broker_->QueryInt("SELECT COUNT(*) FROM events WHERE case_state <> 3"), 0);
  EXPECT_EQ(broker_->QueryInt("SELECT COUNT(*) FROM archived_events"), completed);
  EXPECT_EQ(broker_->QueryInt("SELECT COUNT(*) FROM deliveries d WHERE NOT EXISTS (SELECT 1 FROM events e WHERE "
                              "e.seq = d.seq)"),
            0);
  EXPECT_EQ(broker_->QueryInt("SELECT COUNT(*) FROM archives WHERE applied = 0"), 0);
  EXPECT_LT(broker_->QueryInt("SELECT COUNT(*) FROM audit"), audit_before);
  EXPECT_EQ(broker_->QueryInt("SELECT MAX(id) FROM audit"), audit_before);  // the chain's last stays

  // The archive file: private, self-describing, the archived rows, the
  // personal fields still encrypted.
  const std::string file = broker_->Query("SELECT file FROM archives ORDER BY id LIMIT 1");
  const std::string path = broker_->data_dir() + "/archive/" + file;
  struct stat st {};
  ASSERT_EQ(::stat(path.c_str(), &st), 0) << path;
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  EXPECT_EQ(QueryFile(path, "SELECT value FROM meta WHERE key = 'format'"), "yilian-archive");
  EXPECT_EQ(QueryFile(path, "SELECT COUNT(*) FROM events"), std::to_string(completed));
  const std::string bytes = testing::ReadFile(path);
  int personal = 0;
  for (const auto& e : events) {
    for (const std::string& value : {e.enterprise().legal_representative().id_number(),
                                     e.enterprise().legal_representative().phone(), e.enterprise().contact().phone()}) {
      if (value.empty()) continue;
      ++personal;
      EXPECT_EQ(bytes.find(value), std::string::npos) << "a personal number in clear in " << file;
    }
  }
  EXPECT_GT(personal, 0);

  // One chain across the archive files and the live store.
  ASSERT_EQ(Verify(&out), 0) << out;
  v1::AuditVerifyReport report;
  ASSERT_TRUE(json::Parse(out.substr(0, out.find('\n')), &report).ok()) << out;
  EXPECT_TRUE(report.intact());
  EXPECT_TRUE(report.archives_checked());
  EXPECT_GE(report.archive_files(), 1u);
  EXPECT_EQ(report.records(), static_cast<std::uint64_t>(audit_before));
  EXPECT_EQ(report.cases_checked(), events.size());

  // The HTTP API: an archived case is 410 ARCHIVED, naming its file; a live one 200.
  {
    httplib::Client client("127.0.0.1", broker_->http_port());
    auto res = client.Get("/api/v1/cases/" + archived_id);
    ASSERT_TRUE(res);
    EXPECT_EQ(res->status, 410) << res->body;
    EXPECT_NE(res->body.find("ARCHIVED"), std::string::npos) << res->body;
    EXPECT_NE(res->body.find(file), std::string::npos) << res->body;
    res = client.Get("/api/v1/cases/" + live_id);
    ASSERT_TRUE(res);
    EXPECT_EQ(res->status, 200) << res->body;
    res = client.Get("/api/v1/cases/no-such-event");
    ASSERT_TRUE(res);
    EXPECT_EQ(res->status, 404);
  }

  // Published again: the same event is a duplicate with its sequence; the
  // same id with other content a conflict; nothing is stored again.
  v1::EnterpriseEvent same, other;
  for (const auto& e : events)
    if (e.event_id() == archived_id) same = e;
  other = same;
  other.set_event_id(archived_id);
  other.mutable_enterprise()->set_name(same.enterprise().name() + "（变更）");
  Publish({same}, "again-same");
  auto again = Reports("again-same");
  ASSERT_EQ(again.count(archived_id), 1u);
  EXPECT_EQ(again[archived_id].status(), "duplicate") << again[archived_id].DebugString();
  EXPECT_EQ(std::to_string(again[archived_id].sequence()),
            broker_->Query("SELECT seq FROM archived_events WHERE event_id = '" + archived_id + "'"));
  {
    std::string lines = json::Print(other) + "\n";
    testing::WriteFile(dir_ + "/again-other.jsonl", lines);
    RunCli({testing::CliBinary(), "publish", "--broker", broker_->endpoint(), "--timeout", "60",
            dir_ + "/again-other.jsonl"},
           dir_, "again-other", &out);
    auto r = Reports("again-other");
    ASSERT_EQ(r.count(archived_id), 1u) << out;
    EXPECT_EQ(r[archived_id].status(), "refused");
    EXPECT_EQ(r[archived_id].error(), "CONFLICT") << r[archived_id].DebugString();
  }
  EXPECT_EQ(broker_->QueryInt("SELECT COUNT(*) FROM events"), attention);

  // The broker restarts on the archived store and goes on.
  ASSERT_EQ(broker_->Stop(), 0);
  broker_->Start();
  Publish(std::vector<v1::EnterpriseEvent>(all.begin() + 300, all.begin() + 320), "after");
  ASSERT_TRUE(testing::PollUntil(
      [&] { return broker_->QueryInt("SELECT COUNT(*) FROM events WHERE case_state = 1") == 0; }, 60000));
  ASSERT_EQ(Verify(&out), 0) << out;

  // A changed archive file and a missing one are found.
  ASSERT_EQ(broker_->Stop(), 0);
  {
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READWRITE, nullptr), SQLITE_OK);
    ASSERT_EQ(sqlite3_exec(db, "UPDATE deliveries SET reference = 'forged' WHERE id = (SELECT MIN(id) FROM deliveries)",
                           nullptr, nullptr, nullptr),
              SQLITE_OK);
    sqlite3_close_v2(db);
  }
  EXPECT_EQ(Verify(&out), 1) << out;
  EXPECT_NE(out.find("changed or replaced"), std::string::npos) << out;
  ASSERT_EQ(::unlink(path.c_str()), 0);
  EXPECT_EQ(Verify(&out), 1) << out;
  EXPECT_NE(out.find("cannot be read"), std::string::npos) << out;
}

TEST_F(ArchiveTest, ABrokerKilledDuringARunLosesNothingAndTheNextRunFinishesIt) {
  auto all = guarantees::SampleEvents();
  const std::vector<v1::EnterpriseEvent> events(all.begin(), all.begin() + 1000);
  StartClients("^no-event-matches$");
  Publish(events, "first");
  WaitUntilDue();
  ASSERT_EQ(broker_->QueryInt("SELECT COUNT(*) FROM events WHERE case_state = 2"),
            static_cast<long long>(events.size()));

  httplib::Client client("127.0.0.1", broker_->http_port());
  auto res = client.Post("/api/v1/archive", "{}", "application/json");
  ASSERT_TRUE(res);
  ASSERT_EQ(res->status, 202) << res->body;
  // Killed once the run has moved some events (or finished: either way
  // nothing may be lost).
  ASSERT_TRUE(testing::PollUntil(
      [&] {
        auto s = ReadArchive(*broker_);
        return s && (s->events_archived() > 0 || s->files_written() > 0);
      },
      60000));
  broker_->Kill(SIGKILL);
  // Every event is live or archived, never both, never neither.
  EXPECT_EQ(broker_->QueryInt("SELECT (SELECT COUNT(*) FROM events) + (SELECT COUNT(*) FROM archived_events)"),
            static_cast<long long>(events.size()));
  EXPECT_EQ(broker_->QueryInt("SELECT COUNT(*) FROM events e JOIN archived_events a ON a.seq = e.seq"), 0);

  broker_->Start();
  std::string out;
  ASSERT_EQ(RunCli({testing::CliBinary(), "archive", "--http", "127.0.0.1:" + std::to_string(broker_->http_port())},
                   dir_, "archive", &out),
            0)
      << out;
  EXPECT_EQ(broker_->QueryInt("SELECT COUNT(*) FROM events"), 0);
  EXPECT_EQ(broker_->QueryInt("SELECT COUNT(*) FROM archived_events"), static_cast<long long>(events.size()));
  EXPECT_EQ(broker_->QueryInt("SELECT COUNT(*) FROM archives WHERE applied = 0"), 0);
  // Each archived event is in the file archived_events names.
  for (const auto& file : broker_->QueryColumn("SELECT file FROM archives")) {
    const std::string id = broker_->Query("SELECT id FROM archives WHERE file = '" + file + "'");
    const std::string path = broker_->data_dir() + "/archive/" + file;
    const long long listed = broker_->QueryInt("SELECT COUNT(*) FROM archived_events WHERE archive = " + id);
    EXPECT_GE(std::stoll(QueryFile(path, "SELECT COUNT(*) FROM events")), listed) << file;
  }
  ASSERT_EQ(Verify(&out), 0) << out;
  // A resend of everything: all duplicates.
  Publish(events, "resend");
  auto reports = Reports("resend");
  ASSERT_EQ(reports.size(), events.size());
  for (const auto& [id, r] : reports) EXPECT_EQ(r.status(), "duplicate") << id;
}

}  // namespace
}  // namespace yilian
