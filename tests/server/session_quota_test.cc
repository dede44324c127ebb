// SessionQuota on its own: the order of its three bounds, the reserve, and
// that closing a session gives its slot back.
#include "server/session_quota.h"

#include <gtest/gtest.h>

namespace yilian::server {
namespace {

using Kind = SessionQuota::Kind;
using Refusal = SessionQuota::Refusal;

const std::string kTax = SessionQuota::Class(Kind::kAgency, "tax");
const std::string kFund = SessionQuota::Class(Kind::kAgency, "housing_fund");
const std::string kPublisher = SessionQuota::Class(Kind::kPublisher, "");

SessionQuota Make(std::uint32_t max, std::uint32_t per_agency) {
  return SessionQuota({max, /*per_publisher=*/2, per_agency, /*per_watcher=*/1}, {kPublisher, kTax, kFund});
}

TEST(SessionQuota, AnIdentityIsHeldToItsRolesQuota) {
  SessionQuota q = Make(100, 2);
  for (int i = 0; i < 2; ++i) {
    ASSERT_FALSE(q.Check("tax-adapter", Kind::kAgency, kTax));
    q.Opened("tax-adapter", kTax);
  }
  auto refused = q.Check("tax-adapter", Kind::kAgency, kTax);
  ASSERT_TRUE(refused);
  EXPECT_EQ(refused->reason, Refusal::kIdentityQuota);
  EXPECT_NE(refused->message.find("limits.agency_sessions_per_identity = 2"), std::string::npos);
  // Another identity of the same agency is counted on its own.
  EXPECT_FALSE(q.Check("tax-adapter-2", Kind::kAgency, kTax));
  // No identity (--insecure-dev): no identity quota.
  EXPECT_FALSE(q.Check("", Kind::kAgency, kTax));
  q.Closed("tax-adapter", kTax);
  EXPECT_FALSE(q.Check("tax-adapter", Kind::kAgency, kTax));
}

TEST(SessionQuota, ClassesWithoutASessionKeepASlot) {
  SessionQuota q = Make(5, 100);
  // Tax takes its reserved slot, then the two free ones; the publisher's
  // and the housing fund's slots are kept.
  for (int i = 0; i < 3; ++i) {
    ASSERT_FALSE(q.Check("tax", Kind::kAgency, kTax)) << i;
    q.Opened("tax", kTax);
  }
  auto refused = q.Check("tax", Kind::kAgency, kTax);
  ASSERT_TRUE(refused);
  EXPECT_EQ(refused->reason, Refusal::kReserved);
  // A bank without a rule of its own counts as the bank template's class;
  // an unreserved class is refused like tax.
  EXPECT_TRUE(q.Check("x", Kind::kWatcher, SessionQuota::Class(Kind::kWatcher, "")));
  ASSERT_FALSE(q.Check("platform", Kind::kPublisher, kPublisher));
  q.Opened("platform", kPublisher);
  ASSERT_FALSE(q.Check("fund", Kind::kAgency, kFund));
  q.Opened("fund", kFund);
  EXPECT_EQ(q.sessions(), 5u);
  refused = q.Check("fund", Kind::kAgency, kFund);
  ASSERT_TRUE(refused);
  EXPECT_EQ(refused->reason, Refusal::kMaxSessions);
  // When the publisher's only session closes, its slot is kept again.
  q.Closed("platform", kPublisher);
  refused = q.Check("tax", Kind::kAgency, kTax);
  ASSERT_TRUE(refused);
  EXPECT_EQ(refused->reason, Refusal::kReserved);
  EXPECT_FALSE(q.Check("platform", Kind::kPublisher, kPublisher));
}

}  // namespace
}  // namespace yilian::server
