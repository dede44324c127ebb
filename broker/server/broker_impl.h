// BrokerImpl: the broker's loop and what it owns. broker.cc holds the loop
// and the turn (receive a batch, begin the transaction, hand each message
// to its part, commit, run the effects, send the outbox), sessions.cc the
// sessions, security.cc the keys and ZAP. The rest of the work is done by
// the parts it owns: Publishing (publishing.h), Deliveries (deliveries.h),
// Tracking (tracking.h), OperatorActions (operator_actions.h), with the
// turn's TurnContext, Outbox and AuditTrail between them.
// docs/architecture.md draws them.
//
// Threads (docs/architecture.md, "Threads"):
//   loop          everything here, and the parts; the store's writer. The
//                 parts exist while this broker is the active one
//                 (leadership.cc); a standby has none.
//   predecoder    Publishing::Predecode on a turn's batch, ahead of the
//                 loop; touches only the messages and the turn's filters.
//   audit hasher  AuditTrail's SM3 of the turn's record.
//   checkpointer  the store's WAL checkpoints, on its own connection.
//   anchor writer the signed chain heads, to the anchor file.
//   HTTP          the front door's thread and its workers (http/): they
//                 reach the loop only through actions_ (ActionQueue),
//                 http_publishes_ (PublishQueue),
//                 serving_ and stop_requested_ (atomics), the metrics'
//                 text, and the token ring (immutable after start).
//   TLS watcher   the HTTPS certificate files (http/http_server.cc).
//   webhook lanes POST case updates (webhook.h); they reach the loop only
//                 through the sender's queues and webhook_wake_fd_.
#pragma once

#include <google/protobuf/arena.h>

#include <atomic>
#include <functional>
#include <memory>
#include <optional>
#include <queue>
#include <random>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>
#include <zmq.hpp>

#include "auth/keys.h"
#include "common/clock.h"
#include "common/digest.h"
#include "common/in_order_worker.h"
#include "common/log_throttle.h"
#include "common/status.h"
#include "config/config.h"
#include "delivery/agency_queue.h"
#include "http/actions.h"
#include "http/http_server.h"
#include "http/publish_queue.h"
#include "routing/routing.h"
#include "security/field_cipher.h"
#include "security/field_filter.h"
#include "server/archiver.h"
#include "server/audit_trail.h"
#include "server/metrics.h"
#include "server/session_quota.h"
#include "server/outbox.h"
#include "server/tables.h"
#include "server/deliveries.h"
#include "server/operator_actions.h"
#include "server/publishing.h"
#include "server/rekey.h"
#include "server/tracking.h"
#include "server/turn_context.h"
#include "server/webhook.h"
#include "store/store.h"
#include "validation/validation.h"
#include "yilian/v1/protocol.pb.h"

namespace yilian::server {

// The broker's version, as Welcome.broker_version tells it.
inline constexpr const char* kBrokerVersion = "0.1.0";




class BrokerImpl {
 public:
  BrokerImpl(config::BrokerConfig config, Clock* clock);
  ~BrokerImpl();

  Status Open();  // store + recovery
  Status Run();
  void Stop() { stop_requested_.store(true); }

  // The keys file as last looked at: content (mtime) and mode (security.cc).
  struct KeysStamp {
    std::int64_t mtime_ns = -1;
    std::uint32_t mode = 0;
    bool operator==(const KeysStamp&) const = default;
  };

 private:
  friend class Broker;

  // --- broker.cc: loop, sessions, I/O ---
  Status Bind();
  void Turn();
  // One message from the socket, without waiting: kNothing when none is
  // there (or on an error, logged), kSkipped for a frame without a body,
  // kMultiFrame (routing id set, frames drained) for a message of several
  // frames, else kMessage.
  enum class Received { kNothing, kSkipped, kMultiFrame, kMessage };
  Received Receive(Incoming* in);
  void HandleMessage(Incoming& in);
  // --- sessions.cc ---
  void HandleHello(const std::string& routing_id, const v1::Hello& hello, const auth::Principal& principal,
                   const std::string& key);
  void DropSession(const std::string& routing_id, const char* why);
  // A warning for a refused session, at most one per identity every 10 s
  // (with the count of those not logged): a client retrying in a loop
  // cannot flood the log.
  void LogSessionRefusal(const auth::Principal& principal, const std::string& cls, const std::string& why);
  void SweepSessions(Millis now);
  void Flush();
  int PollTimeoutMs(Millis now);

  // --- security.cc: CURVE keys, ZAP, roles, audit anchors ---
  Status SetUpSecurity();
  void HandleZap();
  void ReloadKeysIfChanged();
  // The principal of the key that sent `body`; nullopt if the key is not (or
  // no longer) in the keys file. In --insecure-dev: an all-powerful "dev".
  std::optional<auth::Principal> PrincipalOf(const zmq::message_t& body, std::string* key);
  // Logs and answers a refused message; drops the session if `drop`.
  void Refuse(const std::string& routing_id, const auth::Principal& p, const std::string& what, bool drop);

  // Adds a line to this turn's audit record of state transitions.
  void AuditLine(const std::string& line) { audit_->Add(line, turn_.now()); }

  Status BuildFilters();


  config::BrokerConfig config_;
  Clock* clock_;
  std::shared_ptr<spdlog::logger> log_;
  routing::Router router_;
  std::unique_ptr<store::Store> store_;

  zmq::context_t context_{1};
  zmq::socket_t socket_;
  zmq::socket_t zap_;  // ZAP handler (REP on inproc://zeromq.zap.01)
  bool secure_ = true;
  auth::KeyPair server_keys_;
  auth::KeyRing keys_;
  std::optional<auth::TokenRing> tokens_;
  KeysStamp keys_stamp_;
  std::optional<security::FieldCipher> cipher_;  // personal fields at rest
  // The audit record of each turn and the chain's anchors (after Open).
  std::unique_ptr<AuditTrail> audit_;
  // Cases, case updates and deadlines (after Open).
  std::unique_ptr<Tracking> tracking_;
  // Queues, hand-overs and results (after Open).
  std::unique_ptr<Deliveries> deliveries_;
  // The publish path (after Open).
  std::unique_ptr<Publishing> publishing_;
  // Operators' retries, replays and resolutions (after Open).
  std::unique_ptr<OperatorActions> operator_actions_;
  // The data-key rotation (with a data key, while this broker is the active
  // one) and its progress, read by HTTP threads.
  std::unique_ptr<Rekey> rekey_;
  RekeyProgress rekey_progress_;
  std::string endpoint_;
  std::atomic<bool> stop_requested_{false};

  SessionTable sessions_;
  SessionQuota quota_;  // admission of sessions; counts what sessions_ holds
  // Repeated warnings caused by clients, one line per key every 10 s at
  // most: session refusals (by identity), messages of revoked keys (by key)
  // and refused handshakes (by address).
  LogThrottle session_refusals_log_{clock_, 10000};
  LogThrottle revoked_keys_log_{clock_, 10000};
  LogThrottle handshakes_log_{clock_, 10000};
  LogThrottle free_space_log_{clock_, 60000};
  LogThrottle lease_log_{clock_, 10000};
  Agencies agencies_{router_, log_};

  // The current turn: its transaction and effects, and what it sends.
  TurnContext turn_{log_};
  Outbox outbox_{sessions_, turn_};

  Millis next_deadline_sweep_ = 0;
  // Messages received in the current turn are decoded here. The first
  // block is ours and survives Reset(): a typical turn allocates nothing
  // from the heap for decoding, and no large block is freed every turn.
  std::vector<char> arena_block_ = std::vector<char>(1024 * 1024);
  static google::protobuf::ArenaOptions TurnArenaOptions(std::vector<char>& first_block) {
    google::protobuf::ArenaOptions options;
    options.initial_block = first_block.data();
    options.initial_block_size = first_block.size();
    options.start_block_size = 256 * 1024;
    options.max_block_size = 1024 * 1024;
    return options;
  }
  google::protobuf::Arena arena_{TurnArenaOptions(arena_block_)};
  // The turn's messages. From kPredecodeMinMessages on, the predecoder's
  // thread decodes and validates them ahead of the loop, on its own arena.
  static constexpr std::size_t kPredecodeMinMessages = 4;
  void Prefetch();
  std::vector<Incoming> batch_;
  std::vector<char> predecode_block_ = std::vector<char>(1024 * 1024);
  google::protobuf::Arena predecode_arena_{TurnArenaOptions(predecode_block_)};
  InOrderWorker predecoder_;
  http::ActionQueue actions_;
  BrokerMetrics metrics_;
  // --- leadership.cc: active and standby brokers on one PostgreSQL store ---
  // With PostgreSQL: the data directory's lock (SQLite's store takes it
  // itself), and this broker's node id for the lease.
  Status LockDataDir();
  // Takes the lease if it can (and then reads the store), else notes who
  // leads; the next attempt is a second later.
  void TryToLead(Millis now);
  // Creates the parts and reads their state from the store (a start, or a
  // takeover).
  Status BecomeLeader();
  // Forgets every session and everything read from the store.
  void StepDown(const std::string& why, Millis now);
  void StandbyTurn(Millis now);
  // Publishing's comparison with archived events (nullptr: no archive).
  std::function<std::string(const std::string&)> ArchivedContent() const;
  void SendNotLeader(const std::string& routing_id);

  // --- http_publish.cc: events published over HTTP ---
  static bool IsHttpRoutingId(const std::string& routing_id);
  // Adds the waiting HTTP requests' events to the turn's batch (whole
  // requests, within store.max_batch but at least one).
  void TakeHttpPublishes();
  void HandleHttpPublish(Incoming& in);
  // An outbox message for an HTTP event: its ack is given to the request
  // (true), or it is not one (false).
  bool AnswerHttp(const Outbox::Message& out);
  // After the turn's flush: answers what was not (none, unless a defect).
  void FinishHttpPublishes();
  struct HttpPublishInFlight {
    std::promise<http::PublishOutcome> promise;
    std::string identity;
    std::vector<v1::PublishAck> acks;
    std::vector<bool> answered;
    std::size_t left = 0;
  };
  http::PublishQueue http_publishes_;
  std::unordered_map<std::uint64_t, HttpPublishInFlight> http_inflight_;
  std::uint64_t http_request_counter_ = 0;
  // The session HTTP events are handled as: a publisher without a socket,
  // not in sessions_ (no heartbeats, no sweeps).
  Session http_publisher_;

  // --- http_publish.cc: the webhook, a WATCHER session without a socket ---
  static bool IsWebhookRoutingId(const std::string& routing_id);
  Status StartWebhook();
  // The webhook's session, added when this broker becomes the active one.
  void AddWebhookSession(Millis now);
  // Acknowledges what the receiver took since the last turn.
  void TakeWebhookAcks(Millis now);
  // An outbox message for the webhook: a case update is handed to the
  // sender, anything else (heartbeats) dropped (true); or not one (false).
  bool ToWebhook(const Outbox::Message& out);
  std::unique_ptr<Archiver> archiver_;  // SQLite store only
  Millis next_rekey_step_ = 0;          // security.rekey_interval_ms after the last step
  std::pair<std::uint64_t, std::uint64_t> archive_counted_{0, 0};  // events, failures in the metrics
  std::unique_ptr<WebhookSender> webhook_;
  int webhook_wake_fd_ = -1;
  std::uint64_t webhook_failures_counted_ = 0;

  // --- operator_view.cc: the HTTP API and the gauges ---
  Status StartHttp();
  void UpdateGauges(Millis now);
  std::unique_ptr<http::HttpServer> http_;
  std::atomic<bool> serving_{false};

  Millis next_sweep_ = 0;
  std::uint64_t session_counter_ = 0;

  // Leadership (leadership.cc): whether this broker is the active one; its
  // node id for the lease; the active broker's endpoint as a standby last
  // read it; when a standby next tries to take the lease.
  bool leading_ = false;
  std::string node_;
  int data_dir_lock_ = -1;
  std::string leader_endpoint_;
  Millis next_lead_attempt_ = 0;
};

}  // namespace yilian::server
