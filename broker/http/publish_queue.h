// PublishQueue: events published over HTTP (POST /api/v1/events) travel
// from the HTTP worker threads to the broker loop, which handles them
// exactly like ZeroMQ Publishes (validation, routing, idempotency, one
// transaction per turn) and answers through a future once the turn's fate
// is known: after the commit, or as STORE_UNAVAILABLE refusals after a
// rollback. A request's events are all taken into one turn, so a batch is
// stored whole or not at all.
//
// The loop sleeps in zmq::poll: Submit wakes it through an eventfd that the
// loop polls beside its socket (wake_fd()).
//
// Concurrency: Submit from any thread; Take, Clear and Fail from the broker
// loop only.
#pragma once

#include <sys/eventfd.h>
#include <unistd.h>

#include <cstdint>
#include <deque>
#include <future>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "common/status.h"
#include "yilian/v1/protocol.pb.h"

namespace yilian::http {

struct PublishRequest {
  std::string identity;  // who published (token or certificate identity), for logs
  // Each event as a serialized v1::Envelope holding a Publish whose
  // correlation_id is the event's place in the request (1-based for a
  // batch, 0 for a single event).
  std::vector<std::string> envelopes;
};

struct PublishOutcome {
  // Not OK: the broker did not take the request at all (a standby, or
  // stopping); `acks` is then empty.
  Status status;
  std::vector<v1::PublishAck> acks;  // in request order
};

class PublishQueue {
 public:
  PublishQueue() : wake_fd_(eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) {}
  ~PublishQueue() {
    if (wake_fd_ >= 0) close(wake_fd_);
  }
  PublishQueue(const PublishQueue&) = delete;
  PublishQueue& operator=(const PublishQueue&) = delete;

  std::future<PublishOutcome> Submit(PublishRequest request) {
    std::promise<PublishOutcome> promise;
    auto future = promise.get_future();
    {
      std::lock_guard<std::mutex> lock(mu_);
      pending_.emplace_back(std::move(request), std::move(promise));
    }
    if (wake_fd_ >= 0) {
      std::uint64_t one = 1;
      (void)!write(wake_fd_, &one, sizeof one);
    }
    return future;
  }

  // Readable while requests wait; Take clears it.
  int wake_fd() const { return wake_fd_; }

  bool Empty() {
    std::lock_guard<std::mutex> lock(mu_);
    return pending_.empty();
  }

  // Whole requests, oldest first: at least one when any waits, then more
  // while their events stay within `max_events` in all.
  std::vector<std::pair<PublishRequest, std::promise<PublishOutcome>>> Take(std::size_t max_events) {
    std::uint64_t drained;
    if (wake_fd_ >= 0) (void)!read(wake_fd_, &drained, sizeof drained);
    std::vector<std::pair<PublishRequest, std::promise<PublishOutcome>>> out;
    std::lock_guard<std::mutex> lock(mu_);
    std::size_t events = 0;
    while (!pending_.empty()) {
      const std::size_t n = pending_.front().first.envelopes.size();
      if (!out.empty() && events + n > max_events) break;
      events += n;
      out.push_back(std::move(pending_.front()));
      pending_.pop_front();
    }
    if (!pending_.empty() && wake_fd_ >= 0) {
      std::uint64_t one = 1;
      (void)!write(wake_fd_, &one, sizeof one);
    }
    return out;
  }

  // Answers every waiting request with `status` (a standby, or stopping).
  void FailAll(const Status& status) {
    std::deque<std::pair<PublishRequest, std::promise<PublishOutcome>>> failed;
    {
      std::lock_guard<std::mutex> lock(mu_);
      failed.swap(pending_);
    }
    for (auto& [request, promise] : failed) promise.set_value(PublishOutcome{status, {}});
  }

 private:
  const int wake_fd_;
  std::mutex mu_;
  std::deque<std::pair<PublishRequest, std::promise<PublishOutcome>>> pending_;
};

}  // namespace yilian::http
