// AgencyHandler: the agency-specific part of an adapter, as the SDK's
// AgencySession drives it. The host implements it over a loaded plugin
// (adapters/host); an adapter written directly in C++ implements it itself.
//
// Threads: Submit and Check are called from the session's worker thread,
// one call at a time; TakeReports from the session's thread. An
// implementation that receives answers on its own threads must make
// TakeReports thread-safe.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "common/ids.h"
#include "sdk/agency_answer.h"

namespace yilian::adapter {

struct DeliveryInfo {
  EventId event_id;
  AgencyId agency;
  Uscc uscc;
  std::uint32_t attempt = 0;
  Sequence sequence = 0;
  // Submit: the event as serialized yilian.v1.EnterpriseEvent. Check: empty.
  std::string event_bytes;
};

class AgencyHandler {
 public:
  virtual ~AgencyHandler() = default;
  // Hands the event to the agency. Must be idempotent by event id: the
  // session dedupes redeliveries it knows of, but after a crash between the
  // agency taking the event and the session recording that, the same event
  // is submitted again and must not make a second record.
  virtual AgencyAnswer Submit(const DeliveryInfo& delivery) = 0;
  // The answer for an event earlier answered kPending. kPending: still
  // working; kRetry: the agency does not have it (it is delivered again).
  virtual AgencyAnswer Check(const DeliveryInfo& delivery) = 0;
  // Answers that arrived on their own since the last call (optional; Check
  // stays the reliable path).
  virtual std::vector<std::pair<EventId, AgencyAnswer>> TakeReports() { return {}; }
};

}  // namespace yilian::adapter
