#include "sim/http_front.h"

#include <httplib.h>

#include <cctype>

namespace yilian::sim {
namespace {

void Answer(const AgencySim::Reply& reply, httplib::Response& res) {
  res.status = reply.http_status;
  if (reply.retry_after_s > 0) res.set_header("Retry-After", std::to_string(reply.retry_after_s));
  res.set_content(reply.body, "application/json; charset=utf-8");
}

}  // namespace

HttpFront::HttpFront(AgencySim* sim, std::string base_path) : sim_(sim), base_(std::move(base_path)) {
  while (!base_.empty() && base_.back() == '/') base_.pop_back();
}

HttpFront::~HttpFront() { Stop(); }

Result<int> HttpFront::Start(const std::string& host, int port) {
  for (char c : base_)
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '/' || c == '_' || c == '-'))
      return Status::InvalidArgument("HTTP base path may hold only letters, digits, '/', '_' and '-'");
  server_ = std::make_unique<httplib::Server>();
  server_->Post(base_ + "/records", [this](const httplib::Request& req, httplib::Response& res) {
    Answer(sim_->Submit(req.body, req.get_header_value("Idempotency-Key")), res);
  });
  server_->Get(base_ + "/records/([^/]+)", [this](const httplib::Request& req, httplib::Response& res) {
    Answer(sim_->Poll(req.matches[1].str()), res);
  });
  int bound = port;
  if (port == 0) {
    bound = server_->bind_to_any_port(host);
    if (bound <= 0) return Status::Unavailable("cannot bind " + host);
  } else if (!server_->bind_to_port(host, port)) {
    return Status::Unavailable("cannot bind " + host + ":" + std::to_string(port));
  }
  // The socket already listens: requests queue until the loop accepts them.
  thread_ = std::thread([this] { server_->listen_after_bind(); });
  return bound;
}

void HttpFront::Stop() {
  if (server_) server_->stop();
  if (thread_.joinable()) thread_.join();
}

}  // namespace yilian::sim
