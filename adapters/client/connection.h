// Connection: one client session with yilian-broker over a ZeroMQ DEALER
// socket. Sends Hello, waits for Welcome, keeps heartbeats in both
// directions, and reconnects with a new socket (and a new Hello) with
// exponential backoff when the broker goes silent, refuses the session, or
// restarts. With several broker endpoints (an active broker and its
// standbys), it follows the one a standby names in NOT_LEADER, and tries
// the next one when a broker is silent.
//
// Ownership: the zmq::context_t passed in must outlive the Connection.
// Concurrency: one thread per Connection (ZeroMQ sockets are not
// thread-safe); no internal locking.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <zmq.hpp>

#include "common/clock.h"
#include "yilian/v1/protocol.pb.h"

namespace yilian::client {

struct ClientOptions {
  // One endpoint, or several separated by commas (high availability).
  std::string endpoint = "tcp://127.0.0.1:7700";
  v1::ClientRole role = v1::PUBLISHER;
  std::string agency;          // CONSUMER only
  std::uint32_t credit = 64;   // CONSUMER only
  std::string name = "yilian-client";
  // CURVE: the broker's public key and this client's key pair (Z85). All
  // empty: plain TCP, accepted only by a broker in --insecure-dev mode.
  std::string server_public_key;
  std::string public_key;
  std::string secret_key;
  // PUBLISHER / CONSUMER: ask the broker for a turn's acks in one Acks
  // message (Hello.batch_acks). Publisher and Consumer handle both forms.
  bool batch_acks = true;
  int hello_timeout_ms = 3000;
  int reconnect_min_ms = 100;
  int reconnect_max_ms = 5000;
};

class Connection {
 public:
  Connection(zmq::context_t& context, ClientOptions options);
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  // Called after every Welcome (first connect and each reconnect), before
  // Poll returns; owners resend what is unconfirmed from there.
  void SetOnConnected(std::function<void(const v1::Welcome&)> fn) { on_connected_ = std::move(fn); }

  // Pumps I/O for up to timeout_ms and returns the next message for the
  // application (anything but Welcome and Heartbeat), or nullopt.
  std::optional<v1::Envelope> Poll(int timeout_ms);

  // Sends if a session is open; false otherwise (the message is not queued).
  bool Send(const v1::Envelope& envelope);
  // The same for an Envelope already encoded.
  bool SendEncoded(std::string_view envelope);

  // Says Bye (if connected) and closes the socket.
  void Close();

  bool connected() const { return state_ == State::kReady; }
  const v1::Welcome& welcome() const { return welcome_; }
  // The last connection-level Error the broker sent (e.g. UNKNOWN_AGENCY).
  const std::optional<v1::Error>& last_error() const { return last_error_; }
  // The endpoint of the current (or next) connection.
  const std::string& endpoint() const { return endpoints_[current_]; }

 private:
  enum class State { kIdle, kHelloSent, kReady };
  void Open(Millis now);
  void Reset(Millis now, const char* why);
  bool SendRaw(const v1::Envelope& envelope);
  bool SendBytes(std::string_view bytes);

  // Moves to the next endpoint, or to `endpoint` if it is given.
  void SwitchEndpoint(const std::string& endpoint);

  zmq::context_t& context_;
  ClientOptions options_;
  std::vector<std::string> endpoints_;
  std::size_t current_ = 0;
  std::optional<zmq::socket_t> socket_;
  State state_ = State::kIdle;
  v1::Welcome welcome_;
  std::optional<v1::Error> last_error_;
  Millis next_attempt_ = 0;
  Millis hello_deadline_ = 0;
  Millis last_recv_ = 0;
  Millis last_send_ = 0;
  int backoff_ms_ = 0;
  std::function<void(const v1::Welcome&)> on_connected_;
};

}  // namespace yilian::client
