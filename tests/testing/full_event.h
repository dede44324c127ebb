// Fully populated events for tests of what each agency may see: every
// field of the event set, each to a value found nowhere else in the event
// (so a test can look for a value in what an agency received or a plugin
// wrote), and a CHANGED event that changes every changeable item, the
// changes of a person carrying an ID and a phone number in their free text.
// Header-only; pure functions.
#pragma once

#include <string>
#include <vector>

#include "yilian/v1/event.pb.h"

namespace yilian::testing {

// The changeable items of a CHANGED event (FieldChange.field in event.proto).
inline const std::vector<std::string> kChangeable = {
    "name",         "entity_type", "legal_representative", "registered_capital", "address", "business_scope",
    "shareholders", "region_code", "accounting_method",    "employee_count",     "contact", "industry_code"};

// An enterprise with every field set, each to a value found nowhere else.
inline v1::Enterprise FullEnterprise() {
  v1::Enterprise e;
  e.set_name("厦门全量字段测试科技有限公司");
  e.set_entity_type("有限责任公司（自然人投资或控股）");
  v1::Person* lr = e.mutable_legal_representative();
  lr->set_name("陈伟");
  lr->set_id_type(v1::RESIDENT_ID);
  lr->set_id_number("11010519491231002X");
  lr->set_phone("13812345678");
  e.mutable_registered_capital()->set_amount("1000000.00");
  e.mutable_registered_capital()->set_currency("CNY");
  e.set_address("福建省厦门市湖里区观日路12号3层");
  e.set_business_scope("软件开发；信息系统集成服务");
  e.set_established_on("2019-03-15");
  e.set_region_code("350206");
  e.set_accounting_method("INDEPENDENT");
  e.set_employee_count(25);
  v1::Person* contact = e.mutable_contact();
  contact->set_name("欧阳娜");
  contact->set_id_type(v1::RESIDENT_ID);
  contact->set_id_number("440524188001010014");
  contact->set_phone("13999990000");
  e.set_industry_code("I6513");
  return e;
}

// ESTABLISHED, CHANGED (every item), FILED and DEREGISTERED of one
// enterprise, each with every field its type allows set.
inline std::vector<v1::EnterpriseEvent> FullEvents(const std::string& prefix) {
  std::string uscc = "91350100M000100Y43";
  std::vector<v1::EnterpriseEvent> out;
  for (v1::EventType type : {v1::ESTABLISHED, v1::CHANGED, v1::FILED, v1::DEREGISTERED}) {
    v1::EnterpriseEvent e;
    e.set_event_id(prefix + "-" + v1::EventType_Name(type));
    e.set_type(type);
    e.set_uscc(uscc);
    e.set_revision(out.size() + 1);
    e.mutable_occurred_at()->set_seconds(1795744800 + 3600 * static_cast<std::int64_t>(out.size()));
    e.set_authority("厦门市市场监督管理局");
    *e.mutable_enterprise() = FullEnterprise();
    e.mutable_bank_reservation()->set_bank_code("ICBC");
    if (type == v1::ESTABLISHED) e.mutable_bank_reservation()->set_branch_code("ICBC-XM-1");
    if (type == v1::CHANGED) {
      for (const std::string& field : kChangeable) {
        v1::FieldChange* c = e.add_changes();
        c->set_field(field);
        // A person's change carries an ID and a phone in its free text.
        bool person = field == "legal_representative" || field == "contact";
        c->set_old_value(person ? "旧" + field + " 360426199101010071 13500001111" : "old-" + field);
        c->set_new_value(person ? "新" + field + " 44011320141005001X 13600002222" : "new-" + field);
      }
    }
    if (type == v1::DEREGISTERED) {
      e.mutable_deregistration()->set_mode(v1::NORMAL);
      e.mutable_deregistration()->set_reason("决议解散");
    }
    out.push_back(std::move(e));
  }
  return out;
}

}  // namespace yilian::testing
