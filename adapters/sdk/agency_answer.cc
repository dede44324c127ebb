#include "sdk/agency_answer.h"

namespace yilian::adapter {

std::string_view ToString(AnswerKind kind) {
  switch (kind) {
    case AnswerKind::kPending:
      return "PENDING";
    case AnswerKind::kProcessed:
      return "PROCESSED";
    case AnswerKind::kRejected:
      return "REJECTED";
    case AnswerKind::kRetry:
      return "RETRY";
  }
  return "UNKNOWN";
}

v1::Outcome ToOutcome(AnswerKind kind) {
  switch (kind) {
    case AnswerKind::kPending:
      return v1::OUTCOME_ACCEPTED;
    case AnswerKind::kProcessed:
      return v1::OUTCOME_PROCESSED;
    case AnswerKind::kRejected:
      return v1::OUTCOME_REJECTED;
    case AnswerKind::kRetry:
      return v1::OUTCOME_RETRY;
  }
  return v1::OUTCOME_UNSPECIFIED;
}

}  // namespace yilian::adapter
