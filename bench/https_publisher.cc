#include "https_publisher.h"

#include <httplib.h>

#include <chrono>
#include <cstdio>
#include <utility>

#include "validation/json.h"
#include "yilian/v1/protocol.pb.h"

namespace yilian::bench {

HttpsPublisher::HttpsPublisher(HttpsPublisherOptions options, const std::vector<std::string>& json_lines)
    : options_(std::move(options)), json_lines_(json_lines) {
  open_.reserve(static_cast<std::size_t>(options_.batch));
  for (int i = 0; i < options_.connections; ++i) senders_.emplace_back([this] { SendLoop(); });
}

HttpsPublisher::~HttpsPublisher() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  to_send_cv_.notify_all();
  for (auto& t : senders_) t.join();
}

Status HttpsPublisher::Send(std::size_t index) {
  if (index >= json_lines_.size()) return Status::InvalidArgument("no JSON line for event " + std::to_string(index));
  open_.push_back(index);
  if (open_.size() >= static_cast<std::size_t>(options_.batch)) Dispatch();
  return Status::Ok();
}

void HttpsPublisher::Dispatch() {
  Batch b;
  b.indices = std::move(open_);
  open_.clear();
  open_.reserve(static_cast<std::size_t>(options_.batch));
  {
    std::lock_guard<std::mutex> lock(mu_);
    to_send_.push_back(std::move(b));
    ++in_flight_;
  }
  to_send_cv_.notify_one();
}

Status HttpsPublisher::Poll(int timeout_ms, const ConfirmFn& on_confirm) {
  std::deque<Batch> answered;
  {
    std::unique_lock<std::mutex> lock(mu_);
    if (!open_.empty() && in_flight_ == 0) {
      lock.unlock();
      Dispatch();
      lock.lock();
    }
    answered_cv_.wait_for(lock, std::chrono::milliseconds(timeout_ms), [&] { return !answered_.empty(); });
    answered.swap(answered_);
  }
  for (const Batch& b : answered) {
    if (!b.status.ok()) return b.status;
    request_ms_.push_back(b.round_trip_ms);
    for (std::size_t i = 0; i < b.indices.size(); ++i) on_confirm(b.indices[i], b.accepted[i]);
  }
  return Status::Ok();
}

void HttpsPublisher::SendLoop() {
  httplib::SSLClient client(options_.host, options_.port);
  client.enable_server_certificate_verification(true);
  client.set_ca_cert_path(options_.ca_cert_file.c_str());
  client.set_keep_alive(true);
  // The request's head and body leave as separate TLS records: without
  // TCP_NODELAY the body would wait for the broker's delayed ACK (40 ms).
  client.set_tcp_nodelay(true);
  client.set_connection_timeout(5);
  // Longer than the broker's own 30 s wait for its loop (504 TIMEOUT).
  client.set_read_timeout(60);
  client.set_write_timeout(60);
  client.set_bearer_token_auth(options_.token.c_str());
  for (;;) {
    Batch b;
    {
      std::unique_lock<std::mutex> lock(mu_);
      to_send_cv_.wait(lock, [&] { return stop_ || !to_send_.empty(); });
      if (stop_) return;
      b = std::move(to_send_.front());
      to_send_.pop_front();
    }
    Post(client, b);
    {
      std::lock_guard<std::mutex> lock(mu_);
      answered_.push_back(std::move(b));
      --in_flight_;
    }
    answered_cv_.notify_one();
  }
}

void HttpsPublisher::Post(httplib::SSLClient& client, Batch& b) {
  std::string body;
  std::size_t bytes = 0;
  for (std::size_t i : b.indices) bytes += json_lines_[i].size() + 1;
  body.reserve(bytes);
  for (std::size_t i : b.indices) body.append(json_lines_[i]).push_back('\n');

  const auto sent = std::chrono::steady_clock::now();
  auto res = client.Post("/api/v1/events", body, "application/x-ndjson");
  b.round_trip_ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - sent).count();
  if (!res) {
    b.status = Status::Unavailable("POST /api/v1/events (" + std::to_string(b.indices.size()) +
                                   " events): " + httplib::to_string(res.error()));
    return;
  }
  if (res->status != 200) {
    b.status = Status::Unavailable("POST /api/v1/events (" + std::to_string(b.indices.size()) + " events): HTTP " +
                                   std::to_string(res->status) + " " + res->body.substr(0, 2000));
    return;
  }
  v1::PublishBatchResult result;
  if (Status s = json::Parse(res->body, &result); !s.ok()) {
    b.status = Status::Internal("POST /api/v1/events: an answer that is no PublishBatchResult (" + s.message() +
                                "): " + res->body.substr(0, 2000));
    return;
  }
  if (static_cast<std::size_t>(result.results_size()) != b.indices.size()) {
    b.status = Status::Internal("POST /api/v1/events: " + std::to_string(result.results_size()) + " results for " +
                                std::to_string(b.indices.size()) + " events");
    return;
  }
  // Results come in line order; correlation_id is the 1-based line.
  b.accepted.assign(b.indices.size(), false);
  for (const v1::PublishAck& ack : result.results()) {
    const std::size_t line = static_cast<std::size_t>(ack.correlation_id());
    if (line < 1 || line > b.indices.size()) continue;
    b.accepted[line - 1] = ack.status() != v1::REFUSED;
    if (ack.status() == v1::REFUSED && refusals_shown_.fetch_add(1) < 5) {
      std::fprintf(stderr, "refused %s: %s %s\n", ack.event_id().c_str(), v1::ErrorCode_Name(ack.error()).c_str(),
                   ack.message().c_str());
    }
  }
}

}  // namespace yilian::bench
