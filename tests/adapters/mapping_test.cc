// Each agency plugin's mapping for each event type: fields, code tables,
// Chinese text kept intact in the record's JSON, what each agency is not
// given (minimum necessary), events refused before sending, and events an
// agency has nothing to do with.
#include <gtest/gtest.h>

#include "adapters_test_util.h"
#include "cli/sample.h"
#include "plugins/bank/bank_mapping.h"
#include "plugins/housing_fund/housing_fund_mapping.h"
#include "plugins/social_insurance/social_insurance_mapping.h"
#include "plugins/tax/tax_mapping.h"
#include "security/field_filter.h"
#include "sink/sink.h"
#include "testing/agencies_doc.h"
#include "testing/full_event.h"

namespace yilian::agencies {
namespace {

using test::Change;
using test::Deliver;
using test::MakeEvent;
using Kind = Mapped::Kind;

TEST(TaxMapping, EstablishedBecomesRegistrationWithCodesAndChineseText) {
  av1::EnterpriseEvent e = MakeEvent(av1::ESTABLISHED);
  Mapped m = tax::Map(Deliver(e, "tax"));
  ASSERT_EQ(m.kind, Kind::kSend) << m.detail;
  const av1::AgencySubmission& s = m.submission;
  EXPECT_EQ(s.event_id(), e.event_id());
  EXPECT_EQ(s.agency(), "tax");
  EXPECT_EQ(s.event_type(), "ESTABLISHED");
  EXPECT_EQ(s.sequence(), 42u);
  const av1::TaxRecord& r = s.tax();
  EXPECT_EQ(r.action(), "REGISTER");
  EXPECT_EQ(r.taxpayer_id(), e.uscc());
  EXPECT_EQ(r.taxpayer_name(), "厦门鹭岛软件科技有限公司");
  EXPECT_EQ(r.registration_type_code(), "173");  // 私营有限责任公司
  EXPECT_EQ(r.entity_type(), "有限责任公司（自然人投资或控股）");
  EXPECT_EQ(r.legal_representative().name(), "陈伟");
  EXPECT_EQ(r.legal_representative().id_type_code(), "201");
  EXPECT_EQ(r.legal_representative().id_number(), "11010519491231002X");
  EXPECT_EQ(r.legal_representative().phone(), "13812345678");
  EXPECT_EQ(r.registered_address(), "福建省厦门市湖里区观日路12号3层");
  EXPECT_EQ(r.registered_capital(), "1000000.00");
  EXPECT_EQ(r.currency_code(), "156");
  EXPECT_EQ(r.accounting_method_code(), "1");
  EXPECT_EQ(r.employee_count(), 25u);
  EXPECT_EQ(r.region_code(), "350206");
  EXPECT_EQ(r.registration_authority(), "厦门市市场监督管理局");
  EXPECT_EQ(r.effective_at(), "2026-11-27T02:00:00Z");
  EXPECT_TRUE(r.changes().empty());
  // Chinese text goes through the JSON mapping as UTF-8, unescaped, and back.
  std::string json = sink::ToJson(s);
  EXPECT_NE(json.find("\"taxpayer_name\":\"厦门鹭岛软件科技有限公司\""), std::string::npos) << json;
  av1::AgencySubmission back;
  ASSERT_TRUE(sink::FromJson(json, &back).ok());
  EXPECT_EQ(back.tax().business_scope(), e.enterprise().business_scope());
}

TEST(TaxMapping, ChangeCarriesOnlyTheItemsTaxHolds) {
  av1::EnterpriseEvent e = MakeEvent(av1::CHANGED);
  Change(&e, "address", "福建省厦门市湖里区观日路12号3层", "福建省厦门市思明区软件园二期望海路8号501");
  Change(&e, "contact", "张三", "李四");
  Mapped m = tax::Map(Deliver(e, "tax"));
  ASSERT_EQ(m.kind, Kind::kSend) << m.detail;
  const av1::TaxRecord& r = m.submission.tax();
  EXPECT_EQ(r.action(), "CHANGE");
  ASSERT_EQ(r.changes_size(), 1);
  EXPECT_EQ(r.changes(0).field(), "address");
  EXPECT_EQ(r.changes(0).item_name(), "注册地址");
  EXPECT_EQ(r.changes(0).before(), "福建省厦门市湖里区观日路12号3层");
  EXPECT_EQ(r.changes(0).after(), "福建省厦门市思明区软件园二期望海路8号501");
}

TEST(TaxMapping, ChangeOfNothingTaxHoldsIsNotApplicable) {
  av1::EnterpriseEvent e = MakeEvent(av1::CHANGED);
  Change(&e, "contact", "张三", "李四");
  EXPECT_EQ(tax::Map(Deliver(e, "tax")).kind, Kind::kNotApplicable);
}

TEST(TaxMapping, DeregistrationAsksForClearance) {
  av1::EnterpriseEvent e = MakeEvent(av1::DEREGISTERED);
  e.mutable_deregistration()->set_mode(av1::SIMPLIFIED);
  e.mutable_deregistration()->set_reason("决议解散");
  Mapped m = tax::Map(Deliver(e, "tax"));
  ASSERT_EQ(m.kind, Kind::kSend) << m.detail;
  EXPECT_EQ(m.submission.tax().action(), "CLEAR");
  EXPECT_EQ(m.submission.tax().deregistration_mode_code(), "2");
  EXPECT_EQ(m.submission.tax().deregistration_reason(), "决议解散");
  e.mutable_deregistration()->set_mode(av1::DEREGISTRATION_MODE_UNSPECIFIED);
  Mapped missing = tax::Map(Deliver(e, "tax"));
  EXPECT_EQ(missing.kind, Kind::kIncomplete);
  EXPECT_NE(missing.detail.find("注销方式"), std::string::npos);
}

TEST(TaxMapping, FilingIsNotForTax) {
  EXPECT_EQ(tax::Map(Deliver(MakeEvent(av1::FILED), "tax")).kind, Kind::kNotApplicable);
}

TEST(TaxMapping, MissingWhatTaxNeedsIsRefusedBeforeSending) {
  av1::EnterpriseEvent e = MakeEvent(av1::ESTABLISHED);
  e.mutable_enterprise()->mutable_legal_representative()->clear_id_number();
  e.mutable_enterprise()->set_accounting_method("");
  Mapped m = tax::Map(Deliver(e, "tax"));
  ASSERT_EQ(m.kind, Kind::kIncomplete);
  EXPECT_NE(m.detail.find("法定代表人证件号码"), std::string::npos) << m.detail;
  EXPECT_NE(m.detail.find("核算方式"), std::string::npos) << m.detail;
}

TEST(TaxMapping, CodeTables) {
  EXPECT_EQ(tax::RegistrationTypeCode("股份有限公司"), "160");
  EXPECT_EQ(tax::RegistrationTypeCode("股份有限公司（自然人投资或控股）"), "174");
  EXPECT_EQ(tax::RegistrationTypeCode("有限责任公司"), "159");
  EXPECT_EQ(tax::RegistrationTypeCode("有限责任公司（国有独资）"), "151");
  EXPECT_EQ(tax::RegistrationTypeCode("个人独资企业"), "171");
  EXPECT_EQ(tax::RegistrationTypeCode("普通合伙企业"), "172");
  EXPECT_EQ(tax::RegistrationTypeCode("农民专业合作社"), "190");
  EXPECT_EQ(tax::CurrencyCode("CNY"), "156");
  EXPECT_EQ(tax::CurrencyCode("USD"), "840");
  EXPECT_EQ(tax::CurrencyCode("XXX"), "");
  av1::EnterpriseEvent e = MakeEvent(av1::ESTABLISHED);
  e.mutable_enterprise()->mutable_legal_representative()->set_id_type(av1::HK_MACAO_PERMIT);
  EXPECT_EQ(tax::Map(Deliver(e, "tax")).submission.tax().legal_representative().id_type_code(), "210");
}

TEST(SocialInsuranceMapping, EachEventType) {
  av1::EnterpriseEvent est = MakeEvent(av1::ESTABLISHED);
  Mapped m = social_insurance::Map(Deliver(est, "social_insurance"));
  ASSERT_EQ(m.kind, Kind::kSend) << m.detail;
  const av1::SocialInsuranceRecord& r = m.submission.social_insurance();
  EXPECT_EQ(r.action(), "REGISTER");
  EXPECT_EQ(r.uscc(), est.uscc());
  EXPECT_EQ(r.unit_name(), "厦门鹭岛软件科技有限公司");
  EXPECT_EQ(r.region_code(), "350206");
  EXPECT_EQ(r.unit_category_code(), "10");
  EXPECT_EQ(r.industry_code(), "I6513");
  EXPECT_EQ(r.legal_representative().id_type_code(), "01");
  EXPECT_EQ(r.address(), "福建省厦门市湖里区观日路12号3层");
  EXPECT_EQ(r.established_on(), "2026-11-27");

  av1::EnterpriseEvent changed = MakeEvent(av1::CHANGED);
  Change(&changed, "name", "厦门鹭岛软件科技有限公司", "厦门鹭岛数字科技集团有限公司");
  m = social_insurance::Map(Deliver(changed, "social_insurance"));
  ASSERT_EQ(m.kind, Kind::kSend) << m.detail;
  EXPECT_EQ(m.submission.social_insurance().action(), "CHANGE");
  ASSERT_EQ(m.submission.social_insurance().changes_size(), 1);
  EXPECT_EQ(m.submission.social_insurance().changes(0).item_name(), "单位名称");
  EXPECT_EQ(m.submission.social_insurance().changes(0).after(), "厦门鹭岛数字科技集团有限公司");

  av1::EnterpriseEvent scope = MakeEvent(av1::CHANGED);
  Change(&scope, "business_scope", "软件开发", "软件开发；人工智能应用软件开发");
  EXPECT_EQ(social_insurance::Map(Deliver(scope, "social_insurance")).kind, Kind::kNotApplicable);

  av1::EnterpriseEvent dereg = MakeEvent(av1::DEREGISTERED);
  dereg.mutable_deregistration()->set_mode(av1::NORMAL);
  m = social_insurance::Map(Deliver(dereg, "social_insurance"));
  ASSERT_EQ(m.kind, Kind::kSend) << m.detail;
  EXPECT_EQ(m.submission.social_insurance().action(), "CANCEL");
  EXPECT_EQ(m.submission.social_insurance().deregistration_mode_code(), "1");

  EXPECT_EQ(social_insurance::Map(Deliver(MakeEvent(av1::FILED), "social_insurance")).kind, Kind::kNotApplicable);

  est.mutable_enterprise()->set_industry_code("");
  est.mutable_enterprise()->set_region_code("3502");
  Mapped incomplete = social_insurance::Map(Deliver(est, "social_insurance"));
  ASSERT_EQ(incomplete.kind, Kind::kIncomplete);
  EXPECT_NE(incomplete.detail.find("行业"), std::string::npos);
  EXPECT_NE(incomplete.detail.find("参保地行政区划"), std::string::npos);
}

TEST(HousingFundMapping, EachEventType) {
  av1::EnterpriseEvent est = MakeEvent(av1::ESTABLISHED);
  Mapped m = housing_fund::Map(Deliver(est, "housing_fund"));
  ASSERT_EQ(m.kind, Kind::kSend) << m.detail;
  const av1::HousingFundRecord& r = m.submission.housing_fund();
  EXPECT_EQ(r.action(), "OPEN");
  EXPECT_EQ(r.unit_name(), "厦门鹭岛软件科技有限公司");
  EXPECT_EQ(r.legal_representative().name(), "陈伟");
  EXPECT_EQ(r.legal_representative().id_type_code(), "01");
  EXPECT_EQ(r.address(), "福建省厦门市湖里区观日路12号3层");
  EXPECT_EQ(sink::ToJson(m.submission).find("ICBC"), std::string::npos);  // the bank is not the centre's business

  av1::EnterpriseEvent changed = MakeEvent(av1::CHANGED);
  Change(&changed, "legal_representative", "陈伟", "林芳");
  m = housing_fund::Map(Deliver(changed, "housing_fund"));
  ASSERT_EQ(m.kind, Kind::kSend) << m.detail;
  EXPECT_EQ(m.submission.housing_fund().action(), "CHANGE");
  EXPECT_EQ(m.submission.housing_fund().changes(0).item_name(), "法定代表人");

  av1::EnterpriseEvent capital = MakeEvent(av1::CHANGED);
  Change(&capital, "registered_capital", "1000000.00", "5000000.00");
  EXPECT_EQ(housing_fund::Map(Deliver(capital, "housing_fund")).kind, Kind::kNotApplicable);

  m = housing_fund::Map(Deliver(MakeEvent(av1::DEREGISTERED), "housing_fund"));
  ASSERT_EQ(m.kind, Kind::kSend) << m.detail;
  EXPECT_EQ(m.submission.housing_fund().action(), "CLOSE");
  EXPECT_EQ(housing_fund::Map(Deliver(MakeEvent(av1::FILED), "housing_fund")).kind, Kind::kNotApplicable);

  est.mutable_enterprise()->mutable_legal_representative()->clear_name();
  EXPECT_EQ(housing_fund::Map(Deliver(est, "housing_fund")).kind, Kind::kIncomplete);
}

TEST(BankMapping, EachEventTypeForTheConfiguredBank) {
  av1::EnterpriseEvent est = MakeEvent(av1::ESTABLISHED);
  Mapped m = bank::Map("ICBC", Deliver(est, "bank:ICBC"));
  ASSERT_EQ(m.kind, Kind::kSend) << m.detail;
  const av1::BankRecord& r = m.submission.bank();
  EXPECT_EQ(r.action(), "RESERVE");
  EXPECT_EQ(r.bank_code(), "ICBC");
  EXPECT_EQ(r.branch_code(), "ICBC-XM-1");
  EXPECT_EQ(r.depositor_name(), "厦门鹭岛软件科技有限公司");
  EXPECT_EQ(r.legal_representative().id_type_code(), "0");
  EXPECT_EQ(r.legal_representative().phone(), "13812345678");

  av1::EnterpriseEvent changed = MakeEvent(av1::CHANGED);
  changed.clear_bank_reservation();  // routed by the enterprise's account relation
  Change(&changed, "address", "旧址", "福建省厦门市集美区集美大道1号");
  m = bank::Map("ICBC", Deliver(changed, "bank:ICBC"));
  ASSERT_EQ(m.kind, Kind::kSend) << m.detail;
  EXPECT_EQ(m.submission.bank().action(), "CHANGE");
  EXPECT_EQ(m.submission.bank().bank_code(), "ICBC");
  EXPECT_EQ(m.submission.bank().changes(0).item_name(), "地址");

  m = bank::Map("ICBC", Deliver(MakeEvent(av1::DEREGISTERED), "bank:ICBC"));
  ASSERT_EQ(m.kind, Kind::kSend) << m.detail;
  EXPECT_EQ(m.submission.bank().action(), "CLOSE");
  EXPECT_EQ(bank::Map("ICBC", Deliver(MakeEvent(av1::FILED), "bank:ICBC")).kind, Kind::kNotApplicable);

  // An event for another bank, or a reservation without a branch.
  Mapped other = bank::Map("CCB", Deliver(est, "bank:CCB"));
  ASSERT_EQ(other.kind, Kind::kIncomplete);
  EXPECT_NE(other.detail.find("ICBC"), std::string::npos);
  est.mutable_bank_reservation()->clear_branch_code();
  Mapped no_branch = bank::Map("ICBC", Deliver(est, "bank:ICBC"));
  ASSERT_EQ(no_branch.kind, Kind::kIncomplete);
  EXPECT_NE(no_branch.detail.find("预约网点"), std::string::npos);
}

// Minimum necessary: no record carries the liaison person, and only tax and
// the bank get the legal representative's phone.
TEST(Minimization, AgenciesGetOnlyTheirFields) {
  av1::EnterpriseEvent e = MakeEvent(av1::ESTABLISHED);
  const std::string contact_id = e.enterprise().contact().id_number();
  const std::string contact_phone = e.enterprise().contact().phone();
  const std::string lr_phone = e.enterprise().legal_representative().phone();
  struct Case {
    std::string agency;
    Mapped mapped;
    bool phone;
  };
  std::vector<Case> cases = {
      {"tax", tax::Map(Deliver(e, "tax")), true},
      {"social_insurance", social_insurance::Map(Deliver(e, "social_insurance")), false},
      {"housing_fund", housing_fund::Map(Deliver(e, "housing_fund")), false},
      {"bank:ICBC", bank::Map("ICBC", Deliver(e, "bank:ICBC")), true},
  };
  for (const auto& c : cases) {
    ASSERT_EQ(c.mapped.kind, Kind::kSend) << c.agency;
    std::string json = sink::ToJson(c.mapped.submission);
    EXPECT_EQ(json.find(contact_id), std::string::npos) << c.agency;
    EXPECT_EQ(json.find(contact_phone), std::string::npos) << c.agency;
    EXPECT_EQ(json.find(lr_phone) != std::string::npos, c.phone) << c.agency;
    EXPECT_EQ(json.find(e.enterprise().contact().name()), std::string::npos) << c.agency;
    // Only social insurance records the industry; only tax the capital and scope.
    EXPECT_EQ(json.find("I6513") != std::string::npos, c.agency == "social_insurance") << c.agency;
    EXPECT_EQ(json.find("1000000.00") != std::string::npos, c.agency == "tax") << c.agency;
    EXPECT_EQ(json.find("信息系统集成服务") != std::string::npos, c.agency == "tax") << c.agency;
  }
}

// The mapping of the plugin serving `agency` (a bank: ICBC).
Mapped MapFor(const std::string& agency, const plugin::Delivery& d) {
  if (agency == "tax") return tax::Map(d);
  if (agency == "social_insurance") return social_insurance::Map(d);
  if (agency == "housing_fund") return housing_fund::Map(d);
  return bank::Map("ICBC", d);
}

// The plugin maps `full` pruned to `list` exactly as `full` itself: it
// needs nothing outside the list.
void ExpectPrunedMapsTheSame(const security::FieldAllowList& list, const std::string& agency,
                             const v1::EnterpriseEvent& full) {
  v1::EnterpriseEvent pruned = full;
  security::Prune(list, &pruned);
  av1::EnterpriseEvent a = test::ToAgencyView(full), b = test::ToAgencyView(pruned);
  Mapped from_full = MapFor(agency, Deliver(a, agency)), from_pruned = MapFor(agency, Deliver(b, agency));
  EXPECT_EQ(from_pruned.kind, from_full.kind) << agency << " " << full.event_id() << ": " << from_pruned.detail;
  from_full.submission.clear_submitted_at();
  from_pruned.submission.clear_submitted_at();
  EXPECT_EQ(sink::ToJson(from_pruned.submission), sink::ToJson(from_full.submission))
      << agency << " " << full.event_id();
}

// The sample generator's events (what the end-to-end tests publish) map
// for every agency that receives them.
TEST(SampleEvents, MapForEveryAgency) {
  for (const av1::EnterpriseEvent& e : test::SampleEvents(6, 4)) {
    EXPECT_NE(tax::Map(Deliver(e, "tax")).kind, Kind::kIncomplete) << e.event_id();
    EXPECT_NE(social_insurance::Map(Deliver(e, "social_insurance")).kind, Kind::kIncomplete) << e.event_id();
    EXPECT_NE(housing_fund::Map(Deliver(e, "housing_fund")).kind, Kind::kIncomplete) << e.event_id();
    if (e.bank_reservation().bank_code() == "ICBC") {
      EXPECT_NE(bank::Map("ICBC", Deliver(e, "bank:ICBC")).kind, Kind::kIncomplete) << e.event_id();
    }
  }
}

// The broker prunes each event to the agency's allow list before delivery
// (broker/security): the plugins must map pruned events exactly as full ones.
TEST(SampleEvents, PrunedToTheBrokersAllowListMapTheSame) {
  sample::SampleOptions o;
  o.seed = 8;
  o.enterprises = 8;
  o.events_per_enterprise = 4;
  o.deregister_fraction = 0.5;
  o.banks = {"ICBC"};
  for (const v1::EnterpriseEvent& full : sample::Generate(o)) {
    for (std::string agency : {"tax", "social_insurance", "housing_fund", "bank:ICBC"}) {
      ExpectPrunedMapsTheSame(security::DefaultAllowList(agency), agency, full);
    }
  }
}

// The same with the lists of docs/agencies.md section 6, read from the
// document (the contract the broker's lists are tested against too).
TEST(AllowListDocument, EventsPrunedToTheDocumentsListsMapTheSame) {
  testing::AllowListTable table = testing::ReadAllowListTable(testing::AgenciesDocPath());
  ASSERT_TRUE(table.error.empty()) << table.error;
  sample::SampleOptions o;
  o.seed = 9;
  o.enterprises = 8;
  o.events_per_enterprise = 4;
  o.deregister_fraction = 0.5;
  o.banks = {"ICBC"};
  std::vector<v1::EnterpriseEvent> events = sample::Generate(o);
  for (const auto& e : testing::FullEvents("doc")) events.push_back(e);
  for (const auto& [column, agency] : std::map<std::string, std::string>{{"tax", "tax"},
                                                                         {"social_insurance", "social_insurance"},
                                                                         {"housing_fund", "housing_fund"},
                                                                         {"bank:*", "bank:ICBC"}}) {
    ASSERT_TRUE(table.allowed.count(column)) << column;
    security::FieldAllowList list{table.allowed.at(column)};
    ASSERT_TRUE(security::ValidateAllowList(list).ok()) << column;
    for (const v1::EnterpriseEvent& full : events) {
      ExpectPrunedMapsTheSame(list, agency, full);
    }
  }
}

// What a plugin writes (the submission's JSON: the exchange table's record
// column and the HTTP body) holds no value of a field outside its agency's
// column, and no value of a change the agency may not see in full, even
// when it is handed a full event (a broker configured with wider lists).
TEST(AllowListDocument, PluginsWriteNothingOutsideTheDocumentsLists) {
  testing::AllowListTable table = testing::ReadAllowListTable(testing::AgenciesDocPath());
  ASSERT_TRUE(table.error.empty()) << table.error;
  auto covered = [](const std::vector<std::string>& paths, const std::string& leaf) {
    for (const auto& p : paths)
      if (leaf == p || leaf.rfind(p + ".", 0) == 0) return true;
    return false;
  };
  for (const auto& [column, agency] : std::map<std::string, std::string>{{"tax", "tax"},
                                                                         {"social_insurance", "social_insurance"},
                                                                         {"housing_fund", "housing_fund"},
                                                                         {"bank:*", "bank:ICBC"}}) {
    const std::vector<std::string>& allowed = table.allowed.at(column);
    for (const v1::EnterpriseEvent& full : testing::FullEvents("doc")) {
      // The string values of the event outside the column: path -> value.
      std::map<std::string, std::string> withheld;
      const v1::Enterprise& ent = full.enterprise();
      const std::map<std::string, std::string> values = {
          {"authority", full.authority()},
          {"enterprise.name", ent.name()},
          {"enterprise.entity_type", ent.entity_type()},
          {"enterprise.legal_representative.name", ent.legal_representative().name()},
          {"enterprise.legal_representative.id_number", ent.legal_representative().id_number()},
          {"enterprise.legal_representative.phone", ent.legal_representative().phone()},
          {"enterprise.registered_capital.amount", ent.registered_capital().amount()},
          {"enterprise.registered_capital.currency", ent.registered_capital().currency()},
          {"enterprise.address", ent.address()},
          {"enterprise.business_scope", ent.business_scope()},
          {"enterprise.established_on", ent.established_on()},
          {"enterprise.region_code", ent.region_code()},
          {"enterprise.accounting_method", ent.accounting_method()},
          {"enterprise.contact.name", ent.contact().name()},
          {"enterprise.contact.id_number", ent.contact().id_number()},
          {"enterprise.contact.phone", ent.contact().phone()},
          {"enterprise.industry_code", ent.industry_code()},
          {"bank_reservation.branch_code", full.bank_reservation().branch_code()},
          {"deregistration.reason", full.deregistration().reason()}};
      for (const auto& [path, value] : values)
        if (!value.empty() && !covered(allowed, path)) withheld[path] = value;
      for (const auto& c : full.changes()) {
        // Values only where every leaf of the field is in the column (a
        // change of a field that is not in the snapshot: nobody).
        const auto* field = v1::Enterprise::descriptor()->FindFieldByName(c.field());
        std::vector<std::string> leaves;
        if (field != nullptr && field->message_type() != nullptr) {
          for (int i = 0; i < field->message_type()->field_count(); ++i)
            leaves.push_back("enterprise." + c.field() + "." + field->message_type()->field(i)->name());
        } else if (field != nullptr) {
          leaves.push_back("enterprise." + c.field());
        }
        bool all = !leaves.empty();
        for (const auto& leaf : leaves) all = all && covered(allowed, leaf);
        if (!all) {
          withheld["changes[" + c.field() + "].old_value"] = c.old_value();
          withheld["changes[" + c.field() + "].new_value"] = c.new_value();
        }
      }
      av1::EnterpriseEvent view = test::ToAgencyView(full);
      Mapped m = MapFor(agency, Deliver(view, agency));
      ASSERT_NE(m.kind, Kind::kIncomplete) << agency << " " << full.event_id() << ": " << m.detail;
      std::string json = sink::ToJson(m.submission);
      for (const auto& [path, value] : withheld)
        EXPECT_EQ(json.find(value), std::string::npos)
            << agency << " " << full.event_id() << " wrote " << path << " (" << value << ")";
    }
  }
}

}  // namespace
}  // namespace yilian::agencies
