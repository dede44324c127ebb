// HttpsPublisher: a Publisher (harness/system.h) that posts the workload to
// yilian-broker's POST /api/v1/events over HTTPS (docs/http-api.md, 4.1),
// as a platform without a ZeroMQ client would: events as proto3 JSON, in
// application/x-ndjson batches of `batch` events, on `connections` HTTP/1.1
// keep-alive connections (cpp-httplib's SSLClient, one per sender thread),
// the server's certificate verified against `ca_cert_file`, a bearer token
// of role publisher.
//
// Batching: Send adds the event to the open batch, which leaves when it
// holds `batch` events, or earlier, with what it holds, when no request is
// queued or in flight (then nothing else would make progress: the end of
// the workload, or a runner held back by its windows). Each connection
// carries one request at a time; batches wait in order for a free one.
//
// Every event of a batch is confirmed when the batch's answer arrives,
// ACCEPTED/DUPLICATE as accepted and REFUSED as refused. An answer other
// than 200 (or a connection error) fails the run through Poll, with the
// status and the body: a benchmark reports the broker's refusal, it does
// not retry it.
//
// Ownership: the JSON lines (one per workload index) must outlive the
// publisher. Threads: Send, Poll and RequestLatenciesMs from the
// publisher thread only (harness/system.h); the sender threads are the
// publisher's own, stopped and joined by its destructor.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "harness/system.h"

namespace httplib {
class SSLClient;
}  // namespace httplib

namespace yilian::bench {

struct HttpsPublisherOptions {
  std::string host = "127.0.0.1";
  int port = 0;
  std::string ca_cert_file;  // PEM: the broker's (self-signed) certificate
  std::string token;         // bearer token of role publisher
  int batch = 100;           // events per request, at most http.max_publish_batch
  int connections = 4;       // sender threads, one keep-alive connection each
};

class HttpsPublisher : public Publisher {
 public:
  HttpsPublisher(HttpsPublisherOptions options, const std::vector<std::string>& json_lines);
  ~HttpsPublisher() override;
  HttpsPublisher(const HttpsPublisher&) = delete;
  HttpsPublisher& operator=(const HttpsPublisher&) = delete;

  Status Send(std::size_t index) override;
  Status Poll(int timeout_ms, const ConfirmFn& on_confirm) override;
  std::vector<double> RequestLatenciesMs() const override { return request_ms_; }

 private:
  // One request's events (workload indices, in line order) and, once
  // answered, each event's outcome.
  struct Batch {
    std::vector<std::size_t> indices;
    std::vector<bool> accepted;
    Status status;  // not OK: the request failed (status and body in the message)
    double round_trip_ms = 0;
  };

  void Dispatch();  // the open batch joins the queue
  void SendLoop();  // a sender thread
  void Post(httplib::SSLClient& client, Batch& batch);

  const HttpsPublisherOptions options_;
  const std::vector<std::string>& json_lines_;
  std::vector<std::size_t> open_;   // publisher thread only
  std::vector<double> request_ms_;  // publisher thread only
  std::atomic<int> refusals_shown_{0};  // printed to stderr, at most 5, by any sender

  std::mutex mu_;
  std::condition_variable to_send_cv_, answered_cv_;
  std::deque<Batch> to_send_, answered_;
  int in_flight_ = 0;  // queued or being posted, not yet answered
  bool stop_ = false;
  std::vector<std::thread> senders_;
};

}  // namespace yilian::bench
