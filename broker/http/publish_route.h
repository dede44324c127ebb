// POST /api/v1/events: the request body (one EnterpriseEvent as JSON, or a
// batch as JSON lines) turned into Publishes for the broker loop
// (PublishQueue), and the loop's PublishAcks turned into the HTTP answer.
// docs/http-api.md section 4.1.
//
// PublishRateLimiter bounds the events per second one identity may
// publish over HTTP (a token bucket holding one second's worth).
//
// Concurrency: PublishOverHttp runs on the HTTP worker threads; the rate
// limiter is shared by them (it locks).
#pragma once

#include <chrono>
#include <cstdint>
#include <mutex>
#include <string>
#include <unordered_map>

#include "http/publish_queue.h"

namespace yilian::http {

struct PublishLimits {
  std::uint32_t max_batch = 1000;            // events in one request
  std::uint32_t rate_per_client = 5000;      // events per second per identity; 0: unlimited
  std::chrono::milliseconds wait{30000};     // for the loop's answer, then 504
};

// What to answer: the status, a JSON body, and Retry-After (0: none).
struct HttpAnswer {
  int status = 200;
  std::string body;
  int retry_after_s = 0;
};

class PublishRateLimiter {
 public:
  explicit PublishRateLimiter(std::uint32_t per_second) : rate_(per_second) {}
  // Takes `events` from `identity`'s bucket; 0 when allowed, else the whole
  // seconds to wait before that many are available (at least 1).
  int Take(const std::string& identity, std::size_t events);

 private:
  struct Bucket {
    double tokens = 0;
    std::chrono::steady_clock::time_point at;
  };
  const std::uint32_t rate_;
  std::mutex mu_;
  std::unordered_map<std::string, Bucket> buckets_;  // one per identity of the tokens file
};

// Parses `body` by `content_type`, hands the events to `queue` and waits
// for their acks. `identity`: the publisher, already authorised.
HttpAnswer PublishOverHttp(const std::string& content_type, const std::string& body, const std::string& identity,
                           const PublishLimits& limits, PublishRateLimiter* rate, PublishQueue* queue);

}  // namespace yilian::http
