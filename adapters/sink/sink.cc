#include "sink/sink.h"

#include <google/protobuf/util/json_util.h>

#include <chrono>
#include <ctime>

#include "sink/exchange_db.h"
#include "sink/http_sink.h"

namespace yilian::sink {

void DeclareSinkKeys(plugin::ConfigSchema* schema) {
  using plugin::ConfigKey;
  schema->Add(ConfigKey{"sink.type", "", true, "exchange-db|http",
                        "how the agency is reached: its exchange database or its HTTP endpoint",
                        plugin::OneOf({"exchange-db", "http"})});
  schema->Add(ConfigKey{"sink.path", "", false, "file path",
                        "exchange-db: the SQLite file of the agency's exchange database", nullptr});
  schema->Add(ConfigKey{"sink.push_table", "yl_push", false, "SQL identifier",
                        "exchange-db: table the adapter writes records into", plugin::SqlIdentifier()});
  schema->Add(ConfigKey{"sink.receipt_table", "yl_receipt", false, "SQL identifier",
                        "exchange-db: table the agency writes its answers into", plugin::SqlIdentifier()});
  schema->Add(ConfigKey{"sink.create_tables", "true", false, "true|false",
                        "exchange-db: create both tables if they do not exist", plugin::OneOf({"true", "false"})});
  schema->Add(ConfigKey{"sink.busy_timeout_ms", "5000", false, "1..600000",
                        "exchange-db: how long to wait for the agency's lock on the database",
                        plugin::IntegerIn(1, 600000)});
  schema->Add(ConfigKey{"sink.url", "", false, "http(s)://host:port/path",
                        "http: the agency's base URL; records go to <url>/records", nullptr});
  schema->Add(ConfigKey{"sink.timeout_ms", "5000", false, "100..600000",
                        "http: connect and read timeout of one request", plugin::IntegerIn(100, 600000)});
  schema->Add(ConfigKey{"sink.retry_after_ms", "5000", false, "0..86400000",
                        "delay asked of the broker when the agency cannot be reached", plugin::IntegerIn(0, 86400000)});
}

Result<std::unique_ptr<Sink>> OpenSink(const plugin::ConfigValues& config, const plugin::Host* host) {
  const std::string& type = config.Get("sink.type");
  const char* exchange_keys[] = {"sink.path", "sink.push_table", "sink.receipt_table", "sink.create_tables",
                                 "sink.busy_timeout_ms"};
  const char* http_keys[] = {"sink.url", "sink.timeout_ms"};
  if (type == "exchange-db") {
    for (const char* k : http_keys)
      if (config.IsSet(k)) return Status::InvalidArgument(std::string("plugin.") + k + ": only for sink.type http");
    if (config.Get("sink.path").empty())
      return Status::InvalidArgument("plugin.sink.path: required for sink.type exchange-db");
    ExchangeDbOptions o;
    o.path = config.Get("sink.path");
    o.tables.push = config.Get("sink.push_table");
    o.tables.receipt = config.Get("sink.receipt_table");
    o.create_tables = config.Get("sink.create_tables") == "true";
    o.busy_timeout_ms = static_cast<int>(config.GetInt("sink.busy_timeout_ms"));
    o.retry_after_ms = static_cast<std::uint32_t>(config.GetInt("sink.retry_after_ms"));
    auto sink = ExchangeDbSink::Open(o, host);
    if (!sink.ok()) return sink.status();
    return std::unique_ptr<Sink>(std::move(sink.value()));
  }
  for (const char* k : exchange_keys)
    if (config.IsSet(k))
      return Status::InvalidArgument(std::string("plugin.") + k + ": only for sink.type exchange-db");
  if (config.Get("sink.url").empty()) return Status::InvalidArgument("plugin.sink.url: required for sink.type http");
  HttpSinkOptions o;
  o.url = config.Get("sink.url");
  o.timeout_ms = static_cast<int>(config.GetInt("sink.timeout_ms"));
  o.retry_after_ms = static_cast<std::uint32_t>(config.GetInt("sink.retry_after_ms"));
  auto sink = HttpSink::Open(o, host);
  if (!sink.ok()) return sink.status();
  return std::unique_ptr<Sink>(std::move(sink.value()));
}

Result<plugin::Answer> FromAgencyAnswer(const agency::v1::AgencyAnswer& a) {
  auto with_code = [&](const std::string& text) {
    if (a.reason_code().empty()) return text;
    return text.empty() ? a.reason_code() : a.reason_code() + ": " + text;
  };
  if (a.status() == "PROCESSED") return plugin::Answer::Processed(a.reference());
  if (a.status() == "REJECTED") return plugin::Answer::Rejected(with_code(a.reason()));
  if (a.status() == "PENDING") return plugin::Answer::Pending();
  if (a.status() == "RETRY") return plugin::Answer::Retry(with_code(a.reason()), a.retry_after_ms());
  return Status::InvalidArgument("agency answer has unknown status '" + a.status() +
                                 "' (PENDING|PROCESSED|REJECTED|RETRY)");
}

std::string ToJson(const google::protobuf::Message& message) {
  google::protobuf::util::JsonPrintOptions options;
  options.preserve_proto_field_names = true;
  std::string out;
  (void)google::protobuf::util::MessageToJsonString(message, &out, options);
  return out;
}

Status FromJson(std::string_view json, google::protobuf::Message* message) {
  google::protobuf::util::JsonParseOptions options;
  options.ignore_unknown_fields = true;
  auto status = google::protobuf::util::JsonStringToMessage(std::string(json), message, options);
  if (!status.ok()) return Status::InvalidArgument(std::string(status.message()));
  return Status::Ok();
}

const google::protobuf::Message* RecordOf(const agency::v1::AgencySubmission& submission, std::string* record_type) {
  const auto* oneof = submission.GetDescriptor()->FindOneofByName("record");
  const auto* field = submission.GetReflection()->GetOneofFieldDescriptor(submission, oneof);
  if (!field) return nullptr;
  if (record_type) *record_type = field->name();
  return &submission.GetReflection()->GetMessage(submission, field);
}

}  // namespace yilian::sink
