// Routing: which agencies must act on an event, from the configured agency
// rules (config::AgencyConfig). The result is stored with the event and never
// recomputed, so a later configuration change does not reroute old events.
// Immutable after construction; safe to call from any thread.
#pragma once

#include <string>
#include <vector>

#include "common/status.h"
#include "config/config.h"
#include "yilian/v1/event.pb.h"

namespace yilian::routing {

class Router {
 public:
  explicit Router(std::vector<config::AgencyConfig> agencies);

  // The agency ids, sorted and unique, that must act on `event`. Fails with
  // kFailedPrecondition (UNROUTABLE) when the event names a bank that no
  // configured agency serves.
  Result<std::vector<std::string>> Route(const v1::EnterpriseEvent& event) const;

  // True if `agency_id` is a configured agency or matches the bank template.
  bool IsKnownAgency(const std::string& agency_id) const;

  // True if the configured rule for `agency_id` (for a bank: its own rule or
  // the bank template) covers this event's type and changed fields. Used for
  // banks that hold the enterprise's account (enterprise relations).
  bool RuleActs(const std::string& agency_id, const v1::EnterpriseEvent& event) const;

  // The rule for `agency_id` (for a bank: its own rule or the template), or
  // nullptr if none.
  const config::AgencyConfig* RuleFor(const std::string& agency_id) const;

 private:
  bool Acts(const config::AgencyConfig& agency, const v1::EnterpriseEvent& event) const;

  std::vector<config::AgencyConfig> agencies_;
  int bank_template_ = -1;  // index into agencies_, or -1
};

}  // namespace yilian::routing
