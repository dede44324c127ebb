// The broker's clients without a socket of their own.
//
// Events published over HTTP (http/publish_queue.h) enter the turn as
// messages of a client-less publisher session, so they take the one publish
// path (Publishing::HandlePublish) with its validation, routing,
// idempotency and confirm-after-commit; their acks are taken out of the
// outbox when it is flushed and given to the waiting HTTP requests.
//
// An HTTP event's routing id: "\0H", the request's number (8 bytes) and the
// event's place in it (4 bytes). ZeroMQ's own routing ids are 5 bytes and
// a client may not choose one starting with a zero byte, so none collides.
//
// The webhook (webhook.h) is a WATCHER session with the routing id "\0W":
// Tracking sends it case updates like any watcher; they go to the sender
// instead of the socket, and what the receiver took comes back as
// UpdateAcks in a later turn.
#include <sys/eventfd.h>
#include <unistd.h>

#include <cstring>

#include "common/client_text.h"
#include "server/broker_impl.h"

namespace yilian::server {
namespace {

constexpr char kHttpPrefix[2] = {'\0', 'H'};
const std::string kWebhookId("\0W", 2);
constexpr std::size_t kHttpIdSize = sizeof kHttpPrefix + 8 + 4;

std::string HttpRoutingId(std::uint64_t request, std::uint32_t index) {
  std::string id(kHttpPrefix, sizeof kHttpPrefix);
  id.append(reinterpret_cast<const char*>(&request), sizeof request);
  id.append(reinterpret_cast<const char*>(&index), sizeof index);
  return id;
}

void ParseHttpRoutingId(const std::string& id, std::uint64_t* request, std::uint32_t* index) {
  std::memcpy(request, id.data() + sizeof kHttpPrefix, sizeof *request);
  std::memcpy(index, id.data() + sizeof kHttpPrefix + sizeof *request, sizeof *index);
}

}  // namespace

bool BrokerImpl::IsHttpRoutingId(const std::string& routing_id) {
  return routing_id.size() == kHttpIdSize && routing_id.compare(0, sizeof kHttpPrefix, kHttpPrefix, sizeof kHttpPrefix) == 0;
}

void BrokerImpl::TakeHttpPublishes() {
  if (http_publishes_.Empty()) return;
  // A request is never split between turns: its events commit together.
  const std::size_t room = config_.max_batch > batch_.size() ? config_.max_batch - batch_.size() : 1;
  for (auto& [request, promise] : http_publishes_.Take(room)) {
    const std::uint64_t number = ++http_request_counter_;
    HttpPublishInFlight& waiting = http_inflight_[number];
    waiting.promise = std::move(promise);
    waiting.identity = std::move(request.identity);
    waiting.acks.resize(request.envelopes.size());
    waiting.answered.assign(request.envelopes.size(), false);
    waiting.left = request.envelopes.size();
    for (std::uint32_t i = 0; i < request.envelopes.size(); ++i) {
      Incoming in;
      in.routing_id = HttpRoutingId(number, i);
      in.body = zmq::message_t(request.envelopes[i].data(), request.envelopes[i].size());
      batch_.push_back(std::move(in));
    }
    if (waiting.left == 0) {
      waiting.promise.set_value(http::PublishOutcome{Status::Ok(), {}});
      http_inflight_.erase(number);
    }
  }
}

void BrokerImpl::HandleHttpPublish(Incoming& in) {
  if (in.env == nullptr || !in.env->has_publish()) {
    // The HTTP side encoded it from JSON that parsed: only text that is not
    // valid UTF-8 can fail here.
    v1::Envelope reply;
    auto* ack = reply.mutable_publish_ack();
    ack->set_status(v1::REFUSED);
    ack->set_error(v1::INVALID_EVENT);
    ack->set_message("the event does not decode as yilian.v1.EnterpriseEvent (invalid UTF-8 text)");
    auto* e = ack->add_errors();
    e->set_code("UNDECODABLE");
    e->set_message(ack->message());
    outbox_.Reply(in.routing_id, reply);
    return;
  }
  // Authenticated by the HTTP server as a publisher; bounded there by the
  // batch limit and the per-client rate, so no per-turn count here.
  http_publisher_.role = v1::PUBLISHER;
  http_publisher_.name = "HTTP";
  http_publisher_.routing_id = in.routing_id;
  http_publisher_.publishes_this_turn = 0;
  publishing_->HandlePublish(http_publisher_, in.env->publish(), in);
}

bool BrokerImpl::AnswerHttp(const Outbox::Message& out) {
  if (!IsHttpRoutingId(out.routing_id)) return false;
  std::uint64_t number = 0;
  std::uint32_t index = 0;
  ParseHttpRoutingId(out.routing_id, &number, &index);
  auto it = http_inflight_.find(number);
  if (it == http_inflight_.end() || index >= it->second.acks.size() || it->second.answered[index]) return true;
  HttpPublishInFlight& waiting = it->second;
  v1::Envelope env;
  v1::PublishAck& ack = waiting.acks[index];
  if (env.ParseFromString(out.bytes) && env.has_publish_ack()) {
    ack = env.publish_ack();
  } else {
    ack.set_status(v1::REFUSED);
    ack.set_error(env.has_error() ? env.error().code() : v1::BAD_REQUEST);
    ack.set_message(env.has_error() ? env.error().message() : "the broker could not answer this event");
  }
  waiting.answered[index] = true;
  if (--waiting.left == 0) {
    waiting.promise.set_value(http::PublishOutcome{Status::Ok(), std::move(waiting.acks)});
    http_inflight_.erase(it);
  }
  return true;
}

void BrokerImpl::FinishHttpPublishes() {
  // Every event of a turn is answered in that turn (at once, after the
  // commit, or as refused after a rollback). One left over is a defect;
  // its request is answered rather than left waiting.
  for (auto& [number, waiting] : http_inflight_) {
    log_->error("HTTP publish request {} from '{}': {} event(s) not answered in their turn", number,
                ClientText(waiting.identity, 64), waiting.left);
    for (std::size_t i = 0; i < waiting.acks.size(); ++i) {
      if (waiting.answered[i]) continue;
      waiting.acks[i].set_status(v1::REFUSED);
      waiting.acks[i].set_error(v1::STORE_UNAVAILABLE);
      waiting.acks[i].set_message("not answered in its turn; send again");
    }
    waiting.promise.set_value(http::PublishOutcome{Status::Ok(), std::move(waiting.acks)});
  }
  http_inflight_.clear();
}

bool BrokerImpl::IsWebhookRoutingId(const std::string& routing_id) { return routing_id == kWebhookId; }

Status BrokerImpl::StartWebhook() {
  if (config_.webhook_url.empty()) return Status::Ok();
  auto secret = ReadWebhookSecret(config_.webhook_secret_file);
  if (!secret.ok()) return secret.status();
  webhook_wake_fd_ = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  WebhookOptions options;
  options.url = config_.webhook_url;
  options.secret = std::move(secret).value();
  options.ca_file = config_.webhook_ca_file;
  options.timeout_ms = config_.webhook_timeout_ms;
  options.initial_backoff_ms = config_.webhook_initial_backoff_ms;
  options.max_backoff_ms = config_.webhook_max_backoff_ms;
  webhook_ = std::make_unique<WebhookSender>(std::move(options), webhook_wake_fd_, log_);
  return webhook_->Start();
}

void BrokerImpl::AddWebhookSession(Millis now) {
  if (!webhook_) return;
  Session& s = sessions_[kWebhookId];
  s.routing_id = kWebhookId;
  s.session_id = "webhook";
  s.name = "webhook";
  s.role = v1::WATCHER;
  s.credit = config_.webhook_max_in_flight;
  s.last_recv = now;
  s.last_send = now;
}

void BrokerImpl::TakeWebhookAcks(Millis now) {
  if (!webhook_) return;
  std::uint64_t drained;
  (void)!read(webhook_wake_fd_, &drained, sizeof drained);
  auto it = sessions_.find(kWebhookId);
  if (it == sessions_.end()) return;
  it->second.last_recv = now;  // never swept for silence
  it->second.last_send = now;  // nor sent heartbeats
  for (std::uint64_t id : webhook_->TakeAcknowledged()) {
    v1::UpdateAck ack;
    ack.set_update_id(id);
    tracking_->HandleUpdateAck(it->second, ack);
  }
}

bool BrokerImpl::ToWebhook(const Outbox::Message& out) {
  if (!IsWebhookRoutingId(out.routing_id)) return false;
  v1::Envelope env;
  if (webhook_ && env.ParseFromString(out.bytes) && env.has_case_update()) webhook_->Send(env.case_update());
  return true;
}

}  // namespace yilian::server
