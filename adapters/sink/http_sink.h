// HttpSink: an agency's HTTP interface. The contract (docs/plugins.md):
//   POST <url>/records          body: AgencySubmission as JSON,
//                               header Idempotency-Key: <event id>
//   GET  <url>/records/<event>  the agency's current answer
// Every answer is an AgencyAnswer as JSON: PROCESSED or REJECTED
// (synchronous), PENDING (poll later), RETRY. The agency keeps one record
// per idempotency key, so a redelivered event is answered with what it
// already has. 429/5xx and network errors become Retry, other 4xx Rejected.
//
// Threads: one at a time (see Sink).
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "sink/sink.h"

namespace httplib {
class Client;
}

namespace yilian::sink {

struct HttpSinkOptions {
  std::string url;  // http(s)://host:port/base
  int timeout_ms = 5000;
  std::uint32_t retry_after_ms = 5000;
};

class HttpSink final : public Sink {
 public:
  static Result<std::unique_ptr<HttpSink>> Open(const HttpSinkOptions& options, const plugin::Host* host);
  ~HttpSink() override;

  plugin::Answer Submit(const agency::v1::AgencySubmission& submission) override;
  plugin::Answer Check(const std::string& event_id) override;

 private:
  HttpSink(HttpSinkOptions options, std::string base_path, std::unique_ptr<httplib::Client> client,
           const plugin::Host* host);
  // Maps one HTTP exchange to an answer; `what` names it in logs.
  template <typename Response>
  plugin::Answer Interpret(const std::string& event_id, const std::string& what, const Response& res);

  HttpSinkOptions options_;
  std::string base_path_;
  std::unique_ptr<httplib::Client> client_;
  const plugin::Host* host_;
};

// Percent-encodes everything but unreserved characters (RFC 3986).
std::string EncodePathSegment(const std::string& text);

}  // namespace yilian::sink
