// Broker configuration: every key declared once (name, default, bounds,
// description) in config.cc's key table; a YAML file may set any of them.
// Unknown keys, wrong types and out-of-range values are refused with a
// message naming the key. `yilian-broker --help-config` prints the table.
// Plain values; LoadConfig is safe from any thread.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/status.h"
#include "yilian/v1/event.pb.h"

namespace yilian::config {

// One agency that may have to act on events. `id` is e.g. "tax",
// "social_insurance", "housing_fund", "bank:ICBC", or the template "bank:*"
// which stands for every bank code (the agency id is then "bank:<code>").
struct AgencyConfig {
  std::string id;
  // Event types this agency acts on.
  std::vector<yilian::v1::EventType> events;
  // CHANGED only: the agency acts if any changed field is in this list;
  // empty means any change.
  std::vector<std::string> changed_fields;
  // Time the agency has to settle a delivery after publish; 0: no deadline.
  std::uint32_t deadline_ms = 0;
  // Minimum necessary: the event fields this agency may receive (paths such
  // as "enterprise.name"); empty: the built-in default for the agency id.
  std::vector<std::string> fields;
  // A bank agency acts only on events that concern its bank (reservation).
  bool IsBank() const { return id.rfind("bank:", 0) == 0; }
  bool IsBankTemplate() const { return id == "bank:*"; }
};

struct RetryPolicy {
  std::uint32_t initial_backoff_ms = 1000;
  std::uint32_t max_backoff_ms = 300000;
  double multiplier = 2.0;
  double jitter = 0.2;
  std::uint32_t max_attempts = 10;
};

struct BrokerConfig {
  std::string listen = "tcp://127.0.0.1:7700";
  std::string data_dir = "./data";
  std::string log_level = "info";
  std::string log_file;
  // Size-based rotation of log_file: its size limit in MiB (fractions allowed,
  // down to 0.01, about 10 KB) and how many rotated files are kept.
  double log_max_file_mb = 64;
  std::uint32_t log_max_files = 10;

  std::uint32_t heartbeat_interval_ms = 1000;
  std::uint32_t heartbeat_liveness = 3;

  std::uint32_t ack_timeout_ms = 30000;
  std::uint32_t max_credit = 10000;

  RetryPolicy retry;

  std::uint32_t max_frame_bytes = 256 * 1024;
  std::uint32_t max_event_bytes = 64 * 1024;
  std::uint32_t max_inflight_publishes = 1000;
  std::uint32_t max_connections = 1024;
  // Free space on the data directory's file system below which the broker
  // warns, in MiB (0: never).
  std::uint32_t free_space_warn_mib = 1024;
  // Sessions one identity of the keys file may hold, by the role it opens.
  std::uint32_t publisher_sessions_per_identity = 16;
  std::uint32_t agency_sessions_per_identity = 16;
  std::uint32_t watcher_sessions_per_identity = 8;

  // "full": fsync the WAL on every commit (a confirm survives power loss);
  // "normal": a confirm survives a process crash but not a power loss.
  std::string store_synchronous = "full";
  // "sqlite" (embedded, in data_dir) or "postgresql" (store.postgresql.*).
  std::string store_backend = "sqlite";
  // A libpq connection string; multi-host with target_session_attrs=read-write
  // to follow a promoted standby.
  std::string store_postgresql_conninfo;
  // Every statement but COMMIT, in ms.
  std::uint32_t store_postgresql_statement_timeout_ms = 10000;
  // Connections the HTTP API reads with (the broker writes on one more).
  std::uint32_t store_postgresql_pool_size = 4;
  // High availability (store.backend postgresql): the leader's lease, and
  // the endpoint a standby names to clients ("": the bound listen endpoint).
  std::uint32_t ha_lease_ms = 5000;
  std::string ha_advertised_endpoint;
  // Retention (docs/storage.md section 14): settled cases older than this
  // many days move to archive files in store_archive_dir ("": data_dir +
  // "/archive"), daily at store_archive_minute (minutes after local
  // midnight). 0: keep everything.
  double store_retention_days = 365;
  std::string store_archive_dir;
  std::uint32_t store_archive_minute = 2 * 60 + 30;
  std::uint32_t max_batch = 4096;
  std::uint32_t payload_cache_entries = 8192;

  bool strict_uscc_checksum = true;

  // HTTP API and dashboard; empty: off.
  std::string http_listen = "127.0.0.1:7780";
  // HTTPS for the HTTP API and dashboard: both set, or neither (plain HTTP).
  std::string http_tls_cert_file;
  std::string http_tls_key_file;
  // HTTPS only: PEM CA certificate(s); set, every client must present a
  // certificate signed by one of them. Empty: no client certificates.
  std::string http_tls_client_ca_file;
  // Host names the HTTP API answers to (lower case, no port); empty: the
  // loopback names when http_listen is loopback, any otherwise.
  std::vector<std::string> http_allowed_hosts;
  // Limits on every HTTP request, applied before authentication.
  std::uint32_t http_max_body_bytes = 65536;
  std::uint32_t http_max_headers = 64;
  std::uint32_t http_read_timeout_ms = 5000;
  // What slow and greedy clients may hold (docs/security.md, "Slow clients").
  std::uint32_t http_max_connections = 512;
  std::uint32_t http_max_connections_per_address = 32;
  std::uint32_t http_handshake_timeout_ms = 5000;
  std::uint32_t http_header_timeout_ms = 5000;
  std::uint32_t http_write_timeout_ms = 10000;
  std::uint32_t http_max_header_bytes = 16384;
  std::uint32_t http_workers = 4;
  // HTTP/1.1 keep-alive: requests one connection may carry, and how long
  // an idle one waits for the next.
  std::uint32_t http_max_requests_per_connection = 1000;
  std::uint32_t http_keep_alive_timeout_ms = 5000;
  // POST /api/v1/events (docs/http-api.md, 4.1): its body limit (instead of
  // http_max_body_bytes), events per request, events per second per
  // publisher identity (0: unlimited).
  std::uint32_t http_max_publish_body_bytes = 1048576;
  std::uint32_t http_max_publish_batch = 1000;
  std::uint32_t http_publish_rate_per_client = 5000;
  // Case updates POSTed to the platform (docs/http-api.md, 4.2); empty url:
  // no webhook.
  std::string webhook_url;
  std::string webhook_secret_file;  // HMAC key, mode 0600
  std::string webhook_ca_file;      // https: CAs for the receiver; empty: the system's
  std::uint32_t webhook_timeout_ms = 5000;
  std::uint32_t webhook_initial_backoff_ms = 1000;
  std::uint32_t webhook_max_backoff_ms = 60000;
  std::uint32_t webhook_max_in_flight = 64;
  // Time a whole case has to complete after publish; 0: no deadline.
  std::uint32_t case_deadline_ms = 8 * 3600 * 1000;
  // Window of the time-to-completion figures in /api/v1/stats.
  std::uint32_t stats_window_s = 86400;

  // Security (docs/security.md). Without --insecure-dev the broker needs
  // its key pair and the keys file; CURVE is then required of every peer.
  bool insecure_dev = false;  // set by the --insecure-dev flag only
  std::string server_key_file;
  std::string keys_file;
  std::string tokens_file;
  // SM4 key (64 hex characters, file mode 0600) for personal fields at rest.
  std::string data_key_file;
  // Data keys replaced by data_key_file, only read with: values they wrote
  // are re-encrypted under data_key_file in the background (docs/security.md
  // section 2), after which they may be removed.
  std::vector<std::string> retired_data_key_files;
  // Stored events re-encrypted per loop turn during such a rotation.
  std::uint32_t rekey_batch_events = 64;
  // Time between two batches of a rotation (0: every turn).
  std::uint32_t rekey_interval_ms = 0;
  bool http_read_token_required = false;
  // Key (64 hex characters, file mode 0600) signing the audit chain's head
  // outside the database; empty: the chain is not anchored.
  std::string audit_key_file;
  // Append-only file of signed chain heads; empty: "audit-anchors.log" in
  // the parent of data_dir (audit::DefaultAnchorFile).
  std::string audit_anchor_file;
  // A head is signed after a commit at most this often, and at a clean stop.
  std::uint32_t audit_anchor_interval_ms = 60000;

  std::vector<AgencyConfig> agencies;
};

// The built-in defaults, including the agencies of DOMAIN.md section 3:
// tax, social_insurance, housing_fund and the bank template "bank:*".
BrokerConfig DefaultConfig();

// Parses YAML text over DefaultConfig(). `origin` names the source in errors.
// An `agencies` list in the file replaces the default agencies.
Result<BrokerConfig> ParseConfig(const std::string& yaml_text, const std::string& origin = "config");
Result<BrokerConfig> LoadConfigFile(const std::string& path);

// Human-readable table of every scalar key: name, default, bounds, description.
std::string DescribeKeys();

}  // namespace yilian::config
