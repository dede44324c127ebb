#include "plugins/social_insurance/social_insurance_mapping.h"

namespace yilian::agencies::social_insurance {
namespace {

// 证件类型 as the social insurance unit interface codes it.
const std::map<av1::IdType, std::string>& IdTypeCodes() {
  static const std::map<av1::IdType, std::string> codes = {
      {av1::RESIDENT_ID, "01"},                 // 居民身份证
      {av1::PASSPORT, "04"},                    // 护照
      {av1::HK_MACAO_PERMIT, "06"},             // 港澳居民来往内地通行证
      {av1::TAIWAN_PERMIT, "07"},               // 台湾居民来往大陆通行证
      {av1::FOREIGN_PERMANENT_RESIDENT, "08"},  // 外国人永久居留身份证
  };
  return codes;
}

const ItemNames& ChangeItems() {
  static const ItemNames names = {
      {"name", "单位名称"},    {"entity_type", "单位类型"},       {"legal_representative", "法定代表人"},
      {"address", "单位地址"}, {"region_code", "参保地行政区划"}, {"industry_code", "行业"},
  };
  return names;
}

bool IsRegionCode(const std::string& s) {
  if (s.size() != 6) return false;
  for (char c : s)
    if (c < '0' || c > '9') return false;
  return true;
}

}  // namespace

std::string UnitCategoryCode(const std::string& entity_type) {
  if (entity_type.find("个体工商户") != std::string::npos) return "60";
  return "10";
}

Mapped Map(const plugin::Delivery& d) {
  const av1::EnterpriseEvent& e = *d.event;
  const av1::Enterprise& ent = e.enterprise();
  Mapped m;
  FillHeader(d, &m.submission);
  av1::SocialInsuranceRecord* r = m.submission.mutable_social_insurance();
  const char* action = ActionFor(e.type(), {"REGISTER", "CHANGE", "CANCEL"});
  if (action == nullptr)
    return NotApplicable("social insurance does not act on " + av1::EventType_Name(e.type()) + " events");
  r->set_action(action);
  r->set_uscc(e.uscc());
  r->set_unit_name(ent.name());
  r->set_region_code(ent.region_code());
  r->set_unit_category_code(UnitCategoryCode(ent.entity_type()));
  r->set_industry_code(ent.industry_code());
  bool id_type_ok =
      MapPerson(ent.legal_representative(), IdTypeCodes(), /*with_phone=*/false, r->mutable_legal_representative());
  r->set_address(ent.address());
  r->set_established_on(ent.established_on());
  r->set_effective_at(EffectiveAt(e));

  Requirements need;
  need.Need(IsUscc(e.uscc()), "统一社会信用代码 uscc");
  need.Need(!ent.name().empty(), "单位名称 enterprise.name");
  need.Need(IsRegionCode(ent.region_code()), "参保地行政区划 enterprise.region_code");
  need.Need(!ent.legal_representative().name().empty(), "法定代表人姓名 enterprise.legal_representative.name");
  need.Need(!ent.legal_representative().id_number().empty(),
            "法定代表人证件号码 enterprise.legal_representative.id_number");
  need.Need(id_type_ok, "法定代表人证件类型 enterprise.legal_representative.id_type");
  if (e.type() == av1::ESTABLISHED) {
    need.Need(!ent.industry_code().empty(), "行业 enterprise.industry_code");
    need.Need(!ent.address().empty(), "单位地址 enterprise.address");
  } else if (e.type() == av1::CHANGED) {
    MapChanges(e, ChangeItems(), /*without_values=*/{"legal_representative"}, r->mutable_changes());
    if (r->changes().empty()) return NotApplicable("no item social insurance holds was changed");
  } else {
    r->set_deregistration_mode_code(DeregistrationModeCode(e.deregistration().mode()));
    need.Need(!r->deregistration_mode_code().empty(), "注销方式 deregistration.mode");
  }
  if (!need.ok()) return Incomplete(need.Describe("社会保险单位登记必需信息"));
  return m;
}

}  // namespace yilian::agencies::social_insurance
