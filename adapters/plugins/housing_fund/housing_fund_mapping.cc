#include "plugins/housing_fund/housing_fund_mapping.h"

namespace yilian::agencies::housing_fund {
namespace {

// 证件类型 as the fund centre's unit interface codes it.
const std::map<av1::IdType, std::string>& IdTypeCodes() {
  static const std::map<av1::IdType, std::string> codes = {
      {av1::RESIDENT_ID, "01"},                 // 居民身份证
      {av1::PASSPORT, "03"},                    // 护照
      {av1::HK_MACAO_PERMIT, "04"},             // 港澳居民来往内地通行证
      {av1::TAIWAN_PERMIT, "05"},               // 台湾居民来往大陆通行证
      {av1::FOREIGN_PERMANENT_RESIDENT, "06"},  // 外国人永久居留身份证
  };
  return codes;
}

const ItemNames& ChangeItems() {
  static const ItemNames names = {
      {"name", "单位名称"}, {"legal_representative", "法定代表人"}, {"address", "单位地址"}};
  return names;
}

}  // namespace

Mapped Map(const plugin::Delivery& d) {
  const av1::EnterpriseEvent& e = *d.event;
  const av1::Enterprise& ent = e.enterprise();
  Mapped m;
  FillHeader(d, &m.submission);
  av1::HousingFundRecord* r = m.submission.mutable_housing_fund();
  const char* action = ActionFor(e.type(), {"OPEN", "CHANGE", "CLOSE"});
  if (action == nullptr)
    return NotApplicable("the housing fund does not act on " + av1::EventType_Name(e.type()) + " events");
  r->set_action(action);
  r->set_uscc(e.uscc());
  r->set_unit_name(ent.name());
  bool id_type_ok =
      MapPerson(ent.legal_representative(), IdTypeCodes(), /*with_phone=*/false, r->mutable_legal_representative());
  r->set_address(ent.address());
  r->set_effective_at(EffectiveAt(e));

  Requirements need;
  need.Need(IsUscc(e.uscc()), "统一社会信用代码 uscc");
  need.Need(!ent.name().empty(), "单位名称 enterprise.name");
  need.Need(!ent.legal_representative().name().empty(), "法定代表人姓名 enterprise.legal_representative.name");
  need.Need(!ent.legal_representative().id_number().empty(),
            "法定代表人证件号码 enterprise.legal_representative.id_number");
  need.Need(id_type_ok, "法定代表人证件类型 enterprise.legal_representative.id_type");
  need.Need(!ent.address().empty(), "单位地址 enterprise.address");
  if (e.type() == av1::CHANGED) {
    MapChanges(e, ChangeItems(), /*without_values=*/{"legal_representative"}, r->mutable_changes());
    if (r->changes().empty()) return NotApplicable("no item the housing fund holds was changed");
  }
  if (!need.ok()) return Incomplete(need.Describe("公积金单位登记必需信息"));
  return m;
}

}  // namespace yilian::agencies::housing_fund
