#include "config/config.h"

#include <algorithm>
#include <cctype>
#include <fstream>
#include <functional>
#include <set>
#include <sstream>

#include <yaml-cpp/yaml.h>

namespace yilian::config {
namespace {

using v1::EventType;

// One declared scalar key. `apply` parses and range-checks the node, writing
// into the config; it returns an error message or "".
struct KeyDef {
  const char* name;
  const char* default_text;
  const char* bounds;
  const char* description;
  std::function<std::string(const YAML::Node&, BrokerConfig&)> apply;
};

std::string ReadUint(const YAML::Node& n, std::uint64_t lo, std::uint64_t hi, std::uint32_t* out) {
  if (!n.IsScalar()) return "expected an integer";
  const std::string& s = n.Scalar();
  if (s.empty() || s.find_first_not_of("0123456789") != std::string::npos) return "expected a non-negative integer, got '" + s + "'";
  if (s.size() > 12) return "value " + s + " out of range [" + std::to_string(lo) + ", " + std::to_string(hi) + "]";
  std::uint64_t v = std::stoull(s);
  if (v < lo || v > hi) return "value " + s + " out of range [" + std::to_string(lo) + ", " + std::to_string(hi) + "]";
  *out = static_cast<std::uint32_t>(v);
  return "";
}

std::string ReadDouble(const YAML::Node& n, double lo, double hi, double* out) {
  if (!n.IsScalar()) return "expected a number";
  double v = 0;
  if (!YAML::convert<double>::decode(n, v)) return "expected a number, got '" + n.Scalar() + "'";
  if (!(v >= lo && v <= hi)) {
    std::ostringstream m;
    m << "value " << n.Scalar() << " out of range [" << lo << ", " << hi << "]";
    return m.str();
  }
  *out = v;
  return "";
}

// "HH:MM" (00:00 to 23:59) as minutes after midnight.
std::string ReadClockTime(const YAML::Node& n, std::uint32_t* out) {
  if (!n.IsScalar()) return "expected a time of day HH:MM";
  const std::string& s = n.Scalar();
  auto digit = [&](std::size_t i) { return s[i] >= '0' && s[i] <= '9'; };
  if (s.size() != 5 || s[2] != ':' || !digit(0) || !digit(1) || !digit(3) || !digit(4))
    return "expected a time of day HH:MM, got '" + s + "'";
  const std::uint32_t hours = static_cast<std::uint32_t>((s[0] - '0') * 10 + (s[1] - '0'));
  const std::uint32_t minutes = static_cast<std::uint32_t>((s[3] - '0') * 10 + (s[4] - '0'));
  if (hours > 23 || minutes > 59) return "'" + s + "' is not a time of day (00:00 to 23:59)";
  *out = hours * 60 + minutes;
  return "";
}

// A list of host names (or IP addresses) for http.allowed_hosts: no port,
// no scheme, no spaces.
std::string ReadHostList(const YAML::Node& n, std::vector<std::string>* out) {
  if (!n.IsSequence()) return "expected a list of host names";
  std::vector<std::string> hosts;
  for (const auto& h : n) {
    if (!h.IsScalar() || h.Scalar().empty()) return "expected host names";
    const std::string& name = h.Scalar();
    if (name.find_first_of(" /:@") != std::string::npos && !(name.front() == '[' && name.back() == ']'))
      return "'" + name + "' is not a host name (no scheme, port or path; IPv6 in brackets)";
    std::string lower;
    for (char c : name) lower += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    hosts.push_back(lower);
  }
  *out = std::move(hosts);
  return "";
}

std::string ReadString(const YAML::Node& n, const std::set<std::string>& allowed, std::string* out) {
  if (!n.IsScalar()) return "expected a string";
  if (!allowed.empty() && !allowed.count(n.Scalar())) {
    std::string list;
    for (const auto& a : allowed) list += (list.empty() ? "" : "|") + a;
    return "'" + n.Scalar() + "' is not one of " + list;
  }
  *out = n.Scalar();
  return "";
}

// A list of key file paths (security.retired_data_key_files): non-empty,
// none twice.
std::string ReadPathList(const YAML::Node& n, std::vector<std::string>* out) {
  if (!n.IsSequence()) return "expected a list of file paths";
  std::vector<std::string> paths;
  for (const auto& p : n) {
    if (!p.IsScalar() || p.Scalar().empty()) return "expected file paths";
    if (std::find(paths.begin(), paths.end(), p.Scalar()) != paths.end())
      return "'" + p.Scalar() + "' is listed twice";
    paths.push_back(p.Scalar());
  }
  *out = std::move(paths);
  return "";
}

std::string ReadBool(const YAML::Node& n, bool* out) {
  bool v = false;
  if (!n.IsScalar() || !YAML::convert<bool>::decode(n, v)) return "expected true or false";
  *out = v;
  return "";
}

#define U32_KEY(NAME, FIELD, DEF, LO, HI, DESC)                                                  \
  KeyDef {                                                                                        \
    NAME, #DEF, "[" #LO ", " #HI "]", DESC, [](const YAML::Node& n, BrokerConfig& c) {            \
      return ReadUint(n, LO, HI, &c.FIELD);                                                       \
    }                                                                                             \
  }

const std::vector<KeyDef>& Keys() {
  static const std::vector<KeyDef> keys = {
      {"listen", "tcp://127.0.0.1:7700", "ZeroMQ endpoint", "ZeroMQ endpoint the broker binds (ROUTER)",
       [](const YAML::Node& n, BrokerConfig& c) { return ReadString(n, {}, &c.listen); }},
      {"data_dir", "./data", "path", "directory of the store (created if missing)",
       [](const YAML::Node& n, BrokerConfig& c) { return ReadString(n, {}, &c.data_dir); }},
      {"log.level", "info", "trace|debug|info|warn|error|critical|off", "minimum level logged",
       [](const YAML::Node& n, BrokerConfig& c) {
         return ReadString(n, {"trace", "debug", "info", "warn", "error", "critical", "off"}, &c.log_level);
       }},
      {"log.file", "", "path", "also append logs to this file (empty: stderr only)",
       [](const YAML::Node& n, BrokerConfig& c) { return ReadString(n, {}, &c.log_file); }},
      {"log.max_file_mb", "64", "[0.01, 65536]",
       "log.file is rotated (broker.log renamed broker.1.log, the older ones broker.2.log, ...) once a line would "
       "take it past this many MiB",
       [](const YAML::Node& n, BrokerConfig& c) { return ReadDouble(n, 0.01, 65536, &c.log_max_file_mb); }},
      U32_KEY("log.max_files", log_max_files, 10, 1, 1000, "rotated log files kept beside log.file (the oldest is deleted)"),
      U32_KEY("heartbeat.interval_ms", heartbeat_interval_ms, 1000, 50, 60000,
              "each side sends a heartbeat after this long without other traffic"),
      U32_KEY("heartbeat.liveness", heartbeat_liveness, 3, 2, 100,
              "a peer silent for interval_ms * liveness is considered gone"),
      U32_KEY("delivery.ack_timeout_ms", ack_timeout_ms, 30000, 100, 86400000,
              "a delivery not answered within this time goes back to the queue"),
      U32_KEY("delivery.max_credit", max_credit, 10000, 1, 100000,
              "largest credit (unanswered deliveries) one adapter may ask for"),
      U32_KEY("retry.initial_backoff_ms", retry.initial_backoff_ms, 1000, 0, 3600000,
              "delay before the second attempt"),
      U32_KEY("retry.max_backoff_ms", retry.max_backoff_ms, 300000, 0, 86400000, "cap on the backoff delay"),
      {"retry.multiplier", "2.0", "[1.0, 10.0]", "backoff growth per attempt",
       [](const YAML::Node& n, BrokerConfig& c) { return ReadDouble(n, 1.0, 10.0, &c.retry.multiplier); }},
      {"retry.jitter", "0.2", "[0.0, 1.0]", "random fraction subtracted from each backoff delay",
       [](const YAML::Node& n, BrokerConfig& c) { return ReadDouble(n, 0.0, 1.0, &c.retry.jitter); }},
      U32_KEY("retry.max_attempts", retry.max_attempts, 10, 1, 1000,
              "attempts before a delivery is dead-lettered (DEAD)"),
      U32_KEY("limits.max_frame_bytes", max_frame_bytes, 262144, 1024, 16777216,
              "largest ZeroMQ message accepted; larger ones are refused (ZMQ_MAXMSGSIZE)"),
      U32_KEY("limits.max_event_bytes", max_event_bytes, 65536, 1024, 16777216,
              "largest encoded EnterpriseEvent accepted"),
      U32_KEY("limits.max_inflight_publishes", max_inflight_publishes, 1000, 1, 100000,
              "unconfirmed publishes one connection may have at once"),
      U32_KEY("limits.max_connections", max_connections, 1024, 1, 100000,
              "sessions the broker holds at once; one slot each is kept for the publisher, the watcher and every "
              "agency rule while they have none"),
      U32_KEY("limits.publisher_sessions_per_identity", publisher_sessions_per_identity, 16, 1, 100000,
              "sessions one publisher identity (keys file) may hold at once"),
      U32_KEY("limits.agency_sessions_per_identity", agency_sessions_per_identity, 16, 1, 100000,
              "sessions one agency identity (keys file) may hold at once"),
      U32_KEY("limits.watcher_sessions_per_identity", watcher_sessions_per_identity, 8, 1, 100000,
              "watcher sessions one identity (keys file) may hold at once"),
      {"store.synchronous", "full", "full|normal",
       "full: fsync before every confirm; normal: survive process crash, not power loss",
       [](const YAML::Node& n, BrokerConfig& c) { return ReadString(n, {"full", "normal"}, &c.store_synchronous); }},
      {"store.backend", "sqlite", "sqlite|postgresql",
       "sqlite: the embedded store in data_dir; postgresql: the database of store.postgresql.conninfo",
       [](const YAML::Node& n, BrokerConfig& c) { return ReadString(n, {"sqlite", "postgresql"}, &c.store_backend); }},
      {"store.postgresql.conninfo", "", "libpq connection string",
       "the PostgreSQL database of store.backend postgresql, e.g. \"host=db1,db2 port=5432,5432 dbname=yilian "
       "user=yilian target_session_attrs=read-write\" (a multi-host string follows a promoted standby)",
       [](const YAML::Node& n, BrokerConfig& c) { return ReadString(n, {}, &c.store_postgresql_conninfo); }},
      U32_KEY("store.postgresql.statement_timeout_ms", store_postgresql_statement_timeout_ms, 10000, 100, 3600000,
              "PostgreSQL statement timeout in ms, for every statement but COMMIT (never cancelled)"),
      U32_KEY("store.postgresql.pool_size", store_postgresql_pool_size, 4, 1, 64,
              "connections the HTTP API reads the PostgreSQL store with, opened as requests need them (the broker "
              "writes on one more of its own)"),
      U32_KEY("ha.lease_ms", ha_lease_ms, 5000, 1000, 600000,
              "store.backend postgresql: the active broker's lease in ms, renewed every turn; a standby takes "
              "over once it has expired"),
      {"ha.advertised_endpoint", "", "endpoint",
       "the ZeroMQ endpoint a standby names to clients for this broker when it is active (\"\": the endpoint "
       "it listens on, as bound)",
       [](const YAML::Node& n, BrokerConfig& c) { return ReadString(n, {}, &c.ha_advertised_endpoint); }},
      U32_KEY("store.free_space_warn_mib", free_space_warn_mib, 1024, 0, 1048576,
              "warn (log, metric yilian_store_free_warn_bytes) when the data directory's file system has less "
              "free space than this, in MiB (0: never)"),
      {"store.retention_days", "365", "[0, 36500]",
       "settled cases (and audit records) older than this many days move to archive files once a day; "
       "fractions allowed; 0: keep everything in the live store",
       [](const YAML::Node& n, BrokerConfig& c) { return ReadDouble(n, 0.0, 36500.0, &c.store_retention_days); }},
      {"store.archive_dir", "", "path",
       "where archive files are written (\"\": data_dir/archive)",
       [](const YAML::Node& n, BrokerConfig& c) { return ReadString(n, {}, &c.store_archive_dir); }},
      {"store.archive_time", "02:30", "HH:MM",
       "local time of the daily archive run (also once 10 minutes after the broker starts)",
       [](const YAML::Node& n, BrokerConfig& c) { return ReadClockTime(n, &c.store_archive_minute); }},
      U32_KEY("store.max_batch", max_batch, 4096, 1, 100000, "messages handled per loop turn (one commit)"),
      U32_KEY("store.payload_cache_entries", payload_cache_entries, 8192, 0, 1000000,
              "encoded events kept in memory for delivery"),
      {"http.listen", "127.0.0.1:7780", "HOST:PORT or empty", "HTTP API and dashboard address (empty: off)",
       [](const YAML::Node& n, BrokerConfig& c) { return ReadString(n, {}, &c.http_listen); }},
      {"http.tls_cert_file", "", "path",
       "PEM certificate (chain) for HTTPS on http.listen; with http.tls_key_file (both empty: plain HTTP); "
       "a renewed pair is served without a restart",
       [](const YAML::Node& n, BrokerConfig& c) { return ReadString(n, {}, &c.http_tls_cert_file); }},
      {"http.tls_key_file", "", "path", "PEM private key of http.tls_cert_file",
       [](const YAML::Node& n, BrokerConfig& c) { return ReadString(n, {}, &c.http_tls_key_file); }},
      {"http.tls_client_ca_file", "", "path",
       "HTTPS only: PEM CA certificate(s); every client must present a certificate they signed (empty: none asked)",
       [](const YAML::Node& n, BrokerConfig& c) { return ReadString(n, {}, &c.http_tls_client_ca_file); }},
      {"http.allowed_hosts", "[]", "list of host names",
       "Host header values the HTTP API answers (port ignored; against DNS rebinding); empty: localhost, "
       "127.0.0.1 and [::1] when http.listen is loopback, any host otherwise",
       [](const YAML::Node& n, BrokerConfig& c) { return ReadHostList(n, &c.http_allowed_hosts); }},
      U32_KEY("http.max_body_bytes", http_max_body_bytes, 65536, 1024, 16777216,
              "largest request body accepted; larger ones are answered 413 before the body is read"),
      U32_KEY("http.max_headers", http_max_headers, 64, 8, 1024,
              "most header fields one request may carry; more are answered 431"),
      U32_KEY("http.max_header_bytes", http_max_header_bytes, 16384, 1024, 1048576,
              "largest request line and headers together; a request line that never ends is answered 414, "
              "a larger head 431"),
      U32_KEY("http.header_timeout_ms", http_header_timeout_ms, 5000, 100, 60000,
              "time a connection has to send its request line and headers (after the TLS handshake); "
              "then it is answered 408 and closed"),
      U32_KEY("http.read_timeout_ms", http_read_timeout_ms, 5000, 100, 60000,
              "time a request has to send its body after its headers; then it is answered 408 and closed"),
      U32_KEY("http.write_timeout_ms", http_write_timeout_ms, 10000, 100, 600000,
              "time a client has to take its whole response; then the connection is closed"),
      U32_KEY("http.handshake_timeout_ms", http_handshake_timeout_ms, 5000, 100, 60000,
              "HTTPS: time a client has to complete the TLS handshake; then the connection is closed"),
      U32_KEY("http.max_connections", http_max_connections, 512, 16, 65536,
              "open HTTP connections in all; one more closes the oldest still waiting for its request, or is "
              "refused when all are at work"),
      U32_KEY("http.max_connections_per_address", http_max_connections_per_address, 32, 1, 65536,
              "open HTTP connections from one client address; one more closes that address's oldest still "
              "waiting for its request, or is refused"),
      U32_KEY("http.workers", http_workers, 4, 1, 64,
              "threads that answer requests; they only ever see whole requests, so slow clients cannot hold them"),
      U32_KEY("http.max_requests_per_connection", http_max_requests_per_connection, 1000, 1, 1000000,
              "requests one HTTP/1.1 connection may carry (keep-alive); then it is closed after the response"),
      U32_KEY("http.keep_alive_timeout_ms", http_keep_alive_timeout_ms, 5000, 100, 600000,
              "time an idle kept-alive connection waits for its next request before it is closed"),
      U32_KEY("http.max_publish_body_bytes", http_max_publish_body_bytes, 1048576, 1024, 67108864,
              "largest body of POST /api/v1/events (instead of http.max_body_bytes); larger ones are answered 413 "
              "before the body is read"),
      U32_KEY("http.max_publish_batch", http_max_publish_batch, 1000, 1, 100000,
              "most events in one POST /api/v1/events batch (application/x-ndjson); more are answered 413"),
      U32_KEY("http.publish_rate_per_client", http_publish_rate_per_client, 5000, 0, 10000000,
              "events per second one publisher identity may publish over HTTP (0: unlimited); more are answered "
              "429 with Retry-After"),
      {"webhook.url", "", "http:// or https:// URL",
       "where case updates are POSTed, signed (empty: no webhook)",
       [](const YAML::Node& n, BrokerConfig& c) { return ReadString(n, {}, &c.webhook_url); }},
      {"webhook.secret_file", "", "path", "the webhook's HMAC-SHA256 key (at least 32 bytes, mode 0600); required with webhook.url",
       [](const YAML::Node& n, BrokerConfig& c) { return ReadString(n, {}, &c.webhook_secret_file); }},
      {"webhook.ca_file", "", "path", "https webhook: PEM CA certificate(s) the receiver's certificate must chain to (empty: the system's)",
       [](const YAML::Node& n, BrokerConfig& c) { return ReadString(n, {}, &c.webhook_ca_file); }},
      U32_KEY("webhook.timeout_ms", webhook_timeout_ms, 5000, 100, 600000,
              "time the receiver has to answer one POST; then it is retried"),
      U32_KEY("webhook.initial_backoff_ms", webhook_initial_backoff_ms, 1000, 10, 3600000,
              "wait before the first retry of a failed POST, doubled for each further one"),
      U32_KEY("webhook.max_backoff_ms", webhook_max_backoff_ms, 60000, 10, 86400000,
              "longest wait between retries of a POST"),
      U32_KEY("webhook.max_in_flight", webhook_max_in_flight, 64, 1, 10000,
              "case updates handed to the webhook sender and not yet answered 2xx"),
      U32_KEY("tracking.case_deadline_ms", case_deadline_ms, 28800000, 0, 2592000000,
              "time a case has to complete after publish before it is overdue (0: none)"),
      U32_KEY("tracking.stats_window_s", stats_window_s, 86400, 60, 31536000,
              "window of the time-to-completion figures in /api/v1/stats"),
      {"security.server_key_file", "", "path", "the broker's CURVE key pair (yilian keygen); required unless --insecure-dev",
       [](const YAML::Node& n, BrokerConfig& c) { return ReadString(n, {}, &c.server_key_file); }},
      {"security.keys_file", "", "path", "clients' public keys with identity and role; re-read when it changes",
       [](const YAML::Node& n, BrokerConfig& c) { return ReadString(n, {}, &c.keys_file); }},
      {"security.tokens_file", "", "path", "HTTP bearer tokens and client certificates with identity and role (admin|observer|publisher)",
       [](const YAML::Node& n, BrokerConfig& c) { return ReadString(n, {}, &c.tokens_file); }},
      {"security.data_key_file", "", "path",
       "SM4 key (64 hex chars, mode 0600) encrypting ID and phone numbers at rest; required unless --insecure-dev",
       [](const YAML::Node& n, BrokerConfig& c) { return ReadString(n, {}, &c.data_key_file); }},
      {"security.retired_data_key_files", "[]", "list of paths",
       "data keys replaced by security.data_key_file (same file rules), only read with: the broker re-encrypts what "
       "they wrote under the current key, then they may be removed",
       [](const YAML::Node& n, BrokerConfig& c) { return ReadPathList(n, &c.retired_data_key_files); }},
      U32_KEY("security.rekey_batch_events", rekey_batch_events, 64, 1, 4096,
              "stored events re-encrypted per loop turn while a data-key rotation runs (a turn full of messages "
              "does an eighth, at least one)"),
      U32_KEY("security.rekey_interval_ms", rekey_interval_ms, 0, 0, 60000,
              "milliseconds between two batches of a data-key rotation (0: every loop turn); spreads the rotation "
              "over time on a busy broker"),
      {"security.audit_key_file", "", "path",
       "HMAC-SM3 key (64 hex chars, mode 0600) signing the audit chain's head outside the database (empty: the "
       "chain is not anchored)",
       [](const YAML::Node& n, BrokerConfig& c) { return ReadString(n, {}, &c.audit_key_file); }},
      {"security.http_read_token_required", "false", "true|false", "require a bearer token for HTTP reads too",
       [](const YAML::Node& n, BrokerConfig& c) { return ReadBool(n, &c.http_read_token_required); }},
      {"audit.anchor_file", "", "path",
       "append-only file of signed audit chain heads; keep it off the database's disk (empty: audit-anchors.log "
       "in the parent directory of data_dir)",
       [](const YAML::Node& n, BrokerConfig& c) { return ReadString(n, {}, &c.audit_anchor_file); }},
      U32_KEY("audit.anchor_interval_ms", audit_anchor_interval_ms, 60000, 100, 86400000,
              "the audit chain's head is signed after a commit at most this often, and at a clean stop"),
      {"validation.strict_uscc_checksum", "true", "true|false",
       "refuse USCCs with a wrong check character (false: accept and log)",
       [](const YAML::Node& n, BrokerConfig& c) { return ReadBool(n, &c.strict_uscc_checksum); }},
  };
  return keys;
}

AgencyConfig Agency(std::string id, std::vector<EventType> events, std::vector<std::string> fields,
                    std::uint32_t deadline_ms) {
  return AgencyConfig{std::move(id), std::move(events), std::move(fields), deadline_ms, {}};
}

Status Fail(const std::string& origin, const std::string& key, const std::string& why) {
  return Status::InvalidArgument(origin + ": " + key + ": " + why);
}

const std::set<std::string>& KnownChangeFields() {
  static const std::set<std::string> fields = {
      "name", "entity_type", "legal_representative", "registered_capital", "address", "business_scope",
      "shareholders", "region_code", "accounting_method", "employee_count", "contact", "industry_code"};
  return fields;
}

Status ParseAgencies(const YAML::Node& list, const std::string& origin, std::vector<AgencyConfig>* out) {
  if (!list.IsSequence()) return Fail(origin, "agencies", "expected a list of agencies");
  std::set<std::string> seen;
  for (std::size_t i = 0; i < list.size(); ++i) {
    const YAML::Node& a = list[i];
    std::string where = "agencies[" + std::to_string(i) + "]";
    if (!a.IsMap()) return Fail(origin, where, "expected a map with id, events, changed_fields");
    AgencyConfig agency;
    for (const auto& kv : a) {
      std::string key = kv.first.Scalar();
      if (key == "id") {
        agency.id = kv.second.Scalar();
      } else if (key == "events") {
        if (!kv.second.IsSequence()) return Fail(origin, where + ".events", "expected a list");
        for (const auto& e : kv.second) {
          EventType t;
          if (!v1::EventType_Parse(e.Scalar(), &t) || t == v1::EVENT_TYPE_UNSPECIFIED)
            return Fail(origin, where + ".events", "unknown event type '" + e.Scalar() +
                                                       "' (ESTABLISHED|CHANGED|FILED|DEREGISTERED)");
          agency.events.push_back(t);
        }
      } else if (key == "deadline_ms") {
        std::string err = ReadUint(kv.second, 0, 2592000000ull, &agency.deadline_ms);
        if (!err.empty()) return Fail(origin, where + ".deadline_ms", err);
      } else if (key == "fields") {
        if (!kv.second.IsSequence()) return Fail(origin, where + ".fields", "expected a list of field paths");
        for (const auto& f : kv.second) agency.fields.push_back(f.Scalar());
      } else if (key == "changed_fields") {
        if (!kv.second.IsSequence()) return Fail(origin, where + ".changed_fields", "expected a list");
        for (const auto& f : kv.second) {
          if (!KnownChangeFields().count(f.Scalar()))
            return Fail(origin, where + ".changed_fields", "unknown field '" + f.Scalar() + "'");
          agency.changed_fields.push_back(f.Scalar());
        }
      } else {
        return Fail(origin, where + "." + key, "unknown key (id|events|changed_fields|deadline_ms|fields)");
      }
    }
    if (agency.id.empty()) return Fail(origin, where + ".id", "required");
    for (char ch : agency.id) {
      bool ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') || ch == '_' ||
                ch == '-' || ch == ':' || ch == '.' || ch == '*';
      if (!ok) return Fail(origin, where + ".id", "'" + agency.id + "' may use only letters, digits and _-:.");
    }
    if (agency.id.find('*') != std::string::npos && !agency.IsBankTemplate())
      return Fail(origin, where + ".id", "'*' is allowed only in the bank template 'bank:*'");
    if (agency.id.size() > 64) return Fail(origin, where + ".id", "longer than 64 characters");
    if (!seen.insert(agency.id).second) return Fail(origin, where + ".id", "duplicate agency '" + agency.id + "'");
    out->push_back(std::move(agency));
  }
  return Status::Ok();
}

// Walks nested maps, turning "a: {b: 1}" into key "a.b".
Status ApplyNode(const YAML::Node& node, const std::string& prefix, const std::string& origin, BrokerConfig& c) {
  for (const auto& kv : node) {
    std::string key = prefix.empty() ? kv.first.Scalar() : prefix + "." + kv.first.Scalar();
    if (key == "agencies") {
      c.agencies.clear();
      Status s = ParseAgencies(kv.second, origin, &c.agencies);
      if (!s.ok()) return s;
      continue;
    }
    const KeyDef* def = nullptr;
    for (const auto& k : Keys())
      if (key == k.name) def = &k;
    if (def) {
      std::string err = def->apply(kv.second, c);
      if (!err.empty()) return Fail(origin, key, err);
      continue;
    }
    if (kv.second.IsMap()) {
      bool is_section = false;
      for (const auto& k : Keys())
        if (std::string(k.name).rfind(key + ".", 0) == 0) is_section = true;
      if (is_section) {
        Status s = ApplyNode(kv.second, key, origin, c);
        if (!s.ok()) return s;
        continue;
      }
    }
    return Fail(origin, key, "unknown key (see yilian-broker --help-config)");
  }
  return Status::Ok();
}

}  // namespace

BrokerConfig DefaultConfig() {
  // Same working day: each agency within four hours, the case within eight.
  constexpr std::uint32_t kFourHours = 4 * 3600 * 1000;
  BrokerConfig c;
  using v1::CHANGED;
  using v1::DEREGISTERED;
  using v1::ESTABLISHED;
  c.agencies = {
      Agency("tax", {ESTABLISHED, CHANGED, DEREGISTERED},
             {"name", "entity_type", "legal_representative", "registered_capital", "address", "business_scope",
              "accounting_method", "employee_count"},
             kFourHours),
      Agency("social_insurance", {ESTABLISHED, CHANGED, DEREGISTERED},
             {"name", "entity_type", "legal_representative", "address", "region_code", "industry_code"}, kFourHours),
      Agency("housing_fund", {ESTABLISHED, CHANGED, DEREGISTERED}, {"name", "legal_representative", "address"},
             kFourHours),
      Agency("bank:*", {ESTABLISHED, CHANGED, DEREGISTERED}, {"name", "legal_representative", "address"},
             kFourHours),
  };
  return c;
}

Result<BrokerConfig> ParseConfig(const std::string& yaml_text, const std::string& origin) {
  BrokerConfig c = DefaultConfig();
  YAML::Node root;
  try {
    root = YAML::Load(yaml_text);
  } catch (const YAML::Exception& e) {
    return Status::InvalidArgument(origin + ": not valid YAML: " + e.what());
  }
  if (root.IsNull()) return c;
  if (!root.IsMap()) return Status::InvalidArgument(origin + ": expected a map of settings at the top level");
  try {
    Status s = ApplyNode(root, "", origin, c);
    if (!s.ok()) return s;
  } catch (const YAML::Exception& e) {
    return Status::InvalidArgument(origin + ": " + e.what());
  }
  if (c.retry.max_backoff_ms < c.retry.initial_backoff_ms)
    return Fail(origin, "retry.max_backoff_ms", "must be >= retry.initial_backoff_ms");
  if (c.agencies.empty()) return Fail(origin, "agencies", "at least one agency is required");
  if (c.http_tls_cert_file.empty() != c.http_tls_key_file.empty())
    return Fail(origin, c.http_tls_cert_file.empty() ? "http.tls_cert_file" : "http.tls_key_file",
                "required with " + std::string(c.http_tls_cert_file.empty() ? "http.tls_key_file" : "http.tls_cert_file") +
                    " (HTTPS needs both)");
  if (!c.webhook_url.empty()) {
    if (c.webhook_url.rfind("http://", 0) != 0 && c.webhook_url.rfind("https://", 0) != 0)
      return Fail(origin, "webhook.url", "must start with http:// or https://");
    if (c.webhook_secret_file.empty())
      return Fail(origin, "webhook.secret_file", "required with webhook.url: every POST is signed with it");
  }
  if (c.store_backend == "postgresql" && c.store_postgresql_conninfo.empty())
    return Fail(origin, "store.postgresql.conninfo", "required with store.backend postgresql");
  if (!c.retired_data_key_files.empty() && c.data_key_file.empty())
    return Fail(origin, "security.retired_data_key_files",
                "needs security.data_key_file: the retired keys' values are re-encrypted under it");
  if (std::find(c.retired_data_key_files.begin(), c.retired_data_key_files.end(), c.data_key_file) !=
      c.retired_data_key_files.end())
    return Fail(origin, "security.retired_data_key_files",
                "lists security.data_key_file ('" + c.data_key_file + "'): the current key is not a retired one");
  if (!c.audit_anchor_file.empty() && c.audit_key_file.empty())
    return Fail(origin, "audit.anchor_file", "needs security.audit_key_file: the anchors are signed with it");
  if (!c.http_tls_client_ca_file.empty() && c.http_tls_cert_file.empty())
    return Fail(origin, "http.tls_client_ca_file",
                "needs HTTPS (http.tls_cert_file and http.tls_key_file): client certificates are asked for in the "
                "TLS handshake");
  return c;
}

Result<BrokerConfig> LoadConfigFile(const std::string& path) {
  std::ifstream in(path);
  if (!in) return Status::IoError("cannot read config file '" + path + "'");
  std::stringstream buf;
  buf << in.rdbuf();
  return ParseConfig(buf.str(), path);
}

std::string DescribeKeys() {
  std::ostringstream out;
  for (const auto& k : Keys()) {
    out << k.name << "\n    default " << (k.default_text[0] ? k.default_text : "\"\"") << ", bounds " << k.bounds
        << "\n    " << k.description << "\n";
  }
  out << "agencies\n    list of {id, events, changed_fields, deadline_ms, fields}; default: tax, social_insurance, "
         "housing_fund, bank:* (deadline 4 h each)\n";
  return out.str();
}

}  // namespace yilian::config
