#include "server/tables.h"

#include "common/log.h"

namespace yilian::server {

int Agencies::Index(const std::string& id) {
  auto it = index_.find(id);
  if (it != index_.end()) return it->second;
  int index = static_cast<int>(table_.size());
  auto state = std::make_unique<AgencyState>();
  state->id = id;
  const config::AgencyConfig* rule = router_.RuleFor(id);
  security::FieldAllowList list =
      rule && !rule->fields.empty() ? security::FieldAllowList{rule->fields} : security::DefaultAllowList(id);
  auto filter = security::FieldFilter::Create(list);
  if (filter.ok()) {
    state->filter = std::move(filter).value();
  } else {
    log_->error("agency {}: field allow-list unusable, sending only the always-kept fields: {}", id,
                filter.status().message());
    state->filter = security::FieldFilter::Create(security::FieldAllowList{}).value();
  }
  table_.push_back(std::move(state));
  index_.emplace(id, index);
  return index;
}

void Agencies::ClearQueues() {
  for (auto& agency : table_) {
    agency->queue = delivery::AgencyQueue();
    agency->consumers.clear();
    agency->next_consumer = 0;
    agency->staged.clear();
  }
}

}  // namespace yilian::server
