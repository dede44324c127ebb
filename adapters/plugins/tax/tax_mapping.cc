#include "plugins/tax/tax_mapping.h"

namespace yilian::agencies::tax {
namespace {

// 身份证件类型 as in the tax system's code table.
const std::map<av1::IdType, std::string>& IdTypeCodes() {
  static const std::map<av1::IdType, std::string> codes = {
      {av1::RESIDENT_ID, "201"},                 // 居民身份证
      {av1::PASSPORT, "208"},                    // 外国护照
      {av1::HK_MACAO_PERMIT, "210"},             // 港澳居民来往内地通行证
      {av1::TAIWAN_PERMIT, "213"},               // 台湾居民来往大陆通行证
      {av1::FOREIGN_PERMANENT_RESIDENT, "233"},  // 外国人永久居留身份证
  };
  return codes;
}

// The registered items tax holds, named as on the tax change form.
const ItemNames& ChangeItems() {
  static const ItemNames names = {
      {"name", "纳税人名称"},
      {"entity_type", "登记注册类型"},
      {"legal_representative", "法定代表人"},
      {"registered_capital", "注册资本"},
      {"address", "注册地址"},
      {"business_scope", "经营范围"},
      {"accounting_method", "核算方式"},
      {"employee_count", "从业人数"},
  };
  return names;
}

bool Contains(const std::string& text, const char* part) { return text.find(part) != std::string::npos; }

std::string AccountingMethodCode(const std::string& method) {
  if (method == "INDEPENDENT" || method == "独立核算") return "1";
  if (method == "NON_INDEPENDENT" || method == "非独立核算") return "2";
  return "";
}

}  // namespace

std::string RegistrationTypeCode(const std::string& t) {
  bool natural = Contains(t, "自然人") || Contains(t, "私营");
  if (Contains(t, "国有独资")) return "151";
  if (Contains(t, "股份有限公司")) return natural ? "174" : "160";
  if (Contains(t, "有限责任公司") || Contains(t, "有限公司")) return natural ? "173" : "159";
  if (Contains(t, "个人独资")) return "171";
  if (Contains(t, "合伙")) return "172";
  if (Contains(t, "个体工商户")) return "410";
  return "190";  // 其他企业
}

std::string CurrencyCode(const std::string& iso) {
  static const std::map<std::string, std::string> codes = {{"CNY", "156"}, {"USD", "840"}, {"EUR", "978"},
                                                           {"HKD", "344"}, {"JPY", "392"}, {"GBP", "826"}};
  auto it = codes.find(iso);
  return it == codes.end() ? "" : it->second;
}

Mapped Map(const plugin::Delivery& d) {
  const av1::EnterpriseEvent& e = *d.event;
  const av1::Enterprise& ent = e.enterprise();
  Mapped m;
  FillHeader(d, &m.submission);
  av1::TaxRecord* r = m.submission.mutable_tax();
  const char* action = ActionFor(e.type(), {"REGISTER", "CHANGE", "CLEAR"});
  if (action == nullptr) return NotApplicable("tax does not act on " + av1::EventType_Name(e.type()) + " events");
  r->set_action(action);

  r->set_taxpayer_id(e.uscc());
  r->set_taxpayer_name(ent.name());
  r->set_entity_type(ent.entity_type());
  r->set_registration_type_code(RegistrationTypeCode(ent.entity_type()));
  bool id_type_ok =
      MapPerson(ent.legal_representative(), IdTypeCodes(), /*with_phone=*/true, r->mutable_legal_representative());
  r->set_registered_address(ent.address());
  r->set_registered_capital(ent.registered_capital().amount());
  r->set_currency_code(CurrencyCode(ent.registered_capital().currency()));
  r->set_business_scope(ent.business_scope());
  r->set_accounting_method_code(AccountingMethodCode(ent.accounting_method()));
  r->set_employee_count(ent.employee_count());
  r->set_established_on(ent.established_on());
  r->set_region_code(ent.region_code());
  r->set_registration_authority(e.authority());
  r->set_effective_at(EffectiveAt(e));

  Requirements need;
  need.Need(IsUscc(e.uscc()), "纳税人识别号 uscc");
  need.Need(!ent.name().empty(), "纳税人名称 enterprise.name");
  need.Need(!ent.legal_representative().name().empty(), "法定代表人姓名 enterprise.legal_representative.name");
  need.Need(!ent.legal_representative().id_number().empty(),
            "法定代表人证件号码 enterprise.legal_representative.id_number");
  need.Need(id_type_ok, "法定代表人证件类型 enterprise.legal_representative.id_type");
  need.Need(!ent.address().empty(), "注册地址 enterprise.address");

  if (e.type() == av1::ESTABLISHED) {
    need.Need(!r->accounting_method_code().empty(), "核算方式 enterprise.accounting_method");
    need.Need(!ent.registered_capital().amount().empty(), "注册资本 enterprise.registered_capital");
    need.Need(!ent.region_code().empty(), "行政区划 enterprise.region_code");
  } else if (e.type() == av1::CHANGED) {
    MapChanges(e, ChangeItems(), /*without_values=*/{}, r->mutable_changes());
    if (r->changes().empty()) return NotApplicable("no item tax holds was changed");
  } else {
    r->set_deregistration_mode_code(DeregistrationModeCode(e.deregistration().mode()));
    r->set_deregistration_reason(e.deregistration().reason());
    need.Need(!r->deregistration_mode_code().empty(), "注销方式 deregistration.mode");
  }
  if (!need.ok()) return Incomplete(need.Describe("税务登记必需信息"));
  return m;
}

}  // namespace yilian::agencies::tax
