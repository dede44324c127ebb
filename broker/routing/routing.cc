#include "routing/routing.h"

#include <algorithm>

namespace yilian::routing {

Router::Router(std::vector<config::AgencyConfig> agencies) : agencies_(std::move(agencies)) {
  for (std::size_t i = 0; i < agencies_.size(); ++i)
    if (agencies_[i].IsBankTemplate()) bank_template_ = static_cast<int>(i);
}

bool Router::Acts(const config::AgencyConfig& agency, const v1::EnterpriseEvent& event) const {
  if (std::find(agency.events.begin(), agency.events.end(), event.type()) == agency.events.end()) return false;
  if (event.type() != v1::CHANGED || agency.changed_fields.empty()) return true;
  for (const auto& change : event.changes()) {
    if (std::find(agency.changed_fields.begin(), agency.changed_fields.end(), change.field()) !=
        agency.changed_fields.end())
      return true;
  }
  return false;
}

Result<std::vector<std::string>> Router::Route(const v1::EnterpriseEvent& event) const {
  std::vector<std::string> out;
  for (const auto& agency : agencies_) {
    if (agency.IsBank()) continue;  // banks are chosen by the event below
    if (Acts(agency, event)) out.push_back(agency.id);
  }
  if (event.has_bank_reservation() && !event.bank_reservation().bank_code().empty()) {
    std::string bank_id = "bank:" + event.bank_reservation().bank_code();
    const config::AgencyConfig* rule = nullptr;
    for (const auto& a : agencies_)
      if (a.id == bank_id) rule = &a;
    if (!rule && bank_template_ >= 0) rule = &agencies_[bank_template_];
    if (!rule)
      return Status::FailedPrecondition("bank_reservation.bank_code '" + event.bank_reservation().bank_code() +
                                        "' names no configured agency (expected '" + bank_id + "' or 'bank:*')");
    if (Acts(*rule, event)) out.push_back(bank_id);
  }
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

const config::AgencyConfig* Router::RuleFor(const std::string& agency_id) const {
  for (const auto& a : agencies_)
    if (a.id == agency_id && !a.IsBankTemplate()) return &a;
  if (bank_template_ >= 0 && agency_id.rfind("bank:", 0) == 0) return &agencies_[bank_template_];
  return nullptr;
}

bool Router::RuleActs(const std::string& agency_id, const v1::EnterpriseEvent& event) const {
  const config::AgencyConfig* rule = RuleFor(agency_id);
  return rule != nullptr && Acts(*rule, event);
}

bool Router::IsKnownAgency(const std::string& agency_id) const {
  for (const auto& a : agencies_)
    if (a.id == agency_id && !a.IsBankTemplate()) return true;
  if (bank_template_ >= 0 && agency_id.rfind("bank:", 0) == 0 && agency_id.size() > 5 &&
      agency_id.find('*') == std::string::npos)
    return true;
  return false;
}

}  // namespace yilian::routing
