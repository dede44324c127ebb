// Distinct named types for the identifiers that travel together, so an event
// id cannot be passed where an agency id is expected. Plain values.
#pragma once

#include <compare>
#include <cstdint>
#include <functional>
#include <string>
#include <utility>

namespace yilian {

template <typename Tag>
class StrongString {
 public:
  StrongString() = default;
  explicit StrongString(std::string v) : value_(std::move(v)) {}
  const std::string& str() const { return value_; }
  bool empty() const { return value_.empty(); }
  auto operator<=>(const StrongString&) const = default;

 private:
  std::string value_;
};

struct EventIdTag {};
struct UsccTag {};
struct AgencyIdTag {};
using EventId = StrongString<EventIdTag>;
using Uscc = StrongString<UsccTag>;
using AgencyId = StrongString<AgencyIdTag>;

// The broker's sequence number of a stored event: dense, increasing in commit
// order. Publish order for one USCC is sequence order.
using Sequence = std::uint64_t;

}  // namespace yilian

template <typename Tag>
struct std::hash<yilian::StrongString<Tag>> {
  size_t operator()(const yilian::StrongString<Tag>& s) const noexcept {
    return std::hash<std::string>()(s.str());
  }
};
