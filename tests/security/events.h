// Test events for the security module: every field of EnterpriseEvent set,
// with personal data in both persons and in changes.
#pragma once

#include <string>

#include "yilian/v1/event.pb.h"

namespace yilian::security::testing {

inline constexpr char kLegalRepId[] = "11010519491231002X";
inline constexpr char kLegalRepPhone[] = "13812345678";
inline constexpr char kContactId[] = "320502198503151232";
inline constexpr char kContactPhone[] = "+8613912345678";

inline void AddChange(v1::EnterpriseEvent* e, const std::string& field, const std::string& old_value,
                      const std::string& new_value) {
  v1::FieldChange* c = e->add_changes();
  c->set_field(field);
  c->set_old_value(old_value);
  c->set_new_value(new_value);
}

// An event of `type` with every field set, including ones an event of that
// type would not normally carry: the worst case for what may leak.
inline v1::EnterpriseEvent FullEvent(v1::EventType type) {
  v1::EnterpriseEvent e;
  e.set_event_id("xm-2024-" + std::to_string(static_cast<int>(type)));
  e.set_type(type);
  e.set_uscc("91350100M000100Y43");
  e.set_revision(3);
  e.mutable_occurred_at()->set_seconds(1709256600);
  e.mutable_occurred_at()->set_nanos(5);
  e.set_authority("厦门市市场监督管理局");
  v1::Enterprise* ent = e.mutable_enterprise();
  ent->set_name("厦门鹭岛软件科技有限公司");
  ent->set_entity_type("有限责任公司（自然人投资或控股）");
  v1::Person* lr = ent->mutable_legal_representative();
  lr->set_name("张三");
  lr->set_id_type(v1::RESIDENT_ID);
  lr->set_id_number(kLegalRepId);
  lr->set_phone(kLegalRepPhone);
  ent->mutable_registered_capital()->set_amount("1000000.00");
  ent->mutable_registered_capital()->set_currency("CNY");
  ent->set_address("福建省厦门市思明区软件园二期观日路24号");
  ent->set_business_scope("软件开发；信息技术咨询服务。");
  ent->set_established_on("2024-03-01");
  ent->set_region_code("350203");
  ent->set_accounting_method("INDEPENDENT");
  ent->set_employee_count(12);
  v1::Person* contact = ent->mutable_contact();
  contact->set_name("李四");
  contact->set_id_type(v1::RESIDENT_ID);
  contact->set_id_number(kContactId);
  contact->set_phone(kContactPhone);
  ent->set_industry_code("I6510");
  AddChange(&e, "name", "厦门鹭岛信息技术有限公司", "厦门鹭岛软件科技有限公司");
  AddChange(&e, "entity_type", "个人独资企业", "有限责任公司");
  AddChange(&e, "legal_representative", std::string("钱七 ") + kContactId, std::string("张三 ") + kLegalRepId);
  AddChange(&e, "registered_capital", "500000.00", "1000000.00");
  AddChange(&e, "address", "厦门市湖里区", "厦门市思明区");
  AddChange(&e, "business_scope", "软件开发。", "软件开发；信息技术咨询服务。");
  AddChange(&e, "shareholders", "王五 60%", "王五 40%; 赵六 60%");
  AddChange(&e, "region_code", "350206", "350203");
  AddChange(&e, "accounting_method", "NON_INDEPENDENT", "INDEPENDENT");
  AddChange(&e, "employee_count", "3", "12");
  AddChange(&e, "contact", std::string("孙八 ") + kLegalRepPhone, std::string("李四 ") + kContactPhone);
  AddChange(&e, "industry_code", "I6410", "I6510");
  e.mutable_bank_reservation()->set_bank_code("ICBC");
  e.mutable_bank_reservation()->set_branch_code("102393000123");
  e.mutable_deregistration()->set_mode(v1::SIMPLIFIED);
  e.mutable_deregistration()->set_reason("决议解散");
  return e;
}

}  // namespace yilian::security::testing
