#include "store/records.h"

#include "common/digest.h"
#include "store/cases.h"
#include "store/store.h"

namespace yilian::store {

std::string_view ToString(DeliveryState state) {
  switch (state) {
    case DeliveryState::kPending: return "PENDING";
    case DeliveryState::kDelivered: return "DELIVERED";
    case DeliveryState::kAccepted: return "ACCEPTED";
    case DeliveryState::kProcessed: return "PROCESSED";
    case DeliveryState::kRejected: return "REJECTED";
    case DeliveryState::kDead: return "DEAD";
  }
  return "UNKNOWN";
}

bool IsSettled(DeliveryState state) {
  return state == DeliveryState::kProcessed || state == DeliveryState::kRejected || state == DeliveryState::kDead;
}

std::string JoinAgencies(const std::vector<std::string>& agencies) {
  std::string out;
  for (const auto& a : agencies) {
    if (!out.empty()) out += ',';
    out += a;
  }
  return out;
}

std::vector<std::string> SplitAgencies(std::string_view text) {
  std::vector<std::string> out;
  std::size_t start = 0;
  while (start < text.size()) {
    std::size_t comma = text.find(',', start);
    if (comma == std::string_view::npos) comma = text.size();
    out.emplace_back(text.substr(start, comma - start));
    start = comma + 1;
  }
  return out;
}

Result<std::uint64_t> Store::AppendAudit(Millis at, const std::string& actor, const std::string& kind,
                                         const std::string& body) {
  const auto [id, prev_hash] = AuditHead();
  std::string hash = Sm3Hex(AuditHashInput(prev_hash, id + 1, at, actor, kind, body));
  return AppendAuditHashed(at, actor, kind, body, hash);
}

}  // namespace yilian::store
