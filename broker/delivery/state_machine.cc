#include "delivery/state_machine.h"

#include <algorithm>
#include <array>
#include <utility>

#include "delivery/backoff.h"

namespace yilian::delivery {
namespace {

using store::DeliveryRecord;
using store::DeliveryState;

// What an input does in a state (the table atop state_machine.h).
enum class Rule {
  kRefuse,
  kSame,        // accepted, nothing changes
  kDeliver,     // -> DELIVERED, one more attempt
  kAccept,      // -> ACCEPTED
  kProcess,     // -> PROCESSED
  kReject,      // -> REJECTED
  kGoBack,      // -> PENDING after a backoff, or DEAD once attempts are used up
  kGoBackNow,   // -> PENDING at once, or DEAD once attempts are used up
  kReopen,      // -> PENDING with no attempts (operator)
  kDeadLetter,  // -> DEAD
};

constexpr int kStates = 6;
constexpr Rule R = Rule::kRefuse;
// kTransitions[state][input], in the order of the enums.
constexpr std::array<std::array<Rule, kInputs>, kStates> kTransitions = {{
    //          HAND              ACC              PROC              REJ              RETRY            TIMEOUT
    //          LOST              OP_RETRY         OP_REPLAY         UNUSABLE
    /*PEND*/ {{Rule::kDeliver, Rule::kAccept, Rule::kProcess, Rule::kReject, Rule::kSame, R,  //
               R, R, R, Rule::kDeadLetter}},
    /*DELV*/ {{R, Rule::kAccept, Rule::kProcess, Rule::kReject, Rule::kGoBack, Rule::kGoBack,  //
               Rule::kGoBackNow, R, R, R}},
    /*ACPT*/ {{R, Rule::kSame, Rule::kProcess, Rule::kReject, Rule::kGoBack, R,  //
               R, R, R, R}},
    /*PROC*/ {{R, R, R, R, R, R,  //
               R, R, Rule::kReopen, R}},
    /*REJ */ {{R, R, R, R, R, R,  //
               R, Rule::kReopen, Rule::kReopen, R}},
    /*DEAD*/ {{R, R, R, R, R, R,  //
               R, Rule::kReopen, Rule::kReopen, R}},
}};

bool IsAnswer(Input input) {
  return input == Input::kAccepted || input == Input::kProcessed || input == Input::kRejected ||
         input == Input::kRetry;
}

Status Refused(const DeliveryRecord& r, Input input, std::string_view why) {
  return Status::FailedPrecondition("delivery of seq " + std::to_string(r.seq) + " to " + r.agency + " is " +
                                    std::string(store::ToString(r.state)) + ": " + std::string(ToString(input)) +
                                    " " + std::string(why));
}

}  // namespace

std::string_view ToString(Input input) {
  switch (input) {
    case Input::kHandOver: return "HAND_OVER";
    case Input::kAccepted: return "ACCEPTED";
    case Input::kProcessed: return "PROCESSED";
    case Input::kRejected: return "REJECTED";
    case Input::kRetry: return "RETRY";
    case Input::kAckTimeout: return "ACK_TIMEOUT";
    case Input::kAdapterLost: return "ADAPTER_LOST";
    case Input::kOperatorRetry: return "OPERATOR_RETRY";
    case Input::kOperatorReplay: return "OPERATOR_REPLAY";
    case Input::kUnusable: return "UNUSABLE";
  }
  return "UNKNOWN";
}

DeliveryRecord KnownRecord(Sequence seq, std::string agency, std::string uscc, DeliveryState state,
                           std::uint32_t attempts) {
  DeliveryRecord r;
  r.seq = seq;
  r.agency = std::move(agency);
  r.uscc = std::move(uscc);
  r.state = state;
  r.attempts = attempts;
  return r;
}

Result<Transition> Apply(DeliveryRecord record, const Step& step, const config::RetryPolicy& policy) {
  const int state = static_cast<int>(record.state);
  const int input = static_cast<int>(step.input);
  if (state < 0 || state >= kStates || input < 0 || input >= kInputs)
    return Status::InvalidArgument("delivery of seq " + std::to_string(record.seq) + ": unknown state " +
                                   std::to_string(state) + " or input " + std::to_string(input));
  const Rule rule = kTransitions[state][input];
  if (rule == Rule::kRefuse) return Refused(record, step.input, "is not a transition of this state");
  // An answer to a delivery never handed over answers nothing.
  if (IsAnswer(step.input) && record.attempts == 0) return Refused(record, step.input, "before any hand-over");

  Transition t{false, std::move(record)};
  DeliveryRecord& r = t.record;
  if (rule == Rule::kSame) return t;
  t.changed = true;
  r.updated_at = step.now;
  switch (rule) {
    case Rule::kDeliver:
      r.state = DeliveryState::kDelivered;
      r.attempts += 1;
      r.next_attempt_at = 0;
      r.reference.clear();
      r.reason.clear();
      if (r.first_delivered_at == 0) r.first_delivered_at = step.now;
      r.last_delivered_at = step.now;
      break;
    case Rule::kAccept:
      r.state = DeliveryState::kAccepted;
      r.accepted_at = step.now;
      break;
    case Rule::kProcess:
      r.state = DeliveryState::kProcessed;
      r.reference = step.text;
      r.reason.clear();
      r.settled_at = step.now;
      break;
    case Rule::kReject:
      r.state = DeliveryState::kRejected;
      r.reason = step.text;
      r.settled_at = step.now;
      break;
    case Rule::kGoBack:
    case Rule::kGoBackNow:
      // Every hand-over is an attempt, also one lost with its adapter: an
      // event that makes every adapter of its agency fail ends as a dead
      // letter, not in a loop that stalls the agency.
      r.reason = step.text;
      if (r.attempts >= policy.max_attempts) {
        r.state = DeliveryState::kDead;
        r.settled_at = step.now;
      } else {
        r.state = DeliveryState::kPending;
        r.next_attempt_at =
            rule == Rule::kGoBackNow
                ? 0
                : step.now + std::max<Millis>(step.retry_after_ms, BackoffDelay(policy, r.attempts, step.jitter));
      }
      break;
    case Rule::kReopen:
      r.state = DeliveryState::kPending;
      r.attempts = 0;
      r.next_attempt_at = 0;
      r.settled_at = 0;
      if (step.input == Input::kOperatorReplay) {
        r.replay = true;
      } else {
        r.reason = "operator retry: " + step.text;
      }
      break;
    case Rule::kDeadLetter:
      r.state = DeliveryState::kDead;
      r.reason = step.text;
      r.settled_at = step.now;
      break;
    case Rule::kRefuse:
    case Rule::kSame: break;
  }
  return t;
}

}  // namespace yilian::delivery
