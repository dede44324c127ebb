// Housing provident fund (住房公积金): maps an event to the fund centre's
// unit record (HousingFundRecord).
//   ESTABLISHED  -> OPEN:   单位缴存登记 / 开户 (answers a unit account 单位账号,
//                           pre-opened until the corporate bank account exists;
//                           the centre, not the plugin, knows whether it does)
//   CHANGED      -> CHANGE: 单位信息变更 (name, legal representative, address)
//   DEREGISTERED -> CLOSE:  单位销户
//   FILED        -> nothing to do
// Fields, code tables and checks: docs/agencies.md#housing-fund. Pure.
#pragma once

#include "plugins/common/mapping.h"

namespace yilian::agencies::housing_fund {

Mapped Map(const plugin::Delivery& delivery);

}  // namespace yilian::agencies::housing_fund
