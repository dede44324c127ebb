// Outbox: every message the broker sends in a turn, in order, until the
// loop sends them when the turn ends (after its commit). Acks to a session
// that takes them batched (Hello.batch_acks) are folded into one Acks
// message per session. An answer that depends on the turn's writes goes
// through ReplyAfterCommit: it leaves only after the commit, and a rollback
// turns it into a STORE_UNAVAILABLE refusal, so a client is never told of a
// write that did not happen (docs/protocol.md section 5).
//
// Loop thread only.
#pragma once

#include <deque>
#include <functional>
#include <utility>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "common/status.h"
#include "server/tables.h"
#include "server/turn_context.h"
#include "yilian/v1/protocol.pb.h"

namespace yilian::server {

class Outbox {
 public:
  struct Message {
    std::string routing_id;
    std::string bytes;
    InflightKey delivery = 0;  // non-zero for a Deliver
  };

  Outbox(const SessionTable& sessions, TurnContext& turn) : sessions_(sessions), turn_(turn) {}

  void Reply(const std::string& routing_id, const v1::Envelope& env);
  void ReplyBytes(const std::string& routing_id, std::string bytes);
  void SendError(const std::string& routing_id, v1::ErrorCode code, const std::string& message);
  // A Deliver (encoded) of the hand-over `delivery`.
  void Deliver(const std::string& routing_id, std::string bytes, InflightKey delivery);

  // The one way an answer that depends on this turn's writes leaves: after
  // the commit, with `effects` run first; or, if the turn rolls back, as
  // the same ack refused with STORE_UNAVAILABLE, so that the client sends
  // again. `reply` holds a PublishAck or a ResultAck.
  void ReplyAfterCommit(const std::string& routing_id, const v1::Envelope& reply) {
    ReplyAfterCommit(routing_id, reply, [] {});
  }
  template <typename Effects>
  void ReplyAfterCommit(const std::string& routing_id, const v1::Envelope& reply, Effects effects) {
    // Encoded once, for the commit (the common case); a rollback decodes it
    // again to turn it into the refusal. The staged reply lives in this
    // turn's list, so that both closures hold only pointers.
    Staged* staged = Stage(routing_id, reply);
    turn_.OnAbort([this, staged] { Refuse(*staged); });
    turn_.OnCommit([this, staged, effects = std::move(effects)] {
      effects();
      ReplyBytes(staged->routing_id, std::move(staged->bytes));
    });
  }
  // Fails the turn with `status` (unless it is OK: the turn failed before)
  // and sends `reply`'s ack as the STORE_UNAVAILABLE refusal at once.
  void RefuseForStore(const std::string& routing_id, v1::Envelope reply, const Status& status);

  // What is to be sent, batched acks folded in; the outbox is empty after.
  std::vector<Message> Take();

  // Forgets the previous turn's staged replies (their effects have run).
  void BeginTurn() { staged_.clear(); }

 private:
  struct Staged {
    std::string routing_id;
    std::string bytes;
  };
  Staged* Stage(const std::string& routing_id, const v1::Envelope& reply);
  void Refuse(const Staged& staged);

  const SessionTable& sessions_;
  TurnContext& turn_;
  std::vector<Message> messages_;
  // The encoded body of each batching session's Acks, by routing id.
  std::unordered_map<std::string, std::string> pending_acks_;
  // This turn's ReplyAfterCommit answers (a deque: their addresses stay).
  std::deque<Staged> staged_;
};

}  // namespace yilian::server
