// The agency simulator's decisions: deterministic per seed, realistic
// references stable per enterprise, rule-based and rate-based rejections,
// delays in range; and its processing of exchange rows, hold and outage.
#include <gtest/gtest.h>

#include <cstdio>
#include <map>
#include <set>

#include "adapters_test_util.h"
#include "plugins/bank/bank_mapping.h"
#include "plugins/housing_fund/housing_fund_mapping.h"
#include "plugins/social_insurance/social_insurance_mapping.h"
#include "plugins/tax/tax_mapping.h"
#include "sim/agency_sim.h"
#include "sink/exchange_db.h"
#include "testing/process.h"

namespace yilian::sim {
namespace {

namespace av1 = ::yilian::agency::v1;
using agencies::test::Deliver;
using agencies::test::MakeEvent;

av1::AgencySubmission Submission(const av1::EnterpriseEvent& e, const std::string& agency) {
  plugin::Delivery d = Deliver(e, agency);
  if (agency == "tax") return agencies::tax::Map(d).submission;
  if (agency == "social_insurance") return agencies::social_insurance::Map(d).submission;
  if (agency == "housing_fund") return agencies::housing_fund::Map(d).submission;
  return agencies::bank::Map("ICBC", d).submission;
}

TEST(SimDecision, SameSeedSameDecisionsOtherSeedOthers) {
  SimSpec a{7, 100, 900, 0.3};
  SimSpec b{8, 100, 900, 0.3};
  int differ = 0;
  for (const auto& e : agencies::test::SampleEvents(20, 1)) {
    for (std::string agency : {"tax", "social_insurance", "housing_fund", "bank:ICBC"}) {
      av1::AgencySubmission s = Submission(e, agency);
      Decision x = Decide(a, s), y = Decide(a, s), z = Decide(b, s);
      EXPECT_EQ(x.processed, y.processed);
      EXPECT_EQ(x.reference, y.reference);
      EXPECT_EQ(x.delay_ms, y.delay_ms);
      EXPECT_GE(x.delay_ms, 100);
      EXPECT_LE(x.delay_ms, 900);
      differ += x.reference != z.reference || x.processed != z.processed;
    }
  }
  EXPECT_GT(differ, 40);
}

TEST(SimDecision, ReferencesLookLikeTheAgencies) {
  SimSpec spec{1, 0, 0, 0.0};
  av1::EnterpriseEvent e = MakeEvent(av1::ESTABLISHED);
  Decision tax = Decide(spec, Submission(e, "tax"));
  ASSERT_TRUE(tax.processed);
  EXPECT_EQ(tax.reference.substr(0, 16), "QR35020620261127");  // 信息确认受理号
  EXPECT_EQ(tax.reference.size(), 22u);
  Decision si = Decide(spec, Submission(e, "social_insurance"));
  EXPECT_EQ(si.reference.size(), 14u);  // 单位编号: region + 8 digits
  EXPECT_EQ(si.reference.substr(0, 6), "350206");
  Decision hf = Decide(spec, Submission(e, "housing_fund"));
  EXPECT_NE(hf.reference.find("/PRE_OPENED"), std::string::npos);  // 预开户 until the bank account exists
  Decision bank = Decide(spec, Submission(e, "bank:ICBC"));
  ASSERT_EQ(bank.reference.size(), 19u + 1 + 14);
  EXPECT_EQ(bank.reference[20], 'J');  // 基本存款账户编号

  // Stable per enterprise: the unit number and the account come back on a change.
  av1::EnterpriseEvent changed = MakeEvent(av1::CHANGED);
  changed.set_event_id("xm-2026-000102");
  agencies::test::Change(&changed, "name", "旧名", "新名");
  EXPECT_EQ(Decide(spec, Submission(changed, "social_insurance")).reference, si.reference);
  EXPECT_EQ(Decide(spec, Submission(changed, "housing_fund")).reference.substr(0, 16), hf.reference.substr(0, 16));
  EXPECT_EQ(Decide(spec, Submission(changed, "bank:ICBC")).reference.substr(0, 19), bank.reference.substr(0, 19));
}

TEST(SimDecision, RejectionsHaveTheAgenciesReasons) {
  SimSpec spec{5, 0, 0, 0.5};
  std::map<std::string, std::set<std::string>> codes;
  int rejected = 0, total = 0;
  for (const auto& e : agencies::test::SampleEvents(40, 4, 11)) {
    for (std::string agency : {"tax", "social_insurance", "housing_fund", "bank:ICBC"}) {
      if (agency == "bank:ICBC" && e.bank_reservation().bank_code() != "ICBC") continue;
      av1::AgencySubmission s = Submission(e, agency);
      if (s.record_case() == av1::AgencySubmission::RECORD_NOT_SET) continue;
      Decision d = Decide(spec, s);
      ++total;
      if (!d.processed) {
        ++rejected;
        EXPECT_FALSE(d.reason.empty());
        codes[agency].insert(d.reason_code);
      }
    }
  }
  EXPECT_GT(rejected, total / 5);
  EXPECT_LT(rejected, total * 4 / 5);
  EXPECT_TRUE(codes["tax"].count("ABNORMAL_TAXPAYER_LR"));
  EXPECT_TRUE(codes["housing_fund"].count("LR_MISMATCH"));
  EXPECT_TRUE(codes["bank:ICBC"].count("BRANCH_SUSPENDED") || codes["bank:ICBC"].count("ID_VERIFICATION_FAILED"));
}

// The centre refuses some openings for lack of a corporate bank account
// (it knows that, the record does not say) and some for mismatching data.
TEST(SimDecision, HousingFundRefusesSomeForLackOfABankAccount) {
  SimSpec spec{4, 0, 0, 0.6};
  std::set<std::string> codes;
  for (const auto& e : agencies::test::SampleEvents(40, 1, 4)) {
    Decision d = Decide(spec, Submission(e, "housing_fund"));
    if (!d.processed) codes.insert(d.reason_code);
  }
  EXPECT_TRUE(codes.count("NO_BANK_ACCOUNT"));
  EXPECT_TRUE(codes.count("LR_MISMATCH"));
}

TEST(SimDecision, RateZeroProcessesEverything) {
  for (const auto& e : agencies::test::SampleEvents(30, 4, 2))
    for (std::string agency : {"tax", "social_insurance"}) {
      av1::AgencySubmission s = Submission(e, agency);
      if (s.record_case() != av1::AgencySubmission::RECORD_NOT_SET) {
        EXPECT_TRUE(Decide(SimSpec{2, 0, 0, 0.0}, s).processed);
      }
    }
}

TEST(SimClock, MillisRoundTrip) {
  EXPECT_EQ(FormatRfc3339Utc(1795744800123), "2026-11-27T02:00:00.123Z");
  EXPECT_EQ(ParseMillis("2026-11-27T02:00:00.123Z"), 1795744800123);
  EXPECT_EQ(ParseMillis("yesterday"), -1);
}

class SimTablesTest : public ::testing::Test {
 protected:
  void SetUp() override { dir_ = testing::MakeTempDir("yilian-sim-test"); }
  void TearDown() override { testing::RemoveTree(dir_); }
  std::string dir_;
  ManualClock clock_{1795744800000};
};

// The simulator takes rows, answers them after their delay, not during a
// hold, and the sink reads its receipts.
TEST_F(SimTablesTest, AnswersRowsAfterTheirDelayAndNotWhileHeld) {
  SimOptions o;
  o.agency = "tax";
  o.db_path = dir_ + "/tax.db";
  o.spec = SimSpec{1, 1000, 1000, 0.0};
  o.hold_file = dir_ + "/hold";
  auto sim = AgencySim::Open(o, &clock_);
  ASSERT_TRUE(sim.ok()) << sim.status().ToString();
  sink::ExchangeDbOptions so;
  so.path = o.db_path;
  auto sink = sink::ExchangeDbSink::Open(so, nullptr);
  ASSERT_TRUE(sink.ok()) << sink.status().ToString();

  av1::EnterpriseEvent e = MakeEvent(av1::ESTABLISHED);
  ASSERT_EQ(sink.value()->Submit(Submission(e, "tax")).kind, plugin::Answer::Kind::kPending);
  testing::WriteFile(o.hold_file, "");
  EXPECT_EQ(sim.value()->Step().value(), 0);
  clock_.Advance(5000);
  EXPECT_EQ(sim.value()->Step().value(), 0);  // held: not even taken
  std::remove(o.hold_file.c_str());
  EXPECT_EQ(sim.value()->Step().value(), 0);  // taken now, due in 1 s
  EXPECT_EQ(sink.value()->Check(e.event_id()).kind, plugin::Answer::Kind::kPending);
  clock_.Advance(999);
  EXPECT_EQ(sim.value()->Step().value(), 0);
  clock_.Advance(1);
  EXPECT_EQ(sim.value()->Step().value(), 1);
  plugin::Answer a = sink.value()->Check(e.event_id());
  EXPECT_EQ(a.kind, plugin::Answer::Kind::kProcessed);
  EXPECT_EQ(a.reference.substr(0, 2), "QR");
  EXPECT_EQ(sim.value()->Step().value(), 0);  // answered once
}

TEST_F(SimTablesTest, OutageWindowsStopProcessing) {
  SimOptions o;
  o.agency = "social_insurance";
  o.db_path = dir_ + "/si.db";
  o.spec = SimSpec{1, 0, 0, 0.0};
  o.outages = {{10, 20}};
  auto sim = AgencySim::Open(o, &clock_);
  ASSERT_TRUE(sim.ok());
  EXPECT_FALSE(sim.value()->Down());
  clock_.Advance(10000);
  EXPECT_TRUE(sim.value()->InOutage());
  EXPECT_EQ(sim.value()->Poll("any").http_status, 503);
  clock_.Advance(10000);
  EXPECT_FALSE(sim.value()->Down());
}

}  // namespace
}  // namespace yilian::sim
