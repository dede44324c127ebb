// AgencyNumbers: the writer's copy of the `agencies` table (docs/storage.md
// section 3.4): each agency's number, which makes its delivery rows' keys
// (seq * kAgencySlots + number, schema.h). Loaded when the store opens; a
// number given out in the open transaction is forgotten again if that
// transaction rolls back. Shared by the SQLite and PostgreSQL stores.
//
// Concurrency: like its store, one thread.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "common/ids.h"
#include "common/status.h"
#include "store/schema.h"

namespace yilian::store {

class AgencyNumbers {
 public:
  static std::int64_t DeliveryKey(Sequence seq, std::int64_t number) {
    return static_cast<std::int64_t>(seq) * kAgencySlots + number;
  }

  void Clear() {
    numbers_.clear();
    staged_.clear();
    next_ = 1;
  }
  // A row of `agencies`, as read at open.
  void Load(std::string name, std::int64_t number) {
    next_ = std::max(next_, number + 1);
    numbers_[std::move(name)] = number;
  }

  // The key of the agency's delivery row of `seq`, if the agency has a
  // number (no row otherwise).
  std::optional<std::int64_t> Key(Sequence seq, const std::string& agency) const {
    auto it = numbers_.find(agency);
    if (it == numbers_.end()) return std::nullopt;
    return DeliveryKey(seq, it->second);
  }
  std::optional<std::int64_t> Find(const std::string& agency) const {
    auto it = numbers_.find(agency);
    if (it == numbers_.end()) return std::nullopt;
    return it->second;
  }

  // The agency's number; a new agency's is inserted by `insert(number)` in
  // the open transaction. kResourceExhausted once every number of the key
  // range is taken (`where` names the store).
  template <typename Insert>
  Result<std::int64_t> Number(const std::string& agency, const std::string& where, Insert insert) {
    if (auto known = Find(agency)) return *known;
    if (next_ >= kAgencySlots)
      return Status::ResourceExhausted(where + " has numbered " + std::to_string(kAgencySlots - 1) +
                                       " agencies, the most a delivery key holds; cannot add '" + agency + "'");
    if (Status s = insert(next_); !s.ok()) return s;
    numbers_.emplace(agency, next_);
    staged_.push_back(agency);
    return next_++;
  }

  // The open transaction committed: its numbers are kept.
  void Committed() { staged_.clear(); }
  // It rolled back: its numbers were not stored.
  void RolledBack() {
    for (const auto& name : staged_) numbers_.erase(name);
    next_ -= static_cast<std::int64_t>(staged_.size());
    staged_.clear();
  }

 private:
  std::unordered_map<std::string, std::int64_t> numbers_;
  std::int64_t next_ = 1;
  std::vector<std::string> staged_;  // numbered in the open transaction
};

}  // namespace yilian::store
