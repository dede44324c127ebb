// Bank (银行): maps an event to one bank's record (BankRecord). One plugin
// serves every bank; each adapter runs it for one bank code (agency
// "bank:<code>"), and the bank sees only enterprises that chose it.
//   ESTABLISHED  -> RESERVE: 基本存款账户开户预约 (answers the basic account
//                            number and its 基本存款账户编号 once opened)
//   CHANGED      -> CHANGE:  变更通知 (name, legal representative, address;
//                            the bank must be told within 5 working days)
//   DEREGISTERED -> CLOSE:   销户通知
//   FILED        -> nothing to do
// Fields, code tables and checks: docs/agencies.md#bank. Pure.
#pragma once

#include <string>

#include "plugins/common/mapping.h"

namespace yilian::agencies::bank {

// `bank_code` is this adapter's bank, e.g. "ICBC".
Mapped Map(const std::string& bank_code, const plugin::Delivery& delivery);

}  // namespace yilian::agencies::bank
