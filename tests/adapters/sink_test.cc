// The two sinks against their agencies: the exchange database round trip
// (push row, receipt row), the HTTP interface against a local server (the
// simulator's HTTP front, and a bare server for misbehaviour), and the rule
// that a redelivered event never creates a second record at the agency.
#include <gtest/gtest.h>
#include <httplib.h>

#include "adapters_test_util.h"
#include "plugins/tax/tax_mapping.h"
#include "sim/agency_sim.h"
#include "sim/http_front.h"
#include "sink/exchange_db.h"
#include "sink/http_sink.h"
#include "sqlite/db.h"
#include "testing/process.h"

namespace yilian::sink {
namespace {

namespace av1 = ::yilian::agency::v1;
using agencies::test::Deliver;
using agencies::test::MakeEvent;
using Kind = plugin::Answer::Kind;

av1::AgencySubmission TaxSubmission(const std::string& event_id = "xm-2026-000101") {
  av1::EnterpriseEvent e = MakeEvent(av1::ESTABLISHED);
  e.set_event_id(event_id);
  return agencies::tax::Map(Deliver(e, "tax")).submission;
}

std::string QueryText(const std::string& path, const std::string& sql) {
  sqlite::OpenOptions o;
  o.read_only = true;
  auto db = sqlite::Db::Open(path, o);
  if (!db.ok()) return "open failed: " + db.status().ToString();
  auto stmt = db.value()->Prepare(sql);
  if (!stmt.ok()) return "prepare failed: " + stmt.status().ToString();
  bool row = false;
  if (!stmt->Step(&row).ok() || !row) return "";
  return stmt->Text(0);
}

void Exec(const std::string& path, const std::string& sql) {
  auto db = sqlite::Db::Open(path, sqlite::OpenOptions{});
  ASSERT_TRUE(db.ok());
  ASSERT_TRUE(db.value()->Exec(sql).ok()) << sql;
}

class ExchangeDbTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = testing::MakeTempDir("yilian-sink-test");
    ExchangeDbOptions o;
    o.path = dir_ + "/tax-exchange.db";
    auto sink = ExchangeDbSink::Open(o, nullptr);
    ASSERT_TRUE(sink.ok()) << sink.status().ToString();
    sink_ = std::move(sink.value());
  }
  void TearDown() override { testing::RemoveTree(dir_); }
  std::string db() const { return dir_ + "/tax-exchange.db"; }
  std::string dir_;
  std::unique_ptr<ExchangeDbSink> sink_;
};

TEST_F(ExchangeDbTest, RoundTripThroughPushAndReceiptTables) {
  av1::AgencySubmission s = TaxSubmission();
  EXPECT_EQ(sink_->Submit(s).kind, Kind::kPending);
  // The row as the agency reads it: header columns and the record as JSON.
  EXPECT_EQ(QueryText(db(), "SELECT uscc FROM yl_push WHERE event_id = 'xm-2026-000101'"), s.uscc());
  EXPECT_EQ(QueryText(db(), "SELECT event_type FROM yl_push"), "ESTABLISHED");
  EXPECT_EQ(QueryText(db(), "SELECT record_type FROM yl_push"), "tax");
  EXPECT_EQ(QueryText(db(), "SELECT sequence FROM yl_push"), "42");
  av1::TaxRecord record;
  ASSERT_TRUE(FromJson(QueryText(db(), "SELECT record FROM yl_push"), &record).ok());
  EXPECT_EQ(record.taxpayer_name(), "厦门鹭岛软件科技有限公司");
  EXPECT_EQ(record.action(), "REGISTER");
  EXPECT_EQ(QueryText(db(), "SELECT COUNT(*) FROM yl_push WHERE taken_at IS NULL"), "1");

  EXPECT_EQ(sink_->Check(s.event_id()).kind, Kind::kPending);
  Exec(db(),
       "INSERT INTO yl_receipt (event_id, status, reference, processed_at) VALUES "
       "('xm-2026-000101', 'PROCESSED', 'QR35020620261127000123', '2026-11-27T03:00:00.000Z')");
  plugin::Answer a = sink_->Check(s.event_id());
  EXPECT_EQ(a.kind, Kind::kProcessed);
  EXPECT_EQ(a.reference, "QR35020620261127000123");
}

TEST_F(ExchangeDbTest, RejectionCarriesTheAgencysReasonCodeAndText) {
  av1::AgencySubmission s = TaxSubmission();
  sink_->Submit(s);
  Exec(db(),
       "INSERT INTO yl_receipt (event_id, status, reason_code, reason, processed_at) VALUES "
       "('xm-2026-000101', 'REJECTED', 'ABNORMAL_TAXPAYER_LR', '法定代表人名下存在非正常户纳税人', "
       "'2026-11-27T03:00:00.000Z')");
  plugin::Answer a = sink_->Check(s.event_id());
  EXPECT_EQ(a.kind, Kind::kRejected);
  EXPECT_EQ(a.reason, "ABNORMAL_TAXPAYER_LR: 法定代表人名下存在非正常户纳税人");
}

TEST_F(ExchangeDbTest, RedeliveryNeverCreatesASecondRecord) {
  av1::AgencySubmission s = TaxSubmission();
  EXPECT_EQ(sink_->Submit(s).kind, Kind::kPending);
  EXPECT_EQ(sink_->Submit(s).kind, Kind::kPending);
  EXPECT_EQ(QueryText(db(), "SELECT COUNT(*) FROM yl_push"), "1");
  Exec(db(),
       "INSERT INTO yl_receipt (event_id, status, reference, processed_at) VALUES "
       "('xm-2026-000101', 'PROCESSED', 'QR1', '2026-11-27T03:00:00.000Z')");
  // Once answered, a redelivery gets the answer at once.
  plugin::Answer again = sink_->Submit(s);
  EXPECT_EQ(again.kind, Kind::kProcessed);
  EXPECT_EQ(again.reference, "QR1");
  EXPECT_EQ(QueryText(db(), "SELECT COUNT(*) FROM yl_push"), "1");
}

TEST_F(ExchangeDbTest, LostRowAsksForRedeliveryBadReceiptWaits) {
  EXPECT_EQ(sink_->Check("never-submitted").kind, Kind::kRetry);
  av1::AgencySubmission s = TaxSubmission();
  sink_->Submit(s);
  Exec(db(),
       "INSERT INTO yl_receipt (event_id, status, processed_at) VALUES "
       "('xm-2026-000101', 'MAYBE', '2026-11-27T03:00:00.000Z')");
  EXPECT_EQ(sink_->Check(s.event_id()).kind, Kind::kPending);  // logged, not guessed
}

TEST_F(ExchangeDbTest, MissingTablesAreAStartupError) {
  ExchangeDbOptions o;
  o.path = dir_ + "/empty.db";
  o.create_tables = false;
  Exec(o.path, "CREATE TABLE unrelated (x INTEGER)");
  auto sink = ExchangeDbSink::Open(o, nullptr);
  ASSERT_FALSE(sink.ok());
  EXPECT_NE(sink.status().message().find("yl_push"), std::string::npos);
}

class HttpSinkTest : public ::testing::Test {
 protected:
  void SetUp() override { dir_ = testing::MakeTempDir("yilian-http-sink-test"); }
  void TearDown() override {
    front_.reset();
    testing::RemoveTree(dir_);
  }
  // A simulated agency behind its HTTP front on 127.0.0.1.
  std::unique_ptr<HttpSink> StartAgency(bool sync, std::vector<std::pair<int, int>> outages = {}) {
    sim::SimOptions o;
    o.agency = "tax";
    o.db_path = dir_ + "/agency.db";
    o.spec = sim::SimSpec{3, 0, 0, 0.0};
    o.http_sync = sync;
    o.outages = std::move(outages);
    auto sim = sim::AgencySim::Open(o, &clock_);
    EXPECT_TRUE(sim.ok());
    sim_ = std::move(sim.value());
    front_ = std::make_unique<sim::HttpFront>(sim_.get(), "/agency/tax");
    auto port = front_->Start("127.0.0.1", 0);
    EXPECT_TRUE(port.ok());
    return Sink("http://127.0.0.1:" + std::to_string(port.value()) + "/agency/tax/");
  }
  std::unique_ptr<HttpSink> Sink(const std::string& url) {
    HttpSinkOptions o;
    o.url = url;
    o.timeout_ms = 2000;
    o.retry_after_ms = 7000;
    auto sink = HttpSink::Open(o, nullptr);
    EXPECT_TRUE(sink.ok()) << sink.status().ToString();
    return std::move(sink.value());
  }
  std::string dir_;
  ManualClock clock_{1795744800000};
  std::unique_ptr<sim::AgencySim> sim_;
  std::unique_ptr<sim::HttpFront> front_;
};

TEST_F(HttpSinkTest, SynchronousAnswer) {
  auto sink = StartAgency(/*sync=*/true);
  plugin::Answer a = sink->Submit(TaxSubmission());
  EXPECT_EQ(a.kind, Kind::kProcessed);
  EXPECT_EQ(a.reference.substr(0, 2), "QR");
  EXPECT_EQ(sink->Check("xm-2026-000101").reference, a.reference);
}

TEST_F(HttpSinkTest, PendingThenPolled) {
  auto sink = StartAgency(/*sync=*/false);
  EXPECT_EQ(sink->Submit(TaxSubmission()).kind, Kind::kPending);
  EXPECT_EQ(sink->Check("xm-2026-000101").kind, Kind::kPending);
  ASSERT_EQ(sim_->Step().value(), 1);
  plugin::Answer a = sink->Check("xm-2026-000101");
  EXPECT_EQ(a.kind, Kind::kProcessed);
  EXPECT_EQ(a.reference.substr(0, 2), "QR");
}

TEST_F(HttpSinkTest, SameIdempotencyKeyNeverMakesASecondRecord) {
  auto sink = StartAgency(/*sync=*/false);
  EXPECT_EQ(sink->Submit(TaxSubmission()).kind, Kind::kPending);
  EXPECT_EQ(sink->Submit(TaxSubmission()).kind, Kind::kPending);
  EXPECT_EQ(QueryText(dir_ + "/agency.db", "SELECT COUNT(*) FROM yl_push"), "1");
  ASSERT_TRUE(sim_->Step().ok());
  EXPECT_EQ(sink->Submit(TaxSubmission()).kind, Kind::kProcessed);  // the record's answer
  EXPECT_EQ(QueryText(dir_ + "/agency.db", "SELECT COUNT(*) FROM yl_push"), "1");
  EXPECT_EQ(QueryText(dir_ + "/agency.db", "SELECT COUNT(*) FROM yl_receipt"), "1");
}

TEST_F(HttpSinkTest, OutageAndUnknownEventsAskForRetryPollingWaits) {
  auto sink = StartAgency(/*sync=*/true, {{0, 100}});
  plugin::Answer a = sink->Submit(TaxSubmission());
  EXPECT_EQ(a.kind, Kind::kRetry);
  EXPECT_EQ(a.retry_after_ms, 1000u);                             // Retry-After: 1
  EXPECT_EQ(sink->Check("xm-2026-000101").kind, Kind::kPending);  // down is not lost
  clock_.Advance(100 * 1000);
  EXPECT_EQ(sink->Check("xm-2026-000101").kind, Kind::kRetry);  // up, and it has no record
}

TEST_F(HttpSinkTest, UnreachableAgencyIsRetry) {
  auto sink = Sink("http://127.0.0.1:" + std::to_string(testing::FreeTcpPort()) + "/x");
  plugin::Answer a = sink->Submit(TaxSubmission());
  EXPECT_EQ(a.kind, Kind::kRetry);
  EXPECT_EQ(a.retry_after_ms, 7000u);
  EXPECT_EQ(sink->Check("xm-2026-000101").kind, Kind::kPending);
}

TEST_F(HttpSinkTest, ClientErrorsRejectGarbageRetries) {
  httplib::Server server;
  int calls = 0;
  server.Post("/bad/records", [&](const httplib::Request&, httplib::Response& res) {
    ++calls;
    res.status = 400;
    res.set_content("{\"reason\":\"字段 taxpayer_name 超长\"}", "application/json");
  });
  server.Post("/garbage/records", [&](const httplib::Request& req, httplib::Response& res) {
    EXPECT_EQ(req.get_header_value("Idempotency-Key"), "xm-2026-000101");
    res.set_content("<html>gateway</html>", "text/html");
  });
  int port = server.bind_to_any_port("127.0.0.1");
  std::thread t([&] { server.listen_after_bind(); });
  std::string base = "http://127.0.0.1:" + std::to_string(port);
  plugin::Answer bad = Sink(base + "/bad")->Submit(TaxSubmission());
  EXPECT_EQ(bad.kind, Kind::kRejected);
  EXPECT_NE(bad.reason.find("AGENCY_HTTP_400"), std::string::npos);
  EXPECT_NE(bad.reason.find("超长"), std::string::npos);
  EXPECT_EQ(Sink(base + "/garbage")->Submit(TaxSubmission()).kind, Kind::kRetry);
  server.stop();
  t.join();
  EXPECT_EQ(calls, 1);
}

TEST(HttpSinkUrl, EventIdsAreEncodedAndUrlsChecked) {
  EXPECT_EQ(EncodePathSegment("xm-2026_01.a~b"), "xm-2026_01.a~b");
  EXPECT_EQ(EncodePathSegment("a/b c"), "a%2Fb%20c");
  HttpSinkOptions o;
  o.url = "ftp://x";
  EXPECT_FALSE(HttpSink::Open(o, nullptr).ok());
  o.url = "http://";
  EXPECT_FALSE(HttpSink::Open(o, nullptr).ok());
}

}  // namespace
}  // namespace yilian::sink
