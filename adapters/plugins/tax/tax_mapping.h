// Tax (税务): maps an event to the tax bureau's record (TaxRecord).
//   ESTABLISHED  -> REGISTER: 新办纳税人信息确认 (the USCC is the taxpayer id)
//   CHANGED      -> CHANGE:   变更登记, only the items tax holds
//   DEREGISTERED -> CLEAR:    清税注销 (the bureau answers clearance or objection)
//   FILED        -> nothing to do
// Fields, code tables and checks: docs/agencies.md#tax. Pure; any thread.
#pragma once

#include <string>

#include "plugins/common/mapping.h"

namespace yilian::agencies::tax {

Mapped Map(const plugin::Delivery& delivery);

// 登记注册类型 from the registered entity type text, e.g.
// "有限责任公司（自然人投资或控股）" -> "173".
std::string RegistrationTypeCode(const std::string& entity_type);
// GB/T 12406 numeric currency code ("CNY" -> "156"); "" if unknown.
std::string CurrencyCode(const std::string& iso_alpha);

}  // namespace yilian::agencies::tax
