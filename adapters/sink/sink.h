// Sink: how a plugin reaches its agency, shared by all plugins and chosen
// in the plugin's configuration (`sink.type`):
//   exchange-db  the front-end exchange database (前置库): a row in the
//                agency's push table, the answer later in its receipt table
//                (exchange_db.h, layout in docs/plugins.md);
//   http         POST of the submission as JSON, with the event id as
//                idempotency key; the answer synchronously or by polling
//                (http_sink.h).
// Both are idempotent by event id: submitting an event again never creates
// a second record at the agency; it returns what the agency has.
//
// Threads: one thread at a time per Sink (the plugin's calls are serialized
// by the host).
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "common/status.h"
#include "plugin_sdk/answer.h"
#include "plugin_sdk/config.h"
#include "plugin_sdk/plugin.h"
#include "yilian/agency/v1/records.pb.h"

namespace yilian::sink {

class Sink {
 public:
  virtual ~Sink() = default;
  // Hands the submission over. Pending when the agency has it (new or
  // already there), a final answer if the agency already answered it, Retry
  // when it cannot be reached.
  virtual plugin::Answer Submit(const agency::v1::AgencySubmission& submission) = 0;
  // The agency's answer for an event submitted earlier; Pending while it
  // works; Retry if the agency does not have the event.
  virtual plugin::Answer Check(const std::string& event_id) = 0;
};

// Declares the sink.* keys in a plugin's configuration schema.
void DeclareSinkKeys(plugin::ConfigSchema* schema);

// Opens the sink the configuration names. `host` (for logs) must outlive it.
Result<std::unique_ptr<Sink>> OpenSink(const plugin::ConfigValues& config, const plugin::Host* host);

// Converts the agency's answer (receipt row or HTTP body) into an Answer.
// An answer with an unknown status is an error.
Result<plugin::Answer> FromAgencyAnswer(const agency::v1::AgencyAnswer& answer);

// Proto3 JSON with the proto field names, on one line.
std::string ToJson(const google::protobuf::Message& message);
// Parses proto3 JSON; fields the schema does not know are ignored (an
// agency may add fields to its answers).
Status FromJson(std::string_view json, google::protobuf::Message* message);

// The record carried by a submission and the name of its oneof case
// ("tax", "social_insurance", "housing_fund", "bank"); nullptr if none.
const google::protobuf::Message* RecordOf(const agency::v1::AgencySubmission& submission, std::string* record_type);

}  // namespace yilian::sink
