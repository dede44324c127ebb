// Social insurance (社会保险): maps an event to the social insurance
// agency's unit record (SocialInsuranceRecord).
//   ESTABLISHED  -> REGISTER: 单位参保登记 (the agency answers a unit number 单位编号)
//   CHANGED      -> CHANGE:   单位信息变更, only the items it holds
//   DEREGISTERED -> CANCEL:   单位注销
//   FILED        -> nothing to do
// Fields, code tables and checks: docs/agencies.md#social-insurance. Pure.
#pragma once

#include <string>

#include "plugins/common/mapping.h"

namespace yilian::agencies::social_insurance {

Mapped Map(const plugin::Delivery& delivery);

// 单位类型 from the entity type text: "10" 企业, "60" 个体工商户 (see docs).
std::string UnitCategoryCode(const std::string& entity_type);

}  // namespace yilian::agencies::social_insurance
