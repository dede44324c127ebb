// Minimum-necessary filtering: for every default agency and every event
// type, nothing outside the agency's list survives (checked by walking all
// set fields by reflection), nothing inside it is lost, and changes are
// filtered by the field they name.
#include "security/field_filter.h"

#include <google/protobuf/descriptor.h>
#include <google/protobuf/io/coded_stream.h>
#include <google/protobuf/io/zero_copy_stream_impl_lite.h>
#include <google/protobuf/text_format.h>
#include <gtest/gtest.h>

#include <fstream>
#include <string>
#include <utility>
#include <vector>

#include "security/events.h"
#include "validation/json.h"

namespace yilian::security {
namespace {

namespace pb = google::protobuf;
using testing::FullEvent;

const std::vector<std::string> kAlwaysKept = {"event_id", "type", "uscc", "revision", "occurred_at"};
const std::vector<std::string> kAgencies = {"tax",       "social_insurance", "housing_fund",
                                            "bank:ICBC", "bank:*",           "customs"};
const std::vector<v1::EventType> kTypes = {v1::ESTABLISHED, v1::CHANGED, v1::FILED, v1::DEREGISTERED};

bool StartsWith(const std::string& s, const std::string& prefix) { return s.rfind(prefix, 0) == 0; }

// Paths of all set fields (indexes of repeated fields dropped), with whether
// the field is a message.
void CollectSetFields(const pb::Message& m, const std::string& prefix, std::vector<std::pair<std::string, bool>>* out) {
  std::vector<const pb::FieldDescriptor*> fields;
  m.GetReflection()->ListFields(m, &fields);
  for (const pb::FieldDescriptor* f : fields) {
    std::string path = prefix.empty() ? f->name() : prefix + "." + f->name();
    bool is_message = f->cpp_type() == pb::FieldDescriptor::CPPTYPE_MESSAGE;
    out->emplace_back(path, is_message);
    if (!is_message) continue;
    if (f->is_repeated()) {
      for (int i = 0; i < m.GetReflection()->FieldSize(m, f); ++i) {
        CollectSetFields(m.GetReflection()->GetRepeatedMessage(m, f, i), path, out);
      }
    } else {
      CollectSetFields(m.GetReflection()->GetMessage(m, f), path, out);
    }
  }
}

// A set field may be present if an allowed path covers it, or (a message)
// if it leads to an allowed path.
bool Permitted(const std::string& path, bool is_message, const FieldAllowList& list) {
  std::vector<std::string> all = list.paths;
  all.insert(all.end(), kAlwaysKept.begin(), kAlwaysKept.end());
  for (const std::string& a : all) {
    if (path == a || StartsWith(path, a + ".")) return true;
    if (is_message && StartsWith(a, path + ".")) return true;
  }
  return false;
}

bool Allows(const FieldAllowList& list, const std::string& path) {
  for (const std::string& a : list.paths) {
    if (path == a || StartsWith(path, a + ".")) return true;
  }
  return false;
}

// Text of the (non-repeated) field at `path`, or "<unset>".
std::string FieldText(const pb::Message& root, const std::string& path) {
  const pb::Message* m = &root;
  size_t start = 0;
  while (true) {
    size_t dot = path.find('.', start);
    std::string name = path.substr(start, dot == std::string::npos ? std::string::npos : dot - start);
    const pb::FieldDescriptor* f = m->GetDescriptor()->FindFieldByName(name);
    if (f == nullptr) return "<no such field>";
    if (f->is_repeated()) return "<repeated: not compared>";
    if (!m->GetReflection()->HasField(*m, f)) return "<unset>";
    if (dot == std::string::npos) {
      std::string text;
      pb::TextFormat::PrintFieldValueToString(*m, f, -1, &text);
      return text;
    }
    m = &m->GetReflection()->GetMessage(*m, f);
    start = dot + 1;
  }
}

std::vector<v1::EnterpriseEvent> SampleEvents() {
  std::vector<v1::EnterpriseEvent> events;
  for (v1::EventType t : kTypes) events.push_back(FullEvent(t));
  std::ifstream in(std::string(YILIAN_SOURCE_DIR) + "/tests/data/valid_events.jsonl");
  std::string line;
  while (std::getline(in, line)) {
    v1::EnterpriseEvent e;
    EXPECT_TRUE(json::Parse(line, &e).ok()) << line.substr(0, 40);
    events.push_back(e);
  }
  EXPECT_GE(events.size(), 10u);
  return events;
}

void ExpectOnlyPermitted(const v1::EnterpriseEvent& pruned, const FieldAllowList& list, const std::string& agency) {
  std::vector<std::pair<std::string, bool>> set;
  CollectSetFields(pruned, "", &set);
  for (const auto& [path, is_message] : set) {
    EXPECT_TRUE(Permitted(path, is_message, list)) << agency << " got " << path;
  }
  EXPECT_FALSE(pruned.enterprise().has_contact()) << agency;
}

TEST(DefaultAllowList, EveryListIsValid) {
  for (const std::string& agency : kAgencies) {
    EXPECT_TRUE(ValidateAllowList(DefaultAllowList(agency)).ok()) << agency;
  }
}

TEST(DefaultAllowList, UnknownAgencyGetsNothing) {
  EXPECT_TRUE(DefaultAllowList("customs").paths.empty());
  EXPECT_TRUE(DefaultAllowList("bank").paths.empty());
  EXPECT_TRUE(DefaultAllowList("").paths.empty());
}

TEST(DefaultAllowList, NobodyGetsTheContact) {
  for (const std::string& agency : kAgencies) {
    FieldAllowList list = DefaultAllowList(agency);
    EXPECT_FALSE(Allows(list, "enterprise.contact")) << agency;
    EXPECT_FALSE(Allows(list, "enterprise.contact.phone")) << agency;
  }
}

TEST(Prune, NoAgencyGetsAFieldOutsideItsList) {
  for (const v1::EnterpriseEvent& original : SampleEvents()) {
    for (const std::string& agency : kAgencies) {
      FieldAllowList list = DefaultAllowList(agency);
      v1::EnterpriseEvent pruned = original;
      Prune(list, &pruned);
      SCOPED_TRACE(agency + " / " + original.event_id());
      ExpectOnlyPermitted(pruned, list, agency);
      // The same through a compiled filter.
      auto filter = FieldFilter::Create(list);
      ASSERT_TRUE(filter.ok());
      v1::EnterpriseEvent again = original;
      filter->Prune(&again);
      EXPECT_EQ(again.SerializeAsString(), pruned.SerializeAsString());
    }
  }
}

TEST(Prune, KeepsEverythingTheListAllows) {
  for (const v1::EnterpriseEvent& original : SampleEvents()) {
    for (const std::string& agency : kAgencies) {
      FieldAllowList list = DefaultAllowList(agency);
      v1::EnterpriseEvent pruned = original;
      Prune(list, &pruned);
      SCOPED_TRACE(agency + " / " + original.event_id());
      std::vector<std::string> kept = list.paths;
      kept.insert(kept.end(), kAlwaysKept.begin(), kAlwaysKept.end());
      for (const std::string& path : kept) {
        if (path == "changes") continue;  // filtered by content, tested below
        EXPECT_EQ(FieldText(pruned, path), FieldText(original, path)) << path;
      }
    }
  }
}

TEST(Prune, PerAgencyExpectations) {
  const v1::EnterpriseEvent full = FullEvent(v1::ESTABLISHED);

  v1::EnterpriseEvent tax = full;
  Prune(DefaultAllowList("tax"), &tax);
  EXPECT_EQ(tax.enterprise().legal_representative().id_number(), testing::kLegalRepId);
  EXPECT_EQ(tax.enterprise().business_scope(), full.enterprise().business_scope());
  EXPECT_EQ(tax.enterprise().employee_count(), 12u);
  EXPECT_EQ(tax.authority(), full.authority());
  EXPECT_TRUE(tax.enterprise().industry_code().empty());
  EXPECT_FALSE(tax.has_bank_reservation());

  v1::EnterpriseEvent si = full;
  Prune(DefaultAllowList("social_insurance"), &si);
  EXPECT_EQ(si.enterprise().industry_code(), "I6510");
  EXPECT_TRUE(si.enterprise().business_scope().empty());
  EXPECT_FALSE(si.enterprise().has_registered_capital());
  EXPECT_TRUE(si.authority().empty());

  v1::EnterpriseEvent hf = full;
  Prune(DefaultAllowList("housing_fund"), &hf);
  EXPECT_EQ(hf.enterprise().name(), full.enterprise().name());
  EXPECT_EQ(hf.enterprise().legal_representative().id_number(), testing::kLegalRepId);
  EXPECT_TRUE(hf.enterprise().region_code().empty());
  EXPECT_TRUE(hf.has_deregistration());

  v1::EnterpriseEvent bank = full;
  Prune(DefaultAllowList("bank:ICBC"), &bank);
  EXPECT_EQ(bank.bank_reservation().branch_code(), "102393000123");
  EXPECT_TRUE(bank.enterprise().entity_type().empty());

  v1::EnterpriseEvent unknown = full;
  Prune(DefaultAllowList("customs"), &unknown);
  v1::EnterpriseEvent expected;
  expected.set_event_id(full.event_id());
  expected.set_type(full.type());
  expected.set_uscc(full.uscc());
  expected.set_revision(full.revision());
  *expected.mutable_occurred_at() = full.occurred_at();
  EXPECT_EQ(unknown.SerializeAsString(), expected.SerializeAsString());
}

std::vector<std::string> ChangeFields(const v1::EnterpriseEvent& e) {
  std::vector<std::string> out;
  for (const auto& c : e.changes()) out.push_back(c.field());
  return out;
}

TEST(Prune, ChangesOnlyOfFieldsTheAgencySees) {
  v1::EnterpriseEvent hf = FullEvent(v1::CHANGED);
  Prune(DefaultAllowList("housing_fund"), &hf);
  EXPECT_EQ(ChangeFields(hf), (std::vector<std::string>{"name", "legal_representative", "address"}));
  // Housing fund sees the legal representative without the phone, so the
  // change's values (free text that may hold it) are cleared.
  EXPECT_EQ(hf.changes(1).new_value(), "");
  EXPECT_EQ(hf.changes(1).old_value(), "");

  v1::EnterpriseEvent tax = FullEvent(v1::CHANGED);
  Prune(DefaultAllowList("tax"), &tax);
  // Tax sees the whole Person, so the change keeps its values.
  EXPECT_EQ(tax.changes(2).field(), "legal_representative");
  EXPECT_EQ(tax.changes(2).new_value(), std::string("张三 ") + testing::kLegalRepId);
  EXPECT_EQ(ChangeFields(tax),
            (std::vector<std::string>{"name", "entity_type", "legal_representative", "registered_capital", "address",
                                      "business_scope", "region_code", "accounting_method", "employee_count"}));

  v1::EnterpriseEvent si = FullEvent(v1::CHANGED);
  Prune(DefaultAllowList("social_insurance"), &si);
  EXPECT_EQ(ChangeFields(si), (std::vector<std::string>{"name", "entity_type", "legal_representative", "address",
                                                        "region_code", "industry_code"}));

  for (const std::string& agency : kAgencies) {
    v1::EnterpriseEvent e = FullEvent(v1::CHANGED);
    Prune(DefaultAllowList(agency), &e);
    for (const auto& c : e.changes()) {
      EXPECT_NE(c.field(), "contact") << agency;
      EXPECT_NE(c.field(), "shareholders") << agency;
    }
  }
}

TEST(Prune, ChangeOfPartlyAllowedPersonLosesItsValues) {
  FieldAllowList list{{"enterprise.legal_representative.name", "changes"}};
  v1::EnterpriseEvent e = FullEvent(v1::CHANGED);
  Prune(list, &e);
  ASSERT_EQ(ChangeFields(e), std::vector<std::string>{"legal_representative"});
  EXPECT_TRUE(e.changes(0).old_value().empty());
  EXPECT_TRUE(e.changes(0).new_value().empty());
  EXPECT_EQ(e.enterprise().legal_representative().name(), "张三");
  EXPECT_TRUE(e.enterprise().legal_representative().id_number().empty());
  EXPECT_EQ(e.enterprise().legal_representative().id_type(), v1::ID_TYPE_UNSPECIFIED);

  // Every sub-field listed one by one counts as the whole Person.
  FieldAllowList all{{"enterprise.legal_representative.name", "enterprise.legal_representative.id_type",
                      "enterprise.legal_representative.id_number", "enterprise.legal_representative.phone", "changes"}};
  v1::EnterpriseEvent f = FullEvent(v1::CHANGED);
  Prune(all, &f);
  ASSERT_EQ(ChangeFields(f), std::vector<std::string>{"legal_representative"});
  EXPECT_EQ(f.changes(0).new_value(), std::string("张三 ") + testing::kLegalRepId);

  // The same rule for any message field, e.g. capital without its currency.
  FieldAllowList capital{{"enterprise.registered_capital.amount", "changes"}};
  v1::EnterpriseEvent g = FullEvent(v1::CHANGED);
  Prune(capital, &g);
  ASSERT_EQ(ChangeFields(g), std::vector<std::string>{"registered_capital"});
  EXPECT_TRUE(g.changes(0).new_value().empty());
}

TEST(Prune, WholeEnterpriseKeepsEveryEnterpriseChange) {
  FieldAllowList list{{"enterprise", "changes"}};
  v1::EnterpriseEvent e = FullEvent(v1::CHANGED);
  const int before = e.changes_size();
  Prune(list, &e);
  // Only "shareholders" names no Enterprise field.
  EXPECT_EQ(e.changes_size(), before - 1);
  for (const auto& c : e.changes()) EXPECT_FALSE(c.new_value().empty()) << c.field();
  EXPECT_TRUE(e.enterprise().has_contact());
}

TEST(Prune, NoChangesWithoutChangesPath) {
  v1::EnterpriseEvent e = FullEvent(v1::CHANGED);
  Prune(FieldAllowList{{"enterprise"}}, &e);
  EXPECT_EQ(e.changes_size(), 0);
}

TEST(Prune, ChangesWithUnknownOrEmptyFieldAreDropped) {
  v1::EnterpriseEvent e = FullEvent(v1::CHANGED);
  e.clear_changes();
  testing::AddChange(&e, "", "a", "b");
  testing::AddChange(&e, "no_such_field", "a", "b");
  testing::AddChange(&e, "address", "a", "b");
  Prune(FieldAllowList{{"enterprise", "changes"}}, &e);
  EXPECT_EQ(ChangeFields(e), std::vector<std::string>{"address"});
}

TEST(Prune, PathIntoRepeatedFieldAppliesToEachElement) {
  v1::EnterpriseEvent e = FullEvent(v1::CHANGED);
  Prune(FieldAllowList{{"enterprise.name", "changes.field"}}, &e);
  ASSERT_EQ(ChangeFields(e), std::vector<std::string>{"name"});
  EXPECT_TRUE(e.changes(0).old_value().empty());
}

TEST(Prune, DropsUnknownFieldsEverywhere) {
  v1::EnterpriseEvent e = FullEvent(v1::ESTABLISHED);
  e.GetReflection()->MutableUnknownFields(&e)->AddVarint(99, 1);
  v1::Person* lr = e.mutable_enterprise()->mutable_legal_representative();
  lr->GetReflection()->MutableUnknownFields(lr)->AddLengthDelimited(42, "110105194912310021");
  Prune(DefaultAllowList("tax"), &e);
  EXPECT_TRUE(e.GetReflection()->GetUnknownFields(e).empty());
  EXPECT_TRUE(lr->GetReflection()->GetUnknownFields(*lr).empty());
}

TEST(Prune, InvalidPathsCoverNothing) {
  v1::EnterpriseEvent e = FullEvent(v1::ESTABLISHED);
  Prune(FieldAllowList{{"enterprise.nmae", "uscc.x", "", "enterprise."}}, &e);
  EXPECT_FALSE(e.has_enterprise());
  EXPECT_EQ(e.uscc(), "91350100M000100Y43");
}

TEST(ValidateAllowList, AcceptsRealPaths) {
  EXPECT_TRUE(ValidateAllowList({}).ok());
  EXPECT_TRUE(ValidateAllowList(FieldAllowList{{"enterprise", "enterprise.legal_representative.id_number",
                                                "changes.new_value", "occurred_at.seconds", "bank_reservation"}})
                  .ok());
}

TEST(ValidateAllowList, NamesTheBadPath) {
  struct Case {
    std::string path;
    std::string expect;
  };
  const std::vector<Case> cases = {
      {"enterprise.nmae", "'nmae' is not a field of yilian.v1.Enterprise"},
      {"enterprize", "'enterprize' is not a field of yilian.v1.EnterpriseEvent"},
      {"uscc.check", "not a message"},
      {"", "empty path"},
      {"enterprise..name", "empty component"},
      {"enterprise.", "empty component"},
      {"Enterprise.Name", "'Enterprise' is not a field"},
  };
  for (const Case& c : cases) {
    Status s = ValidateAllowList(FieldAllowList{{"enterprise.name", c.path}});
    ASSERT_FALSE(s.ok()) << c.path;
    EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
    EXPECT_NE(s.message().find("'" + c.path + "'"), std::string::npos) << s.message();
    EXPECT_NE(s.message().find(c.expect), std::string::npos) << s.message();
    auto filter = FieldFilter::Create(FieldAllowList{{c.path}});
    EXPECT_FALSE(filter.ok()) << c.path;
  }
}

// --- PruneEncoded: the same filter on the wire ---

std::string Deterministic(const v1::EnterpriseEvent& e) {
  std::string out;
  pb::io::StringOutputStream stream(&out);
  pb::io::CodedOutputStream coded(&stream);
  coded.SetSerializationDeterministic(true);
  e.SerializeToCodedStream(&coded);
  coded.Trim();
  return out;
}

std::vector<FieldAllowList> ListsToCompare() {
  std::vector<FieldAllowList> lists;
  for (const std::string& a : kAgencies) lists.push_back(DefaultAllowList(a));
  lists.push_back(FieldAllowList{});
  lists.push_back(FieldAllowList{{"enterprise"}});
  lists.push_back(FieldAllowList{{"enterprise", "changes"}});
  lists.push_back(FieldAllowList{{"enterprise.legal_representative.name", "changes"}});
  lists.push_back(FieldAllowList{{"enterprise.name", "changes.field"}});
  lists.push_back(FieldAllowList{{"changes.new_value", "enterprise.address"}});
  lists.push_back(FieldAllowList{{"occurred_at.seconds", "bank_reservation.bank_code", "deregistration.mode"}});
  return lists;
}

void ExpectSameAsPrune(const v1::EnterpriseEvent& event, const std::string& what) {
  const std::string encoded = Deterministic(event);
  for (const FieldAllowList& list : ListsToCompare()) {
    auto filter = FieldFilter::Create(list);
    ASSERT_TRUE(filter.ok()) << filter.status().message();
    v1::EnterpriseEvent pruned = event;
    filter.value().Prune(&pruned);
    auto wire = filter.value().PruneEncoded(encoded);
    ASSERT_TRUE(wire.ok()) << what << ": " << wire.status().message();
    std::string joined;
    for (const auto& p : list.paths) joined += p + " ";
    EXPECT_EQ(wire.value(), Deterministic(pruned)) << what << " with list [" << joined << "]";
  }
}

TEST(PruneEncoded, SameBytesAsPruneForEverySampleAndList) {
  int n = 0;
  for (const v1::EnterpriseEvent& e : SampleEvents()) ExpectSameAsPrune(e, "sample " + std::to_string(n++));
}

TEST(PruneEncoded, SameBytesAsPruneForEveryKindOfChange) {
  v1::EnterpriseEvent e = FullEvent(v1::CHANGED);
  e.clear_changes();
  for (const char* field :
       {"name", "entity_type", "legal_representative", "registered_capital", "address", "business_scope",
        "shareholders", "region_code", "accounting_method", "employee_count", "contact", "industry_code", ""}) {
    v1::FieldChange* c = e.add_changes();
    c->set_field(field);
    c->set_old_value(std::string("old ") + field);
    c->set_new_value(std::string("new ") + field);
  }
  e.add_changes()->set_new_value("a change naming no field");
  ExpectSameAsPrune(e, "every change");
}

TEST(PruneEncoded, DropsUnknownFieldsLikePrune) {
  v1::EnterpriseEvent e = FullEvent(v1::ESTABLISHED);
  e.GetReflection()->MutableUnknownFields(&e)->AddVarint(99, 1);
  e.GetReflection()->MutableUnknownFields(&e)->AddFixed32(98, 7);
  e.GetReflection()->MutableUnknownFields(&e)->AddGroup(97)->AddVarint(1, 2);
  v1::Person* lr = e.mutable_enterprise()->mutable_legal_representative();
  lr->GetReflection()->MutableUnknownFields(lr)->AddLengthDelimited(42, "110105194912310021");
  ExpectSameAsPrune(e, "unknown fields");
  auto wire = FieldFilter::Create(DefaultAllowList("tax")).value().PruneEncoded(Deterministic(e));
  ASSERT_TRUE(wire.ok());
  EXPECT_EQ(wire.value().find("110105194912310021"), std::string::npos);
}

TEST(PruneEncoded, FieldWithWrongWireTypeIsDroppedLikeAnUnknownField) {
  v1::EnterpriseEvent e = FullEvent(v1::ESTABLISHED);
  // uscc (field 3) sent as a varint: the parser keeps it as unknown.
  std::string encoded = Deterministic(e);
  encoded += std::string("\x18\x05", 2);
  v1::EnterpriseEvent parsed;
  ASSERT_TRUE(parsed.ParseFromString(encoded));
  auto filter = FieldFilter::Create(DefaultAllowList("housing_fund")).value();
  v1::EnterpriseEvent pruned = parsed;
  filter.Prune(&pruned);
  auto wire = filter.PruneEncoded(encoded);
  ASSERT_TRUE(wire.ok());
  EXPECT_EQ(wire.value(), Deterministic(pruned));
}

TEST(PruneEncoded, RefusesMalformedInputAtEveryTruncation) {
  const std::string encoded = Deterministic(FullEvent(v1::CHANGED));
  auto filter = FieldFilter::Create(DefaultAllowList("tax")).value();
  pb::LogSilencer quiet;  // the parser logs every invalid UTF-8 string it meets
  std::size_t refused = 0;
  for (std::size_t cut = 0; cut < encoded.size(); ++cut) {
    std::string prefix = encoded.substr(0, cut);
    v1::EnterpriseEvent parsed;
    bool parses = parsed.ParseFromString(prefix);
    auto wire = filter.PruneEncoded(prefix);
    // Whatever the parser refuses as malformed, the wire filter refuses too;
    // a prefix that ends between fields is a valid shorter event.
    if (!parses) {
      EXPECT_FALSE(wire.ok()) << "cut at " << cut;
      ++refused;
    } else if (wire.ok()) {
      v1::EnterpriseEvent pruned = parsed;
      filter.Prune(&pruned);
      EXPECT_EQ(wire.value(), Deterministic(pruned)) << "cut at " << cut;
    }
  }
  EXPECT_GT(refused, encoded.size() / 2);
  for (const std::string& bad : {std::string("\x00", 1), std::string("\x0f"), std::string("\x3a\xff\xff\xff\xff\x0f"),
                                 std::string("\x1b\x0c"), std::string("\x0c")}) {
    EXPECT_FALSE(filter.PruneEncoded(bad).ok()) << "bytes of length " << bad.size();
  }
}

}  // namespace
}  // namespace yilian::security
