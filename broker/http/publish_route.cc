#include "http/publish_route.h"

#include <algorithm>
#include <cmath>
#include <future>
#include <string_view>
#include <vector>

#include "common/client_text.h"
#include "http/json.h"
#include "validation/json.h"
#include "validation/validation.h"
#include "yilian/v1/event.pb.h"

namespace yilian::http {
namespace {

// The media type without parameters, lower case: "Application/JSON;
// charset=utf-8" -> "application/json".
std::string MediaType(const std::string& content_type) {
  std::string t = content_type.substr(0, content_type.find(';'));
  t.erase(0, t.find_first_not_of(" \t"));
  t.erase(t.find_last_not_of(" \t") + 1);
  for (char& c : t) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return t;
}

bool Blank(std::string_view line) {
  return line.find_first_not_of(" \t\r") == std::string_view::npos;
}

HttpAnswer Error(int status, const std::string& code, const std::string& message, int retry_after_s = 0) {
  return HttpAnswer{status, ApiErrorJson(code, message), retry_after_s};
}

// The HTTP status of one event's outcome (a single event's answer).
int StatusOf(const v1::PublishAck& ack) {
  if (ack.status() == v1::ACCEPTED || ack.status() == v1::DUPLICATE) return 200;
  switch (ack.error()) {
    case v1::INVALID_EVENT:
    case v1::UNROUTABLE: return 422;
    case v1::CONFLICT:
    case v1::STALE_REVISION: return 409;
    case v1::OVER_LIMIT: return 429;
    case v1::STORE_UNAVAILABLE: return 503;
    default: return 400;
  }
}

// Parses one event's JSON; on failure, says why (masked: the parser's
// text may quote an ID number; escaped: it is client text).
bool ParseEvent(std::string_view text, v1::EnterpriseEvent* event, std::string* why) {
  Status status = json::Parse(text, event);
  if (status.ok()) return true;
  *why = ClientText(status.message(), 512);
  return false;
}

}  // namespace

int PublishRateLimiter::Take(const std::string& identity, std::size_t events) {
  if (rate_ == 0) return 0;
  const auto now = std::chrono::steady_clock::now();
  std::lock_guard<std::mutex> lock(mu_);
  auto [it, added] = buckets_.try_emplace(identity);
  Bucket& b = it->second;
  if (added) {
    b.tokens = rate_;
  } else {
    const double elapsed = std::chrono::duration<double>(now - b.at).count();
    b.tokens = std::min<double>(rate_, b.tokens + elapsed * rate_);
  }
  b.at = now;
  // A batch larger than one second's worth needs a full bucket.
  const double cost = std::min<double>(static_cast<double>(events), rate_);
  if (b.tokens >= cost) {
    b.tokens -= cost;
    return 0;
  }
  return std::max(1, static_cast<int>(std::ceil((cost - b.tokens) / rate_)));
}

HttpAnswer PublishOverHttp(const std::string& content_type, const std::string& body, const std::string& identity,
                           const PublishLimits& limits, PublishRateLimiter* rate, PublishQueue* queue) {
  const std::string type = MediaType(content_type);
  const bool batch = type == "application/x-ndjson";
  if (!batch && type != "application/json")
    return Error(415, "UNSUPPORTED_MEDIA_TYPE",
                 "Content-Type must be application/json (one event) or application/x-ndjson (one event per line), "
                 "not '" + ClientText(type, 64) + "'");
  if (!validation::IsValidUtf8(body)) return Error(400, "INVALID_ARGUMENT", "the request body is not valid UTF-8");

  // The lines of a batch, or the one event; all parsed before anything is
  // handed to the broker, so a malformed body stores nothing.
  std::vector<std::pair<std::size_t, std::string_view>> texts;  // (line number, JSON)
  if (batch) {
    std::string_view rest = body;
    for (std::size_t line = 1; !rest.empty(); ++line) {
      const std::size_t end = rest.find('\n');
      std::string_view text = rest.substr(0, end);
      rest = end == std::string_view::npos ? std::string_view() : rest.substr(end + 1);
      if (Blank(text)) continue;
      if (texts.size() == limits.max_batch)
        return Error(413, "BATCH_TOO_LARGE",
                     "more than " + std::to_string(limits.max_batch) + " events in one request (http.max_publish_batch)");
      texts.emplace_back(line, text);
    }
    if (texts.empty()) return Error(400, "INVALID_ARGUMENT", "the batch holds no event (one JSON object per line)");
  } else {
    texts.emplace_back(0, body);
  }

  PublishRequest request;
  request.identity = identity;
  request.envelopes.reserve(texts.size());
  for (const auto& [line, text] : texts) {
    v1::Envelope env;
    v1::Publish* publish = env.mutable_publish();
    std::string why;
    if (!ParseEvent(text, publish->mutable_event(), &why)) {
      return Error(400, "INVALID_ARGUMENT",
                   (batch ? "line " + std::to_string(line) + ": " : std::string()) +
                       "not a valid yilian.v1.EnterpriseEvent JSON object: " + why);
    }
    publish->set_correlation_id(line);
    request.envelopes.push_back(env.SerializeAsString());
  }

  if (int wait_s = rate->Take(identity, texts.size()); wait_s > 0)
    return Error(429, "TOO_MANY_REQUESTS",
                 "over http.publish_rate_per_client (" + std::to_string(limits.rate_per_client) +
                     " events per second) for '" + ClientText(identity, 64) + "'; nothing was stored",
                 wait_s);

  auto future = queue->Submit(std::move(request));
  if (future.wait_for(limits.wait) != std::future_status::ready)
    return Error(504, "TIMEOUT",
                 "the broker did not confirm within " + std::to_string(limits.wait.count() / 1000) +
                     " s; the outcome is unknown: send the same events again (idempotent by event_id)",
                 1);
  PublishOutcome outcome = future.get();
  if (!outcome.status.ok()) {
    const bool standby = outcome.status.code() == StatusCode::kFailedPrecondition;
    return Error(503, standby ? "NOT_LEADER" : "UNAVAILABLE", outcome.status.message() + "; nothing was stored", 1);
  }
  for (std::size_t i = 0; i < outcome.acks.size(); ++i) outcome.acks[i].set_correlation_id(texts[i].first);

  bool store_failed = false;
  for (const auto& ack : outcome.acks) store_failed |= ack.error() == v1::STORE_UNAVAILABLE;
  if (!batch) {
    const v1::PublishAck& ack = outcome.acks.at(0);
    return HttpAnswer{StatusOf(ack), ToJson(ack), store_failed ? 1 : 0};
  }
  v1::PublishBatchResult result;
  for (auto& ack : outcome.acks) *result.add_results() = std::move(ack);
  return HttpAnswer{store_failed ? 503 : 200, ToJson(result), store_failed ? 1 : 0};
}

}  // namespace yilian::http
