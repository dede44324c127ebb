// Validate(): every rule with a passing and a failing case. Each failing case
// starts from a valid event and breaks one thing, and expects exactly one
// error, so a rule that fires too often is caught as well as one that never
// fires.
#include <algorithm>
#include <cctype>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "validation/validation.h"

namespace yilian::validation {
namespace {

namespace v1 = yilian::v1;

void FillPerson(v1::Person* p, const std::string& name, const std::string& id, const std::string& phone) {
  p->set_name(name);
  p->set_id_type(v1::RESIDENT_ID);
  p->set_id_number(id);
  p->set_phone(phone);
}

v1::EnterpriseEvent Established() {
  v1::EnterpriseEvent e;
  e.set_event_id("xm-2024-000101");
  e.set_type(v1::ESTABLISHED);
  e.set_uscc("91350100M000100Y43");
  e.set_revision(1);
  e.mutable_occurred_at()->set_seconds(1709256600);  // 2024-03-01T09:30:00+08:00
  e.set_authority("厦门市市场监督管理局");
  v1::Enterprise* ent = e.mutable_enterprise();
  ent->set_name("厦门鹭岛软件科技有限公司");
  ent->set_entity_type("有限责任公司");
  FillPerson(ent->mutable_legal_representative(), "张三", "11010519491231002X", "13812345678");
  ent->mutable_registered_capital()->set_amount("1000000.00");
  ent->mutable_registered_capital()->set_currency("CNY");
  ent->set_address("福建省厦门市思明区软件园二期观日路24号");
  ent->set_business_scope("软件开发；信息技术咨询服务。");
  ent->set_established_on("2024-03-01");
  ent->set_region_code("350203");
  ent->set_accounting_method("INDEPENDENT");
  ent->set_employee_count(12);
  ent->mutable_contact()->set_name("李四");
  ent->mutable_contact()->set_phone("+8613912345678");
  ent->set_industry_code("I6510");
  e.mutable_bank_reservation()->set_bank_code("ICBC");
  e.mutable_bank_reservation()->set_branch_code("102393000123");
  return e;
}

v1::EnterpriseEvent Changed() {
  v1::EnterpriseEvent e;
  e.set_event_id("sh-2024-000103");
  e.set_type(v1::CHANGED);
  e.set_uscc("91310115MA1K3BTP2B");
  e.set_revision(4);
  e.mutable_occurred_at()->set_seconds(1709619600);
  e.set_authority("上海市浦东新区市场监督管理局");
  v1::Enterprise* ent = e.mutable_enterprise();
  ent->set_name("上海浦江数据服务有限公司");
  ent->set_entity_type("有限责任公司");
  ent->set_address("上海市浦东新区张江路88号3幢");
  v1::FieldChange* c = e.add_changes();
  c->set_field("name");
  c->set_old_value("上海浦江信息技术有限公司");
  c->set_new_value("上海浦江数据服务有限公司");
  return e;
}

v1::EnterpriseEvent Filed() {
  v1::EnterpriseEvent e = Changed();
  e.set_event_id("bj-2024-000104");
  e.set_type(v1::FILED);
  e.clear_changes();
  return e;
}

v1::EnterpriseEvent Deregistered() {
  v1::EnterpriseEvent e = Changed();
  e.set_event_id("sz-2024-000105");
  e.set_type(v1::DEREGISTERED);
  e.clear_changes();
  e.mutable_deregistration()->set_mode(v1::SIMPLIFIED);
  e.mutable_deregistration()->set_reason("经二十日公告期无异议");
  return e;
}

std::string Describe(const std::vector<FieldError>& errors) {
  std::string out;
  for (const FieldError& e : errors) out += "\n  " + e.path + " " + e.code + ": " + e.message;
  return errors.empty() ? "no errors" : out;
}

// Exactly one error, at `path` with `code`.
void ExpectOnly(const v1::EnterpriseEvent& event, const std::string& path, const std::string& code,
                const Options& options = {}) {
  std::vector<FieldError> errors = Validate(event, options);
  ASSERT_EQ(errors.size(), 1u) << Describe(errors);
  EXPECT_EQ(errors[0].path, path) << Describe(errors);
  EXPECT_EQ(errors[0].code, code) << Describe(errors);
  EXPECT_FALSE(errors[0].message.empty());
}

void ExpectValid(const v1::EnterpriseEvent& event, const Options& options = {}) {
  std::vector<FieldError> errors = Validate(event, options);
  EXPECT_TRUE(errors.empty()) << Describe(errors);
}

TEST(Validate, SampleEventsOfEveryTypeAreValid) {
  ExpectValid(Established());
  ExpectValid(Changed());
  ExpectValid(Filed());
  ExpectValid(Deregistered());
}

TEST(Validate, EventId) {
  v1::EnterpriseEvent e = Established();
  e.set_event_id("evt:2024.03_01-A");
  ExpectValid(e);
  e.set_event_id(std::string(128, 'a'));
  ExpectValid(e);
  e.set_event_id(std::string(129, 'a'));
  ExpectOnly(e, "event_id", "TOO_LONG");
  e.set_event_id(std::string(600, 'a'));  // over the generic string limit too: one error
  ExpectOnly(e, "event_id", "TOO_LONG");
  e.set_event_id("a b");
  ExpectOnly(e, "event_id", "INVALID_FORMAT");
  e.set_event_id("事件1");
  ExpectOnly(e, "event_id", "INVALID_FORMAT");
  e.set_event_id("");
  ExpectOnly(e, "event_id", "REQUIRED");
}

TEST(Validate, Type) {
  v1::EnterpriseEvent e = Filed();
  e.set_type(v1::EVENT_TYPE_UNSPECIFIED);
  ExpectOnly(e, "type", "REQUIRED");
  // Binary input keeps enum numbers proto3 does not know.
  e.set_type(static_cast<v1::EventType>(99));
  ExpectOnly(e, "type", "UNKNOWN_ENUM");
}

TEST(Validate, UsccFormat) {
  v1::EnterpriseEvent e = Established();
  e.set_uscc("");
  ExpectOnly(e, "uscc", "REQUIRED");
  e.set_uscc("91350100M000100Y4");
  ExpectOnly(e, "uscc", "INVALID_FORMAT");
  e.set_uscc("91350100M000100Y433");
  ExpectOnly(e, "uscc", "INVALID_FORMAT");
  e.set_uscc("91350100m000100Y43");
  ExpectOnly(e, "uscc", "INVALID_FORMAT");
  e.set_uscc("91350100I000100Y43");
  ExpectOnly(e, "uscc", "INVALID_FORMAT");
  for (const char* ok : {"91110000600037341L", "9144030071526726XG", "121200004013590816", "92340602MA2PBMEM24"}) {
    e.set_uscc(ok);
    ExpectValid(e);
  }
}

TEST(Validate, UsccCheckCharacterStrictByDefault) {
  v1::EnterpriseEvent e = Established();
  e.set_uscc("91350100M000100Y44");
  ExpectOnly(e, "uscc", "CHECK_DIGIT");
  std::vector<FieldError> errors = Validate(e);
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_NE(errors[0].message.find("'3'"), std::string::npos) << errors[0].message;
  // The brief's invalid vector: 'Z' can never be a check character.
  e.set_uscc("91350100M000100Y4Z");
  ExpectOnly(e, "uscc", "CHECK_DIGIT");
}

TEST(Validate, UsccLenientAcceptsWrongCheckCharacterOnly) {
  Options lenient;
  lenient.strict_uscc_checksum = false;
  v1::EnterpriseEvent e = Established();
  e.set_uscc("91350100M000100Y44");
  ExpectValid(e, lenient);
  e.set_uscc("91350100M000100Y4Z");  // outside the set: still a format error
  ExpectOnly(e, "uscc", "INVALID_FORMAT", lenient);
  e.set_uscc("91350100M000100Y4");
  ExpectOnly(e, "uscc", "INVALID_FORMAT", lenient);
  e.set_uscc("91350100O000100Y43");
  ExpectOnly(e, "uscc", "INVALID_FORMAT", lenient);
}

TEST(Validate, Revision) {
  v1::EnterpriseEvent e = Changed();
  e.set_revision(0);
  ExpectOnly(e, "revision", "REQUIRED");
  e.set_revision(1);
  ExpectValid(e);
}

TEST(Validate, OccurredAt) {
  v1::EnterpriseEvent e = Changed();
  e.clear_occurred_at();
  ExpectOnly(e, "occurred_at", "REQUIRED");
  e.mutable_occurred_at()->set_seconds(253402300800LL);  // year 10000
  ExpectOnly(e, "occurred_at", "INVALID_VALUE");
  e.mutable_occurred_at()->set_seconds(1709619600);
  e.mutable_occurred_at()->set_nanos(-1);
  ExpectOnly(e, "occurred_at", "INVALID_VALUE");
  e.mutable_occurred_at()->set_nanos(999999999);
  ExpectValid(e);
}

TEST(Validate, Authority) {
  v1::EnterpriseEvent e = Changed();
  e.set_authority("");
  ExpectOnly(e, "authority", "REQUIRED");
}

TEST(Validate, EnterpriseRequiredFields) {
  v1::EnterpriseEvent e = Changed();
  e.clear_enterprise();
  ExpectOnly(e, "enterprise", "REQUIRED");
  e = Changed();
  e.mutable_enterprise()->clear_name();
  ExpectOnly(e, "enterprise.name", "REQUIRED");
  e = Changed();
  e.mutable_enterprise()->clear_entity_type();
  ExpectOnly(e, "enterprise.entity_type", "REQUIRED");
  e = Changed();
  e.mutable_enterprise()->clear_address();
  ExpectOnly(e, "enterprise.address", "REQUIRED");
}

TEST(Validate, LegalRepresentativeRequiredForEstablished) {
  v1::EnterpriseEvent e = Established();
  e.mutable_enterprise()->clear_legal_representative();
  ExpectOnly(e, "enterprise.legal_representative", "REQUIRED");
  // Other types may leave it out.
  ExpectValid(Changed());

  e = Established();
  e.mutable_enterprise()->mutable_legal_representative()->clear_name();
  ExpectOnly(e, "enterprise.legal_representative.name", "REQUIRED");
  e = Established();
  e.mutable_enterprise()->mutable_legal_representative()->clear_id_type();
  ExpectOnly(e, "enterprise.legal_representative.id_type", "REQUIRED");
  e = Established();
  e.mutable_enterprise()->mutable_legal_representative()->clear_id_number();
  ExpectOnly(e, "enterprise.legal_representative.id_number", "REQUIRED");
}

TEST(Validate, LegalRepresentativeOnOtherTypesNeedsOnlyAName) {
  v1::EnterpriseEvent e = Changed();
  e.mutable_enterprise()->mutable_legal_representative()->set_name("赵六");
  ExpectValid(e);
  e.mutable_enterprise()->mutable_legal_representative()->clear_name();
  ExpectOnly(e, "enterprise.legal_representative.name", "REQUIRED");
}

TEST(Validate, ResidentIdNumber) {
  const std::string path = "enterprise.legal_representative.id_number";
  v1::EnterpriseEvent e = Established();
  v1::Person* p = e.mutable_enterprise()->mutable_legal_representative();
  for (const char* ok : {"440524188001010014", "360426199101010071", "44011320141005001X"}) {
    p->set_id_number(ok);
    ExpectValid(e);
  }
  p->set_id_number("110105194912310021");
  ExpectOnly(e, path, "CHECK_DIGIT");
  p->set_id_number("11010519491231002");
  ExpectOnly(e, path, "INVALID_FORMAT");
  p->set_id_number("1101051949123100AX");
  ExpectOnly(e, path, "INVALID_FORMAT");
  p->set_id_number("11010519491231002x");
  ExpectOnly(e, path, "INVALID_FORMAT");
  // Correct check character, impossible birth date (1949-13-31): 110105194913310020
  // would need its own check character, so build one.
  std::string first17 = "11010519491331002";
  p->set_id_number(first17 + ResidentIdCheckCharacter(first17));
  ExpectOnly(e, path, "INVALID_VALUE");
  first17 = "11010529990101002";  // born in 2999
  p->set_id_number(first17 + ResidentIdCheckCharacter(first17));
  ExpectOnly(e, path, "INVALID_VALUE");
}

TEST(Validate, OtherDocumentTypesHaveNoCheckDigit) {
  v1::EnterpriseEvent e = Established();
  v1::Person* p = e.mutable_enterprise()->mutable_legal_representative();
  p->set_id_type(v1::PASSPORT);
  p->set_id_number("E12345678");
  ExpectValid(e);
  p->set_id_type(v1::HK_MACAO_PERMIT);
  p->set_id_number("H12345678");
  ExpectValid(e);
}

TEST(Validate, IdTypeMustBeKnown) {
  v1::EnterpriseEvent e = Established();
  e.mutable_enterprise()->mutable_legal_representative()->set_id_type(static_cast<v1::IdType>(9));
  ExpectOnly(e, "enterprise.legal_representative.id_type", "UNKNOWN_ENUM");
  e = Changed();
  e.mutable_enterprise()->mutable_contact()->set_name("李四");
  e.mutable_enterprise()->mutable_contact()->set_id_type(static_cast<v1::IdType>(9));
  e.mutable_enterprise()->mutable_contact()->set_id_number("X1234567");
  ExpectOnly(e, "enterprise.contact.id_type", "UNKNOWN_ENUM");
}

TEST(Validate, DocumentNumberAndTypeGoTogether) {
  v1::EnterpriseEvent e = Changed();
  v1::Person* contact = e.mutable_enterprise()->mutable_contact();
  contact->set_name("李四");
  ExpectValid(e);
  contact->set_id_number("360426199101010071");
  ExpectOnly(e, "enterprise.contact.id_type", "REQUIRED");
  contact->set_id_type(v1::RESIDENT_ID);
  ExpectValid(e);
  contact->clear_id_number();
  ExpectOnly(e, "enterprise.contact.id_number", "REQUIRED");
}

TEST(Validate, Phone) {
  const std::string path = "enterprise.legal_representative.phone";
  v1::EnterpriseEvent e = Established();
  v1::Person* p = e.mutable_enterprise()->mutable_legal_representative();
  for (const char* ok : {"13812345678", "+8613812345678", "12345", "01088886666", "12345678901234567890"}) {
    p->set_phone(ok);
    ExpectValid(e);
  }
  for (const char* bad : {"1234", "123456789012345678901", "138-1234-5678", "+", "++8613812345678",
                          "1381234567a", "138 1234 5678", "86+13812345678"}) {
    p->set_phone(bad);
    ExpectOnly(e, path, "INVALID_FORMAT");
  }
  p->clear_phone();  // optional
  ExpectValid(e);
}

TEST(Validate, ContactPhone) {
  v1::EnterpriseEvent e = Established();
  e.mutable_enterprise()->mutable_contact()->set_phone("phone");
  ExpectOnly(e, "enterprise.contact.phone", "INVALID_FORMAT");
  e.mutable_enterprise()->mutable_contact()->set_phone("13912345678");
  e.mutable_enterprise()->mutable_contact()->clear_name();
  ExpectOnly(e, "enterprise.contact.name", "REQUIRED");
}

TEST(Validate, RegisteredCapitalAmount) {
  const std::string path = "enterprise.registered_capital.amount";
  v1::EnterpriseEvent e = Established();
  v1::Money* m = e.mutable_enterprise()->mutable_registered_capital();
  for (const char* ok : {"1000000.00", "1000000", "0", "0.5", "12.34"}) {
    m->set_amount(ok);
    ExpectValid(e);
  }
  for (const char* bad : {"1e6", "1E6", "1.0e3", "1.234", "-5", "+5", "1.", ".5", "abc", "1,000", " 1", "一百万"}) {
    m->set_amount(bad);
    ExpectOnly(e, path, "INVALID_FORMAT");
  }
  m->clear_amount();
  ExpectOnly(e, path, "REQUIRED");
  // Registered capital as a whole is optional.
  e.mutable_enterprise()->clear_registered_capital();
  ExpectValid(e);
}

TEST(Validate, RegisteredCapitalCurrency) {
  const std::string path = "enterprise.registered_capital.currency";
  v1::EnterpriseEvent e = Established();
  v1::Money* m = e.mutable_enterprise()->mutable_registered_capital();
  m->set_currency("USD");
  ExpectValid(e);
  for (const char* bad : {"cny", "CN", "CNYY", "C1Y", "人民币"}) {
    m->set_currency(bad);
    ExpectOnly(e, path, "INVALID_FORMAT");
  }
  m->clear_currency();
  ExpectOnly(e, path, "REQUIRED");
}

TEST(Validate, EstablishedOn) {
  const std::string path = "enterprise.established_on";
  v1::EnterpriseEvent e = Established();
  e.mutable_enterprise()->set_established_on("2024-02-29");
  ExpectValid(e);
  e.mutable_enterprise()->set_established_on("2023-02-29");
  ExpectOnly(e, path, "INVALID_VALUE");
  e.mutable_enterprise()->set_established_on("2024-13-01");
  ExpectOnly(e, path, "INVALID_VALUE");
  for (const char* bad : {"2024/03/01", "20240301", "2024-3-1", "24-03-01", "2024-03-01T00:00:00Z"}) {
    e.mutable_enterprise()->set_established_on(bad);
    ExpectOnly(e, path, "INVALID_FORMAT");
  }
  e.mutable_enterprise()->clear_established_on();
  ExpectValid(e);
}

TEST(Validate, RegionCode) {
  const std::string path = "enterprise.region_code";
  v1::EnterpriseEvent e = Established();
  e.mutable_enterprise()->set_region_code("110105");
  ExpectValid(e);
  for (const char* bad : {"35020", "3502030", "35020A", "厦门"}) {
    e.mutable_enterprise()->set_region_code(bad);
    ExpectOnly(e, path, "INVALID_FORMAT");
  }
  e.mutable_enterprise()->clear_region_code();
  ExpectValid(e);
}

TEST(Validate, ChangedNeedsChanges) {
  v1::EnterpriseEvent e = Changed();
  e.clear_changes();
  ExpectOnly(e, "changes", "REQUIRED");
}

TEST(Validate, EveryDocumentedFieldNameMayChange) {
  for (const char* field : {"name", "entity_type", "legal_representative", "registered_capital", "address",
                            "business_scope", "shareholders", "region_code", "accounting_method", "employee_count",
                            "contact", "industry_code"}) {
    v1::EnterpriseEvent e = Changed();
    e.mutable_changes(0)->set_field(field);
    ExpectValid(e);
  }
}

TEST(Validate, ChangeFieldName) {
  v1::EnterpriseEvent e = Changed();
  e.mutable_changes(0)->set_field("colour");
  ExpectOnly(e, "changes[0].field", "INVALID_VALUE");
  e.mutable_changes(0)->set_field("Name");
  ExpectOnly(e, "changes[0].field", "INVALID_VALUE");
  e.mutable_changes(0)->clear_field();
  ExpectOnly(e, "changes[0].field", "REQUIRED");
}

TEST(Validate, ChangeMustChangeSomething) {
  v1::EnterpriseEvent e = Changed();
  v1::FieldChange* c = e.add_changes();
  c->set_field("address");
  c->set_old_value("上海市浦东新区张江路88号");
  c->set_new_value("上海市浦东新区张江路88号");
  ExpectOnly(e, "changes[1].new_value", "INVALID_VALUE");
  // An item set for the first time has no old value.
  c->clear_old_value();
  ExpectValid(e);
}

TEST(Validate, SameItemTwiceInOneEvent) {
  v1::EnterpriseEvent e = Changed();
  *e.add_changes() = e.changes(0);
  ExpectOnly(e, "changes[1].field", "INVALID_VALUE");
}

TEST(Validate, TooManyChanges) {
  Options options;
  options.max_changes = 2;
  v1::EnterpriseEvent e = Changed();
  for (const char* field : {"address", "contact"}) {
    v1::FieldChange* c = e.add_changes();
    c->set_field(field);
    c->set_new_value("新值");
  }
  ExpectOnly(e, "changes", "TOO_MANY", options);
  e.mutable_changes()->RemoveLast();
  ExpectValid(e, options);
}

TEST(Validate, ChangesOnlyOnChangedEvents) {
  for (v1::EnterpriseEvent e : {Established(), Filed(), Deregistered()}) {
    *e.add_changes() = Changed().changes(0);
    ExpectOnly(e, "changes", "NOT_ALLOWED");
  }
}

TEST(Validate, Deregistration) {
  v1::EnterpriseEvent e = Deregistered();
  e.mutable_deregistration()->set_mode(v1::NORMAL);
  ExpectValid(e);
  e.mutable_deregistration()->set_mode(v1::DEREGISTRATION_MODE_UNSPECIFIED);
  ExpectOnly(e, "deregistration.mode", "REQUIRED");
  e.mutable_deregistration()->set_mode(static_cast<v1::DeregistrationMode>(5));
  ExpectOnly(e, "deregistration.mode", "UNKNOWN_ENUM");
  e.clear_deregistration();
  ExpectOnly(e, "deregistration", "REQUIRED");
}

TEST(Validate, DeregistrationOnlyOnDeregisteredEvents) {
  v1::EnterpriseEvent e = Changed();
  e.mutable_deregistration()->set_mode(v1::NORMAL);
  ExpectOnly(e, "deregistration", "NOT_ALLOWED");
}

TEST(Validate, BankReservation) {
  const std::string path = "bank_reservation.bank_code";
  v1::EnterpriseEvent e = Established();
  for (const char* ok : {"ICBC", "B1", "ABCDEFGH12345678", "102"}) {
    e.mutable_bank_reservation()->set_bank_code(ok);
    ExpectValid(e);
  }
  for (const char* bad : {"icbc", "B", "ABCDEFGH123456789", "IC-BC", "工行"}) {
    e.mutable_bank_reservation()->set_bank_code(bad);
    ExpectOnly(e, path, "INVALID_FORMAT");
  }
  e.mutable_bank_reservation()->clear_bank_code();
  ExpectOnly(e, path, "REQUIRED");
  // Reserving a bank account is the enterprise's choice, not a requirement.
  e.clear_bank_reservation();
  ExpectValid(e);
}

TEST(Validate, StringLengthLimitsCountBytes) {
  // The sample's longest other string is its 53-byte address.
  Options options;
  options.max_string_bytes = 63;
  std::string authority;
  for (int i = 0; i < 21; ++i) authority += "局";  // 21 characters, 63 bytes
  v1::EnterpriseEvent e = Established();
  e.mutable_enterprise()->set_name(std::string(63, 'a'));
  e.set_authority(authority);
  ExpectValid(e, options);
  e.mutable_enterprise()->set_name(std::string(64, 'a'));
  ExpectOnly(e, "enterprise.name", "TOO_LONG", options);
  e.mutable_enterprise()->set_name("name");
  e.set_authority(authority + "局");  // 22 characters, 66 bytes
  ExpectOnly(e, "authority", "TOO_LONG", options);
}

TEST(Validate, EveryStringFieldHasALimit) {
  Options options;
  options.max_string_bytes = 60;
  const std::string too_long(61, '1');
  v1::EnterpriseEvent e = Established();
  e.mutable_enterprise()->mutable_contact()->set_name(too_long);
  ExpectOnly(e, "enterprise.contact.name", "TOO_LONG", options);
  e = Established();
  e.mutable_enterprise()->set_accounting_method(too_long);
  ExpectOnly(e, "enterprise.accounting_method", "TOO_LONG", options);
  e = Established();
  e.mutable_bank_reservation()->set_branch_code(too_long);
  ExpectOnly(e, "bank_reservation.branch_code", "TOO_LONG", options);
  e = Deregistered();
  e.mutable_deregistration()->set_reason(too_long);
  ExpectOnly(e, "deregistration.reason", "TOO_LONG", options);
  e = Changed();
  e.mutable_changes(0)->set_old_value(too_long);
  ExpectOnly(e, "changes[0].old_value", "TOO_LONG", options);
  // A too long ID number is reported as too long, not also as malformed.
  e = Established();
  e.mutable_enterprise()->mutable_legal_representative()->set_id_number(too_long);
  ExpectOnly(e, "enterprise.legal_representative.id_number", "TOO_LONG", options);
}

TEST(Validate, BusinessScopeHasItsOwnLimit) {
  Options options;
  options.max_string_bytes = 100;
  options.max_scope_bytes = 300;
  v1::EnterpriseEvent e = Established();
  std::string scope;
  for (int i = 0; i < 100; ++i) scope += "营";  // 300 bytes
  e.mutable_enterprise()->set_business_scope(scope);
  ExpectValid(e, options);
  e.mutable_enterprise()->set_business_scope(scope + "a");
  ExpectOnly(e, "enterprise.business_scope", "TOO_LONG", options);

  // A change of the scope carries scopes in its values.
  e = Changed();
  e.mutable_changes(0)->set_field("business_scope");
  e.mutable_changes(0)->set_new_value(scope);
  e.mutable_changes(0)->set_old_value("");
  ExpectValid(e, options);
  e.mutable_changes(0)->set_field("address");
  ExpectOnly(e, "changes[0].new_value", "TOO_LONG", options);
}

TEST(Validate, EventSize) {
  v1::EnterpriseEvent e = Established();
  Options options;
  options.max_event_bytes = e.ByteSizeLong();
  ExpectValid(e, options);
  options.max_event_bytes = e.ByteSizeLong() - 1;
  ExpectOnly(e, "", "TOO_LARGE", options);
}

TEST(Validate, InvalidUtf8InAnyStringField) {
  const std::string bad = "\xE5\x8E\xA6\xFF";
  v1::EnterpriseEvent e = Established();
  e.mutable_enterprise()->set_name(bad);
  ExpectOnly(e, "enterprise.name", "INVALID_UTF8");
  e = Established();
  e.set_event_id("evt\xC0\xAF");
  ExpectOnly(e, "event_id", "INVALID_UTF8");
  e = Established();
  e.mutable_enterprise()->mutable_legal_representative()->set_id_number("11010519491231002\xFF");
  ExpectOnly(e, "enterprise.legal_representative.id_number", "INVALID_UTF8");
  e = Established();
  e.mutable_enterprise()->mutable_contact()->set_phone("\xED\xA0\x80");
  ExpectOnly(e, "enterprise.contact.phone", "INVALID_UTF8");
  e = Changed();
  e.mutable_changes(0)->set_new_value(bad);
  ExpectOnly(e, "changes[0].new_value", "INVALID_UTF8");
  e = Deregistered();
  e.mutable_deregistration()->set_reason(bad);
  ExpectOnly(e, "deregistration.reason", "INVALID_UTF8");
}

TEST(Validate, ErrorsComeInFieldOrder) {
  v1::EnterpriseEvent e = Changed();
  Options options;
  options.max_event_bytes = 10;
  e.set_event_id("");
  e.set_uscc("bad");
  e.mutable_enterprise()->set_name(std::string(600, 'n'));
  e.mutable_enterprise()->clear_address();
  e.mutable_changes(0)->set_field("colour");
  e.mutable_deregistration()->set_mode(v1::NORMAL);
  std::vector<std::string> paths;
  for (const FieldError& err : Validate(e, options)) paths.push_back(err.path);
  std::vector<std::string> expected = {"",        "event_id",           "uscc",           "enterprise.name",
                                       "enterprise.address", "changes[0].field", "deregistration"};
  EXPECT_EQ(paths, expected);
}

TEST(Validate, CodesAreUpperSnakeAndMessagesNonEmpty) {
  v1::EnterpriseEvent e;
  e.set_type(static_cast<v1::EventType>(42));
  e.mutable_enterprise()->mutable_legal_representative()->set_phone("x");
  std::vector<FieldError> errors = Validate(e);
  ASSERT_FALSE(errors.empty());
  for (const FieldError& err : errors) {
    EXPECT_FALSE(err.message.empty()) << err.path;
    EXPECT_FALSE(err.code.empty()) << err.path;
    EXPECT_TRUE(std::all_of(err.code.begin(), err.code.end(), [](char c) { return std::isupper(c) || c == '_'; }))
        << err.code;
  }
}

TEST(Validate, MessagesNeverQuotePersonalData) {
  const std::string id = "110105194912310021";  // wrong check character
  const std::string phone = "13812345678-9";     // malformed
  const std::string contact_phone = "+86139123456789012345";  // too long
  v1::EnterpriseEvent e = Established();
  e.mutable_enterprise()->mutable_legal_representative()->set_id_number(id);
  e.mutable_enterprise()->mutable_legal_representative()->set_phone(phone);
  e.mutable_enterprise()->mutable_contact()->set_phone(contact_phone);
  e.mutable_enterprise()->mutable_contact()->set_id_number("360426199101010071");  // id_type missing
  std::vector<FieldError> errors = Validate(e);
  ASSERT_EQ(errors.size(), 4u) << Describe(errors);
  for (const FieldError& err : errors) {
    for (const std::string& secret : {id, std::string("13812345678"), std::string("39123456789012345"),
                                      std::string("360426199101010071")}) {
      EXPECT_EQ(err.message.find(secret), std::string::npos) << err.path << ": " << err.message;
    }
  }
  EXPECT_NE(errors[0].message.find("1101**********0021"), std::string::npos) << errors[0].message;
}

TEST(Validate, MessagesStayValidUtf8WhenValuesAreNot) {
  // Masking keeps a number of bytes, which could split a Chinese character.
  v1::EnterpriseEvent e = Established();
  e.mutable_enterprise()->mutable_legal_representative()->set_phone("a电话1381234");
  e.mutable_enterprise()->mutable_legal_representative()->set_id_number("身份证号码110105");
  std::vector<FieldError> errors = Validate(e);
  ASSERT_EQ(errors.size(), 2u) << Describe(errors);
  for (const FieldError& err : errors) EXPECT_TRUE(IsValidUtf8(err.message)) << err.path;
}

}  // namespace
}  // namespace yilian::validation
