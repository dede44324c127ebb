// TurnContext: what one turn of the broker loop carries between the parts
// of the server. A turn receives a batch of messages, handles them in one
// store transaction, commits it, then runs the effects staged for the
// outcome: after a commit, the effects that publish the new state (queues,
// in-flight tables, replies); after a rollback, those that undo what was
// staged in memory and refuse what cannot be answered. Nothing a client
// sees depends on a write before that write is committed.
//
// Loop thread only.
#pragma once

#include <spdlog/logger.h>

#include <cassert>
#include <functional>
#include <memory>
#include <thread>
#include <utility>
#include <vector>

#include "common/clock.h"
#include "common/log_throttle.h"
#include "common/status.h"

namespace yilian::server {

class TurnContext {
 public:
  explicit TurnContext(std::shared_ptr<spdlog::logger> log) : log_(std::move(log)) {}

  // A new turn at `now`: nothing staged, not failed, no transaction yet.
  // The thread of the first turn is the loop thread from then on.
  void Begin(Millis now) {
    if (loop_thread_ == std::thread::id()) loop_thread_ = std::this_thread::get_id();
    AssertInLoopThread();
    now_ = now;
    on_commit_.clear();
    on_abort_.clear();
    failed_ = false;
    error_ = Status::Ok();
  }

  Millis now() const { return now_; }

  // The parts of the server call this where they start work (debug builds):
  // everything they touch is the loop's, unguarded (muduo's
  // assertInLoopThread).
  void AssertInLoopThread() const {
    assert(loop_thread_ == std::thread::id() || loop_thread_ == std::this_thread::get_id());
  }

  // The store transaction is open (Begin succeeded and it has not ended).
  bool in_transaction() const { return in_transaction_; }
  void set_in_transaction(bool open) { in_transaction_ = open; }

  // A store error: everything staged is rolled back, and the turn stages
  // nothing more. The first error is kept and logged (throttled).
  void Fail(const Status& status) {
    if (failed_) return;
    // While the store stays down every turn fails the same way: one line
    // every 10 s, with the count of those not logged.
    if (auto unlogged = failures_log_.Admit("store"))
      log_->error("store failure, rolling back this turn: {}{}", status.ToString(), LogThrottle::Suppressed(*unlogged));
    failed_ = true;
    error_ = status;
  }
  bool failed() const { return failed_; }
  const Status& error() const { return error_; }

  // Effects run in staging order once the turn has committed, or has
  // rolled back.
  void OnCommit(std::function<void()> fn) { on_commit_.push_back(std::move(fn)); }
  void OnAbort(std::function<void()> fn) { on_abort_.push_back(std::move(fn)); }
  // Runs the effects of the outcome (failed(): the rollback's).
  void RunEffects() {
    for (auto& fn : failed_ ? on_abort_ : on_commit_) fn();
  }

 private:
  std::shared_ptr<spdlog::logger> log_;
  std::thread::id loop_thread_;
  Millis now_ = 0;
  bool in_transaction_ = false;
  bool failed_ = false;
  Status error_;
  std::vector<std::function<void()>> on_commit_;
  std::vector<std::function<void()>> on_abort_;
  LogThrottle failures_log_{SystemClock::Default(), 10000};
};

}  // namespace yilian::server
