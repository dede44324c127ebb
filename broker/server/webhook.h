// WebhookSender: case updates POSTed to the platform's URL (webhook.url),
// signed, retried with backoff until the receiver answers 2xx
// (docs/http-api.md, 4.2).
//
// The broker loop treats the sender as one more WATCHER session: Tracking
// hands it updates within its credit (webhook.max_in_flight) exactly as it
// sends them to a ZeroMQ watcher, and an update the receiver took is
// acknowledged in the loop's next turn (TakeAcknowledged), through the same
// UpdateAck path. So the updates are the same durable rows: one not
// acknowledged when the broker stops is sent again by the next active
// broker.
//
// Order: updates of one enterprise go to one lane (by USCC) and a lane
// sends one at a time, retrying its head until it is taken, so the
// receiver sees an enterprise's updates in update order; lanes run in
// parallel, so a receiver that refuses one enterprise's update holds back
// only that lane.
//
// Signature: headers Yilian-Webhook-Id (the update id), Yilian-Webhook-
// Timestamp (Unix seconds) and Yilian-Webhook-Signature: "v1=" + hex
// HMAC-SHA256(secret, timestamp + "." + body).
//
// Threads: Send, TakeAcknowledged, Clear and the counters from the loop;
// each lane has its own thread. Stop joins them.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "common/status.h"
#include "yilian/v1/tracking.pb.h"

namespace spdlog {
class logger;
}

namespace yilian::server {

struct WebhookOptions {
  std::string url;  // http(s)://host[:port][/path]
  std::string secret;
  std::string ca_file;  // https: CAs for the receiver; empty: the system's
  std::uint32_t timeout_ms = 5000;
  std::uint32_t initial_backoff_ms = 1000;
  std::uint32_t max_backoff_ms = 60000;
  std::uint32_t lanes = 4;
};

// "v1=" + hex HMAC-SHA256(secret, timestamp + "." + body).
std::string WebhookSignature(const std::string& secret, const std::string& timestamp, const std::string& body);

// Reads the webhook's HMAC key: a file of mode 0600 (or stricter) holding
// at least 32 bytes; a final newline is not part of the key.
Result<std::string> ReadWebhookSecret(const std::string& path);

class WebhookSender {
 public:
  // `wake_fd`: written to when an update was taken (the loop polls it).
  WebhookSender(WebhookOptions options, int wake_fd, std::shared_ptr<spdlog::logger> log);
  ~WebhookSender();
  WebhookSender(const WebhookSender&) = delete;
  WebhookSender& operator=(const WebhookSender&) = delete;

  // Checks the URL; starts the lanes.
  Status Start();
  void Stop();

  void Send(const v1::CaseUpdate& update);
  // Ids the receiver took (2xx) since the last call.
  std::vector<std::uint64_t> TakeAcknowledged();
  // Forgets every update not yet taken (the broker stepped down: the next
  // active broker sends them).
  void Clear();

  // Updates handed over and not yet taken; POSTs that failed.
  std::uint64_t in_flight() const { return in_flight_.load(); }
  std::uint64_t failures() const { return failures_.load(); }

 private:
  struct Lane {
    std::mutex mu;
    std::condition_variable cv;
    std::deque<v1::CaseUpdate> queue;
    std::uint64_t generation = 0;  // bumped by Clear: a POST in progress is not acknowledged
    std::thread thread;
  };
  void Run(Lane& lane);
  // One POST: true when the receiver answered 2xx.
  bool Post(const v1::CaseUpdate& update, std::string* why);
  void Acknowledge(std::uint64_t id);

  const WebhookOptions options_;
  const int wake_fd_;
  std::shared_ptr<spdlog::logger> log_;
  std::string origin_;  // scheme://host:port
  std::string path_;
  std::vector<std::unique_ptr<Lane>> lanes_;
  std::atomic<bool> stopping_{false};
  std::atomic<std::uint64_t> in_flight_{0};
  std::atomic<std::uint64_t> failures_{0};
  std::mutex acked_mu_;
  std::vector<std::uint64_t> acked_;
};

}  // namespace yilian::server
