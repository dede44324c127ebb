// Publishing: the publish path, one way. Predecode decodes each message of
// a turn and validates and routes a Publish's event (pure work, so it may
// run on the predecoder's thread ahead of the loop); HandlePublish then
// checks the session, duplicates, conflicts and revisions, stores the
// event with its deliveries in the turn's transaction, hands it at once to
// idle adapters with credit, and confirms after the commit.
// docs/protocol.md section 5.
//
// Ownership: everything given to the constructor must outlive this.
// Concurrency: Predecode on the predecoder's thread or the loop's (it reads
// only its arguments and what BeginTurn set); the rest on the loop thread.
#pragma once

#include <google/protobuf/arena.h>

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>
#include <zmq.hpp>

#include "common/clock.h"
#include "common/status.h"
#include "config/config.h"
#include "routing/routing.h"
#include "security/field_cipher.h"
#include "security/field_filter.h"
#include "server/deliveries.h"
#include "server/metrics.h"
#include "server/outbox.h"
#include "server/tables.h"
#include "server/tracking.h"
#include "server/turn_context.h"
#include "store/store.h"
#include "validation/validation.h"
#include "wire/wire.h"
#include "yilian/v1/protocol.pb.h"

namespace spdlog {
class logger;
}

namespace yilian::server {

// The deterministic encoding of `message` (fields in number order, map
// entries sorted): what the store holds and what duplicates are compared by.
using wire::EncodeDeterministic;

// A message received in a turn, and what Predecode made of it.
struct Incoming {
  std::string routing_id;
  zmq::message_t body;
  v1::Envelope* env = nullptr;  // decoded on a turn arena; null if it does not decode
  std::string_view raw_event;   // a Publish's event as the publisher encoded it, when known
  bool validated = false;       // a Publish with an event: `errors` are its validation's
  std::vector<validation::FieldError> errors;
  // A valid Publish: its route, and the event as each agency the route
  // names may see it (agency id, view), for the agencies known when the
  // turn began.
  std::optional<Result<std::vector<std::string>>> route;
  std::vector<std::pair<std::string, std::string>> views;
};

class Publishing {
 public:
  struct Parts {
    const config::BrokerConfig& config;
    Clock* clock;
    store::Store* store;
    TurnContext& turn;
    Outbox& outbox;
    BrokerMetrics& metrics;
    const routing::Router& router;
    Agencies& agencies;
    Deliveries& deliveries;
    Tracking& tracking;
    const std::optional<security::FieldCipher>& cipher;
    // The hash an archived event's plaintext is compared with (Archiver::
    // ContentHash); unset: nothing is archived.
    std::function<std::string(const std::string&)> archived_content;
    std::shared_ptr<spdlog::logger> log;
  };
  explicit Publishing(Parts parts);

  // Takes the agencies' filters as of the turn's start for Predecode
  // (agencies created during a turn are seen from the next one).
  void BeginTurn();
  // Decodes the message, and validates and routes a Publish's event: pure
  // work on `in` and `arena`, so it may run on the predecoder's thread.
  void Predecode(Incoming& in, google::protobuf::Arena* arena) const;
  // `in`: the message, with what Predecode made of it.
  void HandlePublish(Session& session, const v1::Publish& publish, Incoming& in);

 private:
  // Decodes `body` into `env` (allocated on `arena`) if it is a Publish with
  // an event that decodes; returns the event's bytes then (a view into
  // `body`), else empty.
  static std::string_view DecodePublish(const zmq::message_t& body, v1::Envelope* env, google::protobuf::Arena* arena);

  const config::BrokerConfig& config_;
  Clock* clock_;
  store::Store* store_;
  TurnContext& turn_;
  Outbox& outbox_;
  BrokerMetrics& metrics_;
  const routing::Router& router_;
  Agencies& agencies_;
  Deliveries* deliveries_;
  Tracking* tracking_;
  const std::optional<security::FieldCipher>& cipher_;
  std::function<std::string(const std::string&)> archived_content_;
  std::shared_ptr<spdlog::logger> log_;
  validation::Options validation_options_;
  std::vector<std::pair<std::string, const security::FieldFilter*>> filters_;
};

}  // namespace yilian::server
