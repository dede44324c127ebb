#include "client/connection.h"

#include <algorithm>
#include <thread>

#include "common/log.h"

namespace yilian::client {
namespace {
Millis Now() { return SystemClock::Default()->NowMillis(); }
}  // namespace

Connection::Connection(zmq::context_t& context, ClientOptions options)
    : context_(context), options_(std::move(options)), backoff_ms_(options_.reconnect_min_ms) {
  for (std::size_t at = 0; at <= options_.endpoint.size();) {
    std::size_t comma = options_.endpoint.find(',', at);
    if (comma == std::string::npos) comma = options_.endpoint.size();
    std::string one = options_.endpoint.substr(at, comma - at);
    while (!one.empty() && one.front() == ' ') one.erase(one.begin());
    while (!one.empty() && one.back() == ' ') one.pop_back();
    if (!one.empty()) endpoints_.push_back(one);
    at = comma + 1;
  }
  if (endpoints_.empty()) endpoints_.push_back(options_.endpoint);
}

void Connection::SwitchEndpoint(const std::string& endpoint) {
  if (!endpoint.empty()) {
    for (std::size_t i = 0; i < endpoints_.size(); ++i)
      if (endpoints_[i] == endpoint) {
        current_ = i;
        return;
      }
    // An active broker not in the list (e.g. added later): follow it too.
    endpoints_.push_back(endpoint);
    current_ = endpoints_.size() - 1;
    return;
  }
  current_ = (current_ + 1) % endpoints_.size();
}

Connection::~Connection() { Close(); }

void Connection::Open(Millis now) {
  socket_.emplace(context_, zmq::socket_type::dealer);
  socket_->set(zmq::sockopt::linger, 0);
  socket_->set(zmq::sockopt::sndhwm, 100000);
  socket_->set(zmq::sockopt::rcvhwm, 100000);
  if (!options_.server_public_key.empty()) {
    socket_->set(zmq::sockopt::curve_serverkey, options_.server_public_key);
    socket_->set(zmq::sockopt::curve_publickey, options_.public_key);
    socket_->set(zmq::sockopt::curve_secretkey, options_.secret_key);
  }
  socket_->connect(endpoints_[current_]);
  v1::Envelope env;
  v1::Hello* hello = env.mutable_hello();
  hello->set_version(v1::PROTOCOL_V1);
  hello->set_role(options_.role);
  hello->set_agency(options_.agency);
  hello->set_credit(options_.credit);
  hello->set_client_name(options_.name);
  hello->set_batch_acks(options_.batch_acks && options_.role != v1::WATCHER);
  SendRaw(env);
  state_ = State::kHelloSent;
  hello_deadline_ = now + options_.hello_timeout_ms;
}

void Connection::Reset(Millis now, const char* why) {
  if (socket_) {
    GetLogger("client")->info("{}: reconnecting to {} in {} ms ({})", options_.name, endpoints_[current_],
                              backoff_ms_, why);
    socket_.reset();
  }
  state_ = State::kIdle;
  next_attempt_ = now + backoff_ms_;
  backoff_ms_ = std::min(backoff_ms_ * 2, options_.reconnect_max_ms);
}

bool Connection::SendRaw(const v1::Envelope& envelope) { return SendBytes(envelope.SerializeAsString()); }

bool Connection::SendBytes(std::string_view bytes) {
  if (!socket_) return false;
  try {
    if (!socket_->send(zmq::buffer(bytes), zmq::send_flags::dontwait)) return false;
  } catch (const zmq::error_t&) {
    return false;
  }
  last_send_ = Now();
  return true;
}

bool Connection::Send(const v1::Envelope& envelope) {
  if (state_ != State::kReady) return false;
  return SendRaw(envelope);
}

bool Connection::SendEncoded(std::string_view envelope) {
  if (state_ != State::kReady) return false;
  return SendBytes(envelope);
}

void Connection::Close() {
  if (socket_ && state_ == State::kReady) {
    v1::Envelope bye;
    bye.mutable_bye();
    SendRaw(bye);
    socket_->set(zmq::sockopt::linger, 200);
  }
  socket_.reset();
  state_ = State::kIdle;
}

std::optional<v1::Envelope> Connection::Poll(int timeout_ms) {
  Millis deadline = Now() + std::max(0, timeout_ms);
  for (;;) {
    Millis now = Now();
    if (!socket_) {
      if (now >= next_attempt_) {
        Open(now);
      } else {
        std::this_thread::sleep_for(std::chrono::milliseconds(std::min<Millis>(next_attempt_, deadline) - now));
        if (Now() >= deadline) return std::nullopt;
        continue;
      }
    }
    if (state_ == State::kHelloSent && now >= hello_deadline_) {
      if (endpoints_.size() > 1) SwitchEndpoint("");
      Reset(now, "no Welcome in time");
      continue;
    }
    if (state_ == State::kReady) {
      Millis interval = welcome_.heartbeat_interval_ms();
      Millis limit = interval * std::max<std::uint32_t>(2, welcome_.heartbeat_liveness());
      if (now - last_recv_ > limit) {
        if (endpoints_.size() > 1) SwitchEndpoint("");
        Reset(now, "broker heartbeats stopped");
        continue;
      }
      if (now - last_send_ >= interval) {
        v1::Envelope hb;
        hb.mutable_heartbeat();
        SendRaw(hb);
      }
    }

    Millis wait = deadline - now;
    if (state_ == State::kReady) wait = std::min<Millis>(wait, welcome_.heartbeat_interval_ms());
    if (state_ == State::kHelloSent) wait = std::min<Millis>(wait, hello_deadline_ - now);
    zmq::pollitem_t items[] = {{socket_->handle(), 0, ZMQ_POLLIN, 0}};
    try {
      zmq::poll(items, 1, std::chrono::milliseconds(std::max<Millis>(0, wait)));
    } catch (const zmq::error_t& e) {
      if (e.num() != EINTR) throw;
    }
    if (items[0].revents & ZMQ_POLLIN) {
      zmq::message_t msg;
      if (socket_->recv(msg, zmq::recv_flags::dontwait)) {
        last_recv_ = Now();
        v1::Envelope env;
        if (!env.ParseFromArray(msg.data(), static_cast<int>(msg.size()))) {
          GetLogger("client")->warn("{}: undecodable message from broker ({} bytes)", options_.name, msg.size());
          continue;
        }
        switch (env.body_case()) {
          case v1::Envelope::kWelcome:
            welcome_ = env.welcome();
            state_ = State::kReady;
            backoff_ms_ = options_.reconnect_min_ms;
            last_error_.reset();
            if (on_connected_) on_connected_(welcome_);
            continue;
          case v1::Envelope::kHeartbeat:
            continue;
          case v1::Envelope::kError:
            last_error_ = env.error();
            if (env.error().code() == v1::NOT_LEADER) {
              // A standby: go to the active broker it names (or, if none
              // is active yet, the next endpoint) after the usual backoff,
              // so that clients do not spin while no broker leads.
              const bool named = !env.error().leader_endpoint().empty();
              SwitchEndpoint(env.error().leader_endpoint());
              Reset(Now(), "the broker is a standby");
              if (named) {
                backoff_ms_ = options_.reconnect_min_ms;
                next_attempt_ = Now();
              }
              continue;
            }
            if (env.error().code() == v1::UNKNOWN_SESSION || env.error().code() == v1::SHUTTING_DOWN) {
              Reset(Now(), "broker does not know this session");
              backoff_ms_ = options_.reconnect_min_ms;
              next_attempt_ = Now();
              continue;
            }
            if (state_ == State::kReady && env.error().code() == v1::FORBIDDEN &&
                env.error().message() == "key revoked") {
              // The broker no longer accepts this key: start over (a new
              // handshake is refused until the key is listed again).
              GetLogger("client")->error("{}: the broker revoked this client's key", options_.name);
              Reset(Now(), "key revoked");
              return env;
            }
            if (state_ == State::kHelloSent) {
              // Hello refused (unknown agency, version, limits): retry later.
              GetLogger("client")->error("{}: broker refused Hello: {} {}", options_.name,
                                         v1::ErrorCode_Name(env.error().code()), env.error().message());
              Reset(Now(), "Hello refused");
            }
            return env;
          default:
            return env;
        }
      }
    }
    if (Now() >= deadline) return std::nullopt;
  }
}

}  // namespace yilian::client
