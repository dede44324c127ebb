#include "plugins/bank/bank_mapping.h"

namespace yilian::agencies::bank {
namespace {

// 证件类型 as the banks' account-opening interface codes it.
const std::map<av1::IdType, std::string>& IdTypeCodes() {
  static const std::map<av1::IdType, std::string> codes = {
      {av1::RESIDENT_ID, "0"},                 // 居民身份证
      {av1::PASSPORT, "1"},                    // 护照
      {av1::HK_MACAO_PERMIT, "5"},             // 港澳居民来往内地通行证
      {av1::TAIWAN_PERMIT, "6"},               // 台湾居民来往大陆通行证
      {av1::FOREIGN_PERMANENT_RESIDENT, "8"},  // 外国人永久居留身份证
  };
  return codes;
}

const ItemNames& ChangeItems() {
  static const ItemNames names = {{"name", "存款人名称"}, {"legal_representative", "法定代表人"}, {"address", "地址"}};
  return names;
}

}  // namespace

Mapped Map(const std::string& bank_code, const plugin::Delivery& d) {
  const av1::EnterpriseEvent& e = *d.event;
  const av1::Enterprise& ent = e.enterprise();
  Mapped m;
  FillHeader(d, &m.submission);
  av1::BankRecord* r = m.submission.mutable_bank();
  const char* action = ActionFor(e.type(), {"RESERVE", "CHANGE", "CLOSE"});
  if (action == nullptr) return NotApplicable("the bank does not act on " + av1::EventType_Name(e.type()) + " events");
  r->set_action(action);
  const std::string& event_bank = e.bank_reservation().bank_code();
  if (!event_bank.empty() && event_bank != bank_code)
    return Incomplete("本行为 " + bank_code + ", 事件所选银行为 " + event_bank + " (bank_reservation.bank_code)");
  r->set_bank_code(bank_code);
  r->set_branch_code(e.bank_reservation().branch_code());
  r->set_uscc(e.uscc());
  r->set_depositor_name(ent.name());
  bool id_type_ok =
      MapPerson(ent.legal_representative(), IdTypeCodes(), /*with_phone=*/true, r->mutable_legal_representative());
  r->set_address(ent.address());
  r->set_effective_at(EffectiveAt(e));

  Requirements need;
  need.Need(IsUscc(e.uscc()), "统一社会信用代码 uscc");
  need.Need(!ent.name().empty(), "存款人名称 enterprise.name");
  need.Need(!ent.legal_representative().name().empty(), "法定代表人姓名 enterprise.legal_representative.name");
  need.Need(!ent.legal_representative().id_number().empty(),
            "法定代表人证件号码 enterprise.legal_representative.id_number");
  need.Need(id_type_ok, "法定代表人证件类型 enterprise.legal_representative.id_type");
  need.Need(!ent.address().empty(), "地址 enterprise.address");
  if (e.type() == av1::ESTABLISHED) {
    need.Need(!r->branch_code().empty(), "预约网点 bank_reservation.branch_code");
    need.Need(!ent.legal_representative().phone().empty(), "法定代表人联系电话 enterprise.legal_representative.phone");
  } else if (e.type() == av1::CHANGED) {
    MapChanges(e, ChangeItems(), /*without_values=*/{}, r->mutable_changes());
    if (r->changes().empty()) return NotApplicable("no item the bank holds was changed");
  }
  if (!need.ok()) return Incomplete(need.Describe("开户预约必需信息"));
  return m;
}

}  // namespace yilian::agencies::bank
