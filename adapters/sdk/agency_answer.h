// AgencyAnswer: what an agency made of one event, on the adapter side of
// the plugin ABI (the C++ mirror of yilian_result that the SDK stores and
// reports). A plain value.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "yilian/v1/protocol.pb.h"

namespace yilian::adapter {

enum class AnswerKind {
  kPending = 1,    // the agency has it; the answer comes later (broker: ACCEPTED)
  kProcessed = 2,  // final
  kRejected = 3,   // final
  kRetry = 4,      // transient; the broker delivers again
};

std::string_view ToString(AnswerKind kind);
// kPending is OUTCOME_ACCEPTED on the wire.
v1::Outcome ToOutcome(AnswerKind kind);

struct AgencyAnswer {
  AnswerKind kind = AnswerKind::kRetry;
  std::string reference;             // kProcessed
  std::string reason;                // kRejected, kRetry
  std::uint32_t retry_after_ms = 0;  // kRetry

  static AgencyAnswer Pending() { return {AnswerKind::kPending, "", "", 0}; }
  static AgencyAnswer Processed(std::string ref) { return {AnswerKind::kProcessed, std::move(ref), "", 0}; }
  static AgencyAnswer Rejected(std::string why) { return {AnswerKind::kRejected, "", std::move(why), 0}; }
  static AgencyAnswer Retry(std::string why, std::uint32_t after_ms = 0) {
    return {AnswerKind::kRetry, "", std::move(why), after_ms};
  }
  bool final() const { return kind == AnswerKind::kProcessed || kind == AnswerKind::kRejected; }
};

}  // namespace yilian::adapter
