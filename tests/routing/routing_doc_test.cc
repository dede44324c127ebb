// docs/configuration.md section 4.2 tells client authors which default
// agencies each event reaches, per event type and changed item, with a bank
// named by the event's reservation and with a bank holding the enterprise's
// account. These tests read that table and hold the router, built from the
// default configuration, to it; the rules of section 4.1 that do not depend
// on the defaults are checked on small configurations of their own.
#include <gtest/gtest.h>

#include <algorithm>
#include <set>
#include <string>
#include <vector>

#include "config/config.h"
#include "routing/routing.h"
#include "testing/doc_tables.h"

namespace yilian::routing {
namespace {

namespace doc = yilian::testing;
using Ids = std::vector<std::string>;

struct Row {
  v1::EventType type = v1::EVENT_TYPE_UNSPECIFIED;
  std::string item;  // "" when the row is not about a change
  Ids agencies;      // sorted
  std::string reserved_bank;
  std::string holding_bank;
};

std::vector<Row> ReadTable(std::string* problem) {
  const std::string text = doc::ReadTextFile(YILIAN_SOURCE_DIR "/docs/configuration.md");
  for (const doc::Table& t : doc::Tables(doc::Section(text, "4.2 "))) {
    const int event = t.Column("Event"), item = t.Column("Changed item"), agencies = t.Column("Agencies"),
              reserved = t.Column("Reserved bank"), holding = t.Column("Bank holding the account");
    if (event < 0 || item < 0 || agencies < 0 || reserved < 0 || holding < 0) continue;
    std::vector<Row> rows;
    for (const auto& cells : t.rows) {
      Row row;
      std::vector<std::string> type = doc::CodeSpans(cells[event]);
      if (type.size() != 1 || !v1::EventType_Parse(type[0], &row.type)) *problem = "bad event type " + cells[event];
      std::vector<std::string> changed = doc::CodeSpans(cells[item]);
      row.item = changed.empty() ? "" : changed[0];
      row.agencies = doc::CodeSpans(cells[agencies]);  // "none": no spans
      std::sort(row.agencies.begin(), row.agencies.end());
      row.reserved_bank = cells[reserved];
      row.holding_bank = cells[holding];
      rows.push_back(row);
    }
    return rows;
  }
  *problem = "no routing table in docs/configuration.md section 4.2";
  return {};
}

v1::EnterpriseEvent Event(v1::EventType type, const std::vector<std::string>& items, const std::string& bank = "") {
  v1::EnterpriseEvent e;
  e.set_event_id("doc-1");
  e.set_type(type);
  e.set_uscc("91350100M000100Y43");
  e.set_revision(2);
  for (const auto& item : items) {
    v1::FieldChange* c = e.add_changes();
    c->set_field(item);
    c->set_old_value("旧");
    c->set_new_value("新");
  }
  if (!bank.empty()) e.mutable_bank_reservation()->set_bank_code(bank);
  return e;
}

Ids RouteOk(const Router& router, const v1::EnterpriseEvent& e) {
  auto r = router.Route(e);
  EXPECT_TRUE(r.ok()) << r.status().ToString();
  return r.ok() ? r.value() : Ids{"<error>"};
}

Ids With(Ids ids, const std::string& id) {
  ids.push_back(id);
  std::sort(ids.begin(), ids.end());
  return ids;
}

config::AgencyConfig Agency(std::string id, std::vector<v1::EventType> events) {
  config::AgencyConfig a;
  a.id = std::move(id);
  a.events = std::move(events);
  return a;
}

class RoutingDocTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string problem;
    rows_ = ReadTable(&problem);
    ASSERT_EQ(problem, "");
    ASSERT_FALSE(rows_.empty());
  }
  std::vector<Row> rows_;
  Router router_{config::DefaultConfig().agencies};
};

TEST_F(RoutingDocTest, EachRowIsWhatTheDefaultAgenciesGive) {
  for (const Row& row : rows_) {
    SCOPED_TRACE(v1::EventType_Name(row.type) + " " + row.item);
    const std::vector<std::string> items = row.item.empty() ? Ids{} : Ids{row.item};
    const v1::EnterpriseEvent plain = Event(row.type, items);
    EXPECT_EQ(RouteOk(router_, plain), row.agencies);

    ASSERT_TRUE(row.reserved_bank == "yes" || row.reserved_bank == "no") << row.reserved_bank;
    for (const char* code : {"ICBC", "CCB", "B2"}) {
      const std::string bank = std::string("bank:") + code;
      EXPECT_EQ(RouteOk(router_, Event(row.type, items, code)),
                row.reserved_bank == "yes" ? With(row.agencies, bank) : row.agencies);
    }

    // A bank that holds the account is added when its rule acts on the event
    // (the broker looks it up for CHANGED and DEREGISTERED events only).
    if (row.holding_bank == "—") {
      EXPECT_TRUE(row.type == v1::ESTABLISHED || row.type == v1::FILED) << "the account is looked up for this type";
    } else {
      ASSERT_TRUE(row.holding_bank == "yes" || row.holding_bank == "no") << row.holding_bank;
      EXPECT_TRUE(row.type == v1::CHANGED || row.type == v1::DEREGISTERED);
      EXPECT_EQ(router_.RuleActs("bank:ABC", plain), row.holding_bank == "yes");
    }
  }
}

TEST_F(RoutingDocTest, TableCoversEveryTypeAndEveryRegisteredItemOnce) {
  const std::string validation = doc::ReadTextFile(YILIAN_SOURCE_DIR "/docs/validation.md");
  std::set<std::string> items;
  for (const doc::Table& t : doc::Tables(doc::Section(validation, "5. Registered items"))) {
    if (t.Column("Item") < 0) continue;
    for (const auto& row : t.rows) items.insert(doc::CodeSpans(row[t.Column("Item")]).at(0));
  }
  ASSERT_EQ(items.size(), 12u);

  std::set<std::string> changed;
  std::set<int> other_types;
  for (const Row& row : rows_) {
    if (row.type == v1::CHANGED) {
      EXPECT_TRUE(changed.insert(row.item).second) << row.item << " twice";
    } else {
      EXPECT_EQ(row.item, "") << v1::EventType_Name(row.type);
      EXPECT_TRUE(other_types.insert(row.type).second) << v1::EventType_Name(row.type) << " twice";
    }
  }
  EXPECT_EQ(changed, items);
  EXPECT_EQ(other_types, (std::set<int>{v1::ESTABLISHED, v1::FILED, v1::DEREGISTERED}));
}

TEST_F(RoutingDocTest, SeveralChangesReachTheUnionOfTheirRows) {
  for (const Row& a : rows_) {
    for (const Row& b : rows_) {
      if (a.type != v1::CHANGED || b.type != v1::CHANGED || a.item >= b.item) continue;
      SCOPED_TRACE(a.item + " + " + b.item);
      std::set<std::string> expected(a.agencies.begin(), a.agencies.end());
      expected.insert(b.agencies.begin(), b.agencies.end());
      if (a.reserved_bank == "yes" || b.reserved_bank == "yes") expected.insert("bank:ICBC");
      EXPECT_EQ(RouteOk(router_, Event(v1::CHANGED, {a.item, b.item}, "ICBC")), Ids(expected.begin(), expected.end()));
    }
  }
}

// Section 4.1, step 2: a reservation names a bank in any event type; without
// an entry for it or `bank:*` the publish is refused, even when no bank rule
// would act on the event.
TEST(RoutingRulesDoc, ReservedBankWithoutEntryIsUnroutableWhateverTheType) {
  Router router({Agency("tax", {v1::ESTABLISHED, v1::CHANGED})});
  for (v1::EventType type : {v1::ESTABLISHED, v1::CHANGED, v1::FILED, v1::DEREGISTERED}) {
    auto r = router.Route(Event(type, type == v1::CHANGED ? Ids{"business_scope"} : Ids{}, "ICBC"));
    EXPECT_FALSE(r.ok()) << v1::EventType_Name(type);
  }
}

// Section 3.1 and 4.1: a bank entry is reached only through the event (a
// reservation) or the account, never by its rule alone; its own entry takes
// precedence over `bank:*`.
TEST(RoutingRulesDoc, BankEntriesActOnlyForTheBankTheEventConcerns) {
  Router router({Agency("bank:ICBC", {v1::ESTABLISHED}), Agency("bank:*", {v1::DEREGISTERED})});
  EXPECT_EQ(RouteOk(router, Event(v1::ESTABLISHED, {})), Ids{});
  EXPECT_EQ(RouteOk(router, Event(v1::ESTABLISHED, {}, "ICBC")), Ids{"bank:ICBC"});
  EXPECT_EQ(RouteOk(router, Event(v1::DEREGISTERED, {}, "ICBC")), Ids{});
  EXPECT_EQ(RouteOk(router, Event(v1::DEREGISTERED, {}, "CCB")), Ids{"bank:CCB"});
  // Step 3: a bank holding the account is judged by the same rule; one with
  // no entry left (here, no template) is left out.
  Router without_template({Agency("tax", {v1::DEREGISTERED})});
  EXPECT_FALSE(without_template.RuleActs("bank:CCB", Event(v1::DEREGISTERED, {})));
  EXPECT_TRUE(router.RuleActs("bank:CCB", Event(v1::DEREGISTERED, {})));
  EXPECT_FALSE(router.RuleActs("bank:ICBC", Event(v1::DEREGISTERED, {})));
}

}  // namespace
}  // namespace yilian::routing
