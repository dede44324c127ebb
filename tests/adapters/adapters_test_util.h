// Shared helpers of the adapter tests: a realistic event in the plugins'
// view (yilian.agency.v1), sample events converted to it, and deliveries.
// Header-only; used from the test thread.
#pragma once

#include <string>
#include <vector>

#include "cli/sample.h"
#include "plugin_sdk/plugin.h"
#include "yilian/agency/v1/event.pb.h"

namespace yilian::agencies::test {

namespace av1 = ::yilian::agency::v1;

// The canonical event as the plugins decode it: same bytes, other package.
inline av1::EnterpriseEvent ToAgencyView(const v1::EnterpriseEvent& e) {
  av1::EnterpriseEvent out;
  out.ParseFromString(e.SerializeAsString());
  return out;
}

inline av1::EnterpriseEvent MakeEvent(av1::EventType type) {
  av1::EnterpriseEvent e;
  e.set_event_id("xm-2026-000101");
  e.set_type(type);
  e.set_uscc(sample::MakeUscc("350206", 7));
  e.set_revision(1);
  e.mutable_occurred_at()->set_seconds(1795744800);  // 2026-11-27T02:00:00Z
  e.set_authority("厦门市市场监督管理局");
  av1::Enterprise* ent = e.mutable_enterprise();
  ent->set_name("厦门鹭岛软件科技有限公司");
  ent->set_entity_type("有限责任公司（自然人投资或控股）");
  av1::Person* lr = ent->mutable_legal_representative();
  lr->set_name("陈伟");
  lr->set_id_type(av1::RESIDENT_ID);
  lr->set_id_number("11010519491231002X");
  lr->set_phone("13812345678");
  ent->mutable_registered_capital()->set_amount("1000000.00");
  ent->mutable_registered_capital()->set_currency("CNY");
  ent->set_address("福建省厦门市湖里区观日路12号3层");
  ent->set_business_scope("软件开发；信息系统集成服务。（依法须经批准的项目，经相关部门批准后方可开展经营活动）");
  ent->set_established_on("2026-11-27");
  ent->set_region_code("350206");
  ent->set_accounting_method("INDEPENDENT");
  ent->set_employee_count(25);
  av1::Person* contact = ent->mutable_contact();
  contact->set_name("欧阳娜");
  contact->set_id_type(av1::RESIDENT_ID);
  contact->set_id_number("440524188001010014");
  contact->set_phone("13999990000");
  ent->set_industry_code("I6513");
  e.mutable_bank_reservation()->set_bank_code("ICBC");
  if (type == av1::ESTABLISHED) e.mutable_bank_reservation()->set_branch_code("ICBC-XM-1");
  if (type == av1::DEREGISTERED) {
    e.mutable_deregistration()->set_mode(av1::NORMAL);
    e.mutable_deregistration()->set_reason("决议解散");
  }
  return e;
}

inline void Change(av1::EnterpriseEvent* e, const std::string& field, const std::string& before,
                   const std::string& after) {
  av1::FieldChange* c = e->add_changes();
  c->set_field(field);
  c->set_old_value(before);
  c->set_new_value(after);
}

// A delivery of `e` (which must outlive it) to `agency`.
inline plugin::Delivery Deliver(const av1::EnterpriseEvent& e, const std::string& agency) {
  plugin::Delivery d;
  d.event_id = e.event_id();
  d.agency = agency;
  d.uscc = e.uscc();
  d.attempt = 1;
  d.sequence = 42;
  d.event = &e;
  return d;
}

inline std::vector<av1::EnterpriseEvent> SampleEvents(int enterprises, int per_enterprise, std::uint64_t seed = 3) {
  sample::SampleOptions o;
  o.seed = seed;
  o.enterprises = enterprises;
  o.events_per_enterprise = per_enterprise;
  o.deregister_fraction = 0.5;
  std::vector<av1::EnterpriseEvent> out;
  for (const auto& e : sample::Generate(o)) out.push_back(ToAgencyView(e));
  return out;
}

}  // namespace yilian::agencies::test
