// ActionQueue: operator actions (retry a delivery, replay an agency, resolve
// a case) travel from HTTP worker threads to the broker loop, which performs
// them inside its store transaction and answers through a future once the
// turn has committed (or failed).
// Concurrency: Submit from any thread; Drain from the broker loop only.
#pragma once

#include <future>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "common/clock.h"
#include "common/status.h"
#include "yilian/v1/tracking.pb.h"

namespace yilian::http {

struct ActionRequest {
  enum class Kind { kRetry, kReplay, kResolve };
  Kind kind = Kind::kRetry;
  std::string event_id;  // retry, resolve
  std::string agency;    // retry, replay
  Millis since = 0;      // replay
  std::string reason;
  std::string actor;     // who asked (token identity or "operator")
};

struct ActionOutcome {
  Status status;
  v1::ActionResult result;
};

class ActionQueue {
 public:
  std::future<ActionOutcome> Submit(ActionRequest request) {
    std::promise<ActionOutcome> promise;
    auto future = promise.get_future();
    std::lock_guard<std::mutex> lock(mu_);
    pending_.emplace_back(std::move(request), std::move(promise));
    return future;
  }

  bool Empty() {
    std::lock_guard<std::mutex> lock(mu_);
    return pending_.empty();
  }

  std::vector<std::pair<ActionRequest, std::promise<ActionOutcome>>> Drain() {
    std::lock_guard<std::mutex> lock(mu_);
    return std::exchange(pending_, {});
  }

 private:
  std::mutex mu_;
  std::vector<std::pair<ActionRequest, std::promise<ActionOutcome>>> pending_;
};

}  // namespace yilian::http
