// OperatorActions: what an operator asks through the HTTP API (retry a
// delivery, replay an agency since a time, resolve a case by hand),
// performed in the broker loop's turn. Each is a transition of the delivery
// state machine or of the case, with its own audit record naming the
// operator, and is answered once the turn's fate is known.
// docs/http-api.md section 4 (Operator actions).
//
// Ownership: everything given to the constructor must outlive this.
// Concurrency: loop thread only (the HTTP threads only queue requests).
#pragma once

#include <memory>

#include "common/clock.h"
#include "config/config.h"
#include "http/actions.h"
#include "routing/routing.h"
#include "server/audit_trail.h"
#include "server/deliveries.h"
#include "server/tables.h"
#include "server/tracking.h"
#include "server/turn_context.h"
#include "store/store.h"

namespace spdlog {
class logger;
}

namespace yilian::server {

class OperatorActions {
 public:
  struct Parts {
    const config::BrokerConfig& config;
    store::Store* store;
    TurnContext& turn;
    AuditTrail& audit;
    Tracking& tracking;
    Deliveries& deliveries;
    Agencies& agencies;
    const routing::Router& router;
    std::shared_ptr<spdlog::logger> log;
  };
  explicit OperatorActions(Parts parts);

  // Performs every request queued since the last turn.
  void Perform(http::ActionQueue& queue, Millis now);

 private:
  http::ActionOutcome Retry(const http::ActionRequest& a, Millis now);
  http::ActionOutcome Replay(const http::ActionRequest& a, Millis now);
  http::ActionOutcome Resolve(const http::ActionRequest& a, Millis now);

  const config::BrokerConfig& config_;
  store::Store* store_;
  TurnContext& turn_;
  AuditTrail* audit_;
  Tracking* tracking_;
  Deliveries* deliveries_;
  Agencies& agencies_;
  const routing::Router& router_;
  std::shared_ptr<spdlog::logger> log_;
};

}  // namespace yilian::server
