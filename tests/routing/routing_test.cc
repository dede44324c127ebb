// Routing decides which agencies ever see an event; a wrong answer here is a
// silent loss (an agency never told) or a spurious task. The expectations are
// written from the default agency rules in config.cc (DOMAIN.md section 3).
#include "routing/routing.h"

#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "config/config.h"
#include "yilian/v1/event.pb.h"

namespace yilian::routing {
namespace {

using Ids = std::vector<std::string>;

v1::EnterpriseEvent Event(v1::EventType type, const std::string& bank_code = "") {
  v1::EnterpriseEvent e;
  e.set_event_id("evt-1");
  e.set_type(type);
  e.set_uscc("91110000100000000A");
  e.set_revision(1);
  if (!bank_code.empty()) e.mutable_bank_reservation()->set_bank_code(bank_code);
  return e;
}

v1::EnterpriseEvent Changed(const std::vector<std::string>& fields, const std::string& bank_code = "") {
  v1::EnterpriseEvent e = Event(v1::CHANGED, bank_code);
  for (const auto& f : fields) {
    auto* c = e.add_changes();
    c->set_field(f);
    c->set_old_value("old");
    c->set_new_value("new");
  }
  return e;
}

Ids RouteOk(const Router& router, const v1::EnterpriseEvent& e) {
  auto r = router.Route(e);
  EXPECT_TRUE(r.ok()) << r.status().ToString();
  return r.ok() ? r.value() : Ids{"<error>"};
}

config::AgencyConfig Agency(std::string id, std::vector<v1::EventType> events,
                            std::vector<std::string> fields = {}) {
  config::AgencyConfig a;
  a.id = std::move(id);
  a.events = std::move(events);
  a.changed_fields = std::move(fields);
  return a;
}

class DefaultRoutingTest : public ::testing::Test {
 protected:
  Router router_{config::DefaultConfig().agencies};
};

TEST_F(DefaultRoutingTest, EstablishedWithBankReservationGoesToAllFourInOrder) {
  EXPECT_EQ(RouteOk(router_, Event(v1::ESTABLISHED, "ICBC")),
            (Ids{"bank:ICBC", "housing_fund", "social_insurance", "tax"}));
  EXPECT_EQ(RouteOk(router_, Event(v1::ESTABLISHED, "ABC")),
            (Ids{"bank:ABC", "housing_fund", "social_insurance", "tax"}));
}

TEST_F(DefaultRoutingTest, EstablishedWithoutBankGoesToTheThreeAuthorities) {
  EXPECT_EQ(RouteOk(router_, Event(v1::ESTABLISHED)), (Ids{"housing_fund", "social_insurance", "tax"}));
  // A reservation message present but without a bank code names no bank.
  v1::EnterpriseEvent e = Event(v1::ESTABLISHED);
  e.mutable_bank_reservation()->set_branch_code("0001");
  EXPECT_EQ(RouteOk(router_, e), (Ids{"housing_fund", "social_insurance", "tax"}));
}

TEST_F(DefaultRoutingTest, ChangedBusinessScopeOnlyGoesToTax) {
  EXPECT_EQ(RouteOk(router_, Changed({"business_scope"})), Ids{"tax"});
  // The bank template does not list business_scope, so a reservation changes nothing.
  EXPECT_EQ(RouteOk(router_, Changed({"business_scope"}, "ICBC")), Ids{"tax"});
}

TEST_F(DefaultRoutingTest, ChangedAddressGoesToEveryAgencyListingIt) {
  EXPECT_EQ(RouteOk(router_, Changed({"address"})), (Ids{"housing_fund", "social_insurance", "tax"}));
  EXPECT_EQ(RouteOk(router_, Changed({"address"}, "CCB")),
            (Ids{"bank:CCB", "housing_fund", "social_insurance", "tax"}));
}

TEST_F(DefaultRoutingTest, ChangedFieldsPerDefaultLists) {
  struct Case {
    const char* field;
    Ids expected;  // with a bank reservation for BOC
  };
  const Case cases[] = {
      {"name", {"bank:BOC", "housing_fund", "social_insurance", "tax"}},
      {"legal_representative", {"bank:BOC", "housing_fund", "social_insurance", "tax"}},
      {"entity_type", {"social_insurance", "tax"}},
      {"registered_capital", {"tax"}},
      {"accounting_method", {"tax"}},
      {"employee_count", {"tax"}},
      {"region_code", {"social_insurance"}},
      {"industry_code", {"social_insurance"}},
      {"shareholders", {}},
      {"contact", {}},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.field);
    EXPECT_EQ(RouteOk(router_, Changed({c.field}, "BOC")), c.expected);
  }
}

TEST_F(DefaultRoutingTest, ChangedSeveralFieldsIsTheUnionWithoutDuplicates) {
  EXPECT_EQ(RouteOk(router_, Changed({"business_scope", "region_code"})), (Ids{"social_insurance", "tax"}));
  EXPECT_EQ(RouteOk(router_, Changed({"address", "name", "address"})),
            (Ids{"housing_fund", "social_insurance", "tax"}));
  EXPECT_EQ(RouteOk(router_, Changed({})), Ids{});
}

TEST_F(DefaultRoutingTest, FiledGoesNowhere) {
  EXPECT_EQ(RouteOk(router_, Event(v1::FILED)), Ids{});
  EXPECT_EQ(RouteOk(router_, Event(v1::FILED, "ICBC")), Ids{});
}

TEST_F(DefaultRoutingTest, DeregisteredGoesToTheThreeAuthorities) {
  EXPECT_EQ(RouteOk(router_, Event(v1::DEREGISTERED)), (Ids{"housing_fund", "social_insurance", "tax"}));
  EXPECT_EQ(RouteOk(router_, Event(v1::DEREGISTERED, "ICBC")),
            (Ids{"bank:ICBC", "housing_fund", "social_insurance", "tax"}));
}

TEST_F(DefaultRoutingTest, KnownAgencies) {
  for (const char* id : {"tax", "social_insurance", "housing_fund", "bank:ICBC", "bank:ABC", "bank:X1"})
    EXPECT_TRUE(router_.IsKnownAgency(id)) << id;
  for (const char* id : {"bank:*", "bank:", "bank", "customs", "", "TAX", "bank:IC*"})
    EXPECT_FALSE(router_.IsKnownAgency(id)) << id;
}

TEST(ExplicitBankRouting, BankWithoutRuleOrTemplateIsUnroutable) {
  Router router({Agency("tax", {v1::ESTABLISHED}), Agency("bank:ICBC", {v1::ESTABLISHED})});
  auto r = router.Route(Event(v1::ESTABLISHED, "ABC"));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(r.status().message().find("ABC"), std::string::npos) << r.status().message();

  EXPECT_EQ(RouteOk(router, Event(v1::ESTABLISHED, "ICBC")), (Ids{"bank:ICBC", "tax"}));
  EXPECT_EQ(RouteOk(router, Event(v1::ESTABLISHED)), Ids{"tax"});
}

TEST(ExplicitBankRouting, KnownAgenciesWithoutTemplate) {
  Router router({Agency("tax", {v1::ESTABLISHED}), Agency("bank:ICBC", {v1::ESTABLISHED})});
  EXPECT_TRUE(router.IsKnownAgency("tax"));
  EXPECT_TRUE(router.IsKnownAgency("bank:ICBC"));
  EXPECT_FALSE(router.IsKnownAgency("bank:ABC"));
  EXPECT_FALSE(router.IsKnownAgency("bank:*"));
}

TEST(ExplicitBankRouting, ExplicitRuleTakesPrecedenceOverTemplate) {
  Router router({Agency("bank:*", {v1::ESTABLISHED, v1::CHANGED}, {"address"}),
                 Agency("bank:ICBC", {v1::ESTABLISHED})});
  EXPECT_EQ(RouteOk(router, Changed({"address"}, "ICBC")), Ids{});
  EXPECT_EQ(RouteOk(router, Changed({"address"}, "ABC")), Ids{"bank:ABC"});
  EXPECT_EQ(RouteOk(router, Event(v1::ESTABLISHED, "ICBC")), Ids{"bank:ICBC"});
}

TEST(CustomRouting, EmptyChangedFieldsMeansAnyChange) {
  Router router({Agency("stats", {v1::CHANGED}), Agency("tax", {v1::CHANGED}, {"name"})});
  EXPECT_EQ(RouteOk(router, Changed({"contact"})), Ids{"stats"});
  EXPECT_EQ(RouteOk(router, Changed({"name"})), (Ids{"stats", "tax"}));
}

TEST(CustomRouting, ResultIsSortedWhateverTheConfiguredOrder) {
  Router router({Agency("zeta", {v1::FILED}), Agency("alpha", {v1::FILED}), Agency("mid", {v1::FILED})});
  EXPECT_EQ(RouteOk(router, Event(v1::FILED)), (Ids{"alpha", "mid", "zeta"}));
}

// The bank template is remembered by the router; a copy must keep working
// once the router it was copied from is gone. A copy that still points into
// the original's agencies reads freed memory: the freed rules are usually
// overwritten (the bank is then missing), and under AddressSanitizer
// (YILIAN_SANITIZE) the read itself is reported.
TEST(CustomRouting, CopyOutlivesTheOriginal) {
  auto original = std::make_unique<Router>(config::DefaultConfig().agencies);
  Router copy = *original;
  original.reset();
  std::vector<std::string> filler(64, std::string(40, 'x'));  // reuse the freed memory
  EXPECT_TRUE(copy.IsKnownAgency("bank:ICBC"));
  EXPECT_EQ(RouteOk(copy, Event(v1::ESTABLISHED, "ICBC")),
            (Ids{"bank:ICBC", "housing_fund", "social_insurance", "tax"}));
  EXPECT_EQ(filler.size(), 64u);
}

TEST(CustomRouting, RouterFromParsedConfig) {
  auto c = config::ParseConfig(
      "agencies:\n"
      "  - id: customs\n"
      "    events: [FILED]\n"
      "  - id: bank:ICBC\n"
      "    events: [ESTABLISHED]\n");
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  Router router(c->agencies);
  EXPECT_EQ(RouteOk(router, Event(v1::FILED)), Ids{"customs"});
  EXPECT_EQ(RouteOk(router, Event(v1::ESTABLISHED, "ICBC")), Ids{"bank:ICBC"});
  EXPECT_EQ(RouteOk(router, Event(v1::DEREGISTERED)), Ids{});
  EXPECT_FALSE(router.Route(Event(v1::ESTABLISHED, "CCB")).ok());
}

}  // namespace
}  // namespace yilian::routing
