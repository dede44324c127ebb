// The delivery state machine: the one function that changes a delivery's
// state. Every transition the broker makes (hand-over, the adapter's
// answers, timeouts, a lost adapter, operator actions, an event that cannot
// be delivered) is an Input applied to the stored record here; the caller
// writes the returned record with the store's compare-and-set and runs its
// own effects (queues, replies, audit). docs/storage.md section 4 draws this
// machine from the same table (kTransitions in state_machine.cc).
//
//   state \ input  HAND  ACC  PROC  REJ  RETRY  TIMEOUT  LOST  OP_RETRY  OP_REPLAY  UNUSABLE
//   PENDING        DELV  ACC* PROC* REJ* same   -        -     -         -          DEAD
//   DELIVERED      -     ACC  PROC  REJ  P|D    P|D      P|D   -         -          -
//   ACCEPTED       -     same PROC  REJ  P|D    -        -     -         -          -
//   PROCESSED      -     -    -     -    -      -        -     -         PEND       -
//   REJECTED       -     -    -     -    -      -        -     PEND      PEND       -
//   DEAD           -     -    -     -    -      -        -     PEND      PEND       -
//
//   * a late answer to an earlier attempt (attempts >= 1 only)
//   P|D: PENDING with a backoff (at once for a lost adapter) while
//        attempts < retry.max_attempts, DEAD once they are used up
//   same: accepted, nothing changes; -: refused
//
// Pure: no clock, no randomness (the caller passes both), no I/O; safe from
// any thread.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>

#include "common/clock.h"
#include "common/status.h"
#include "config/config.h"
#include "store/records.h"

namespace yilian::delivery {

enum class Input {
  kHandOver,        // handed to an adapter's session
  kAccepted,        // the adapter answered ACCEPTED
  kProcessed,       // ... PROCESSED (text: the agency's reference)
  kRejected,        // ... REJECTED (text: the reason)
  kRetry,           // ... RETRY (text: the reason; retry_after_ms: its wish)
  kAckTimeout,      // no answer within the ack timeout (text: the reason)
  kAdapterLost,     // the adapter's session ended with it outstanding (text)
  kOperatorRetry,   // an operator's retry (text: the operator's reason)
  kOperatorReplay,  // an operator's replay
  kUnusable,        // its event cannot be delivered (text: why)
};
inline constexpr int kInputs = 10;

std::string_view ToString(Input input);

// An input with what it carries.
struct Step {
  Step(Input input, Millis now, std::string text = {}, Millis retry_after_ms = 0, double jitter = 0)
      : input(input), now(now), text(std::move(text)), retry_after_ms(retry_after_ms), jitter(jitter) {}

  Input input;
  Millis now;
  std::string text;       // reference, reason, or why (see Input)
  Millis retry_after_ms;  // kRetry: the least delay the adapter asks for
  double jitter;          // in [0, 1): the backoff's random draw
};

// What a step did: `changed` false for an input accepted without a change
// (a repeated ACCEPTED, a RETRY of a delivery already going back).
struct Transition {
  bool changed = false;
  store::DeliveryRecord record;
};

// The record as the broker knows it without reading the store (a queue
// item is PENDING, an outstanding hand-over DELIVERED, each with its
// attempts): where a step starts; the store's compare-and-set checks it.
store::DeliveryRecord KnownRecord(Sequence seq, std::string agency, std::string uscc, store::DeliveryState state,
                                  std::uint32_t attempts);

// The record after `step`, or kFailedPrecondition naming the state and the
// input when the machine refuses it.
Result<Transition> Apply(store::DeliveryRecord record, const Step& step, const config::RetryPolicy& policy);

}  // namespace yilian::delivery
