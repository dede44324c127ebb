// The configuration is the first thing an operator gets wrong, so every
// declared key is driven at its bounds and just past them, and every refusal
// must name the offending key.
#include "config/config.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <functional>
#include <set>
#include <sstream>
#include <string>
#include <vector>

namespace yilian::config {
namespace {

// Expects `r` to be refused as invalid with a message that mentions `needle`.
template <typename T>
void ExpectRefused(const Result<T>& r, const std::string& needle) {
  ASSERT_FALSE(r.ok()) << "accepted, expected a refusal naming '" << needle << "'";
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument) << r.status().ToString();
  EXPECT_NE(r.status().message().find(needle), std::string::npos)
      << "message does not name '" << needle << "': " << r.status().message();
}

// YAML for one dotted key ("a.b" becomes a nested map); `companion` is extra
// lines placed in the same section, e.g. to satisfy a cross-key rule.
std::string YamlFor(const std::string& dotted, const std::string& value, const std::string& companion = "") {
  size_t dot = dotted.find('.');
  if (dot == std::string::npos) return dotted + ": " + value + "\n";
  std::string out = dotted.substr(0, dot) + ":\n  " + dotted.substr(dot + 1) + ": " + value + "\n";
  if (!companion.empty()) out += "  " + companion + "\n";
  return out;
}

struct UintKey {
  const char* key;
  std::uint64_t lo;
  std::uint64_t hi;
  std::function<std::uint32_t(const BrokerConfig&)> get;
  const char* companion = "";
};

const std::vector<UintKey>& UintKeys() {
  static const std::vector<UintKey> keys = {
      {"log.max_files", 1, 1000, [](const BrokerConfig& c) { return c.log_max_files; }},
      {"heartbeat.interval_ms", 50, 60000, [](const BrokerConfig& c) { return c.heartbeat_interval_ms; }},
      {"heartbeat.liveness", 2, 100, [](const BrokerConfig& c) { return c.heartbeat_liveness; }},
      {"delivery.ack_timeout_ms", 100, 86400000, [](const BrokerConfig& c) { return c.ack_timeout_ms; }},
      {"delivery.max_credit", 1, 100000, [](const BrokerConfig& c) { return c.max_credit; }},
      {"security.rekey_batch_events", 1, 4096, [](const BrokerConfig& c) { return c.rekey_batch_events; }},
      {"security.rekey_interval_ms", 0, 60000, [](const BrokerConfig& c) { return c.rekey_interval_ms; }},
      // The upper bound of the initial backoff is above the default cap.
      {"retry.initial_backoff_ms", 0, 3600000, [](const BrokerConfig& c) { return c.retry.initial_backoff_ms; },
       "max_backoff_ms: 86400000"},
      // The lower bound of the cap is below the default initial backoff.
      {"retry.max_backoff_ms", 0, 86400000, [](const BrokerConfig& c) { return c.retry.max_backoff_ms; },
       "initial_backoff_ms: 0"},
      {"retry.max_attempts", 1, 1000, [](const BrokerConfig& c) { return c.retry.max_attempts; }},
      {"limits.max_frame_bytes", 1024, 16777216, [](const BrokerConfig& c) { return c.max_frame_bytes; }},
      {"limits.max_event_bytes", 1024, 16777216, [](const BrokerConfig& c) { return c.max_event_bytes; }},
      {"limits.max_inflight_publishes", 1, 100000,
       [](const BrokerConfig& c) { return c.max_inflight_publishes; }},
      {"limits.max_connections", 1, 100000, [](const BrokerConfig& c) { return c.max_connections; }},
      {"limits.publisher_sessions_per_identity", 1, 100000,
       [](const BrokerConfig& c) { return c.publisher_sessions_per_identity; }},
      {"limits.agency_sessions_per_identity", 1, 100000,
       [](const BrokerConfig& c) { return c.agency_sessions_per_identity; }},
      {"limits.watcher_sessions_per_identity", 1, 100000,
       [](const BrokerConfig& c) { return c.watcher_sessions_per_identity; }},
      {"store.free_space_warn_mib", 0, 1048576, [](const BrokerConfig& c) { return c.free_space_warn_mib; }},
      {"ha.lease_ms", 1000, 600000, [](const BrokerConfig& c) { return c.ha_lease_ms; }},
      {"store.postgresql.statement_timeout_ms", 100, 3600000,
       [](const BrokerConfig& c) { return c.store_postgresql_statement_timeout_ms; }},
      {"store.postgresql.pool_size", 1, 64, [](const BrokerConfig& c) { return c.store_postgresql_pool_size; }},
      {"store.max_batch", 1, 100000, [](const BrokerConfig& c) { return c.max_batch; }},
      {"store.payload_cache_entries", 0, 1000000, [](const BrokerConfig& c) { return c.payload_cache_entries; }},
      {"http.max_body_bytes", 1024, 16777216, [](const BrokerConfig& c) { return c.http_max_body_bytes; }},
      {"http.max_headers", 8, 1024, [](const BrokerConfig& c) { return c.http_max_headers; }},
      {"http.read_timeout_ms", 100, 60000, [](const BrokerConfig& c) { return c.http_read_timeout_ms; }},
      {"http.max_header_bytes", 1024, 1048576, [](const BrokerConfig& c) { return c.http_max_header_bytes; }},
      {"http.header_timeout_ms", 100, 60000, [](const BrokerConfig& c) { return c.http_header_timeout_ms; }},
      {"http.write_timeout_ms", 100, 600000, [](const BrokerConfig& c) { return c.http_write_timeout_ms; }},
      {"http.handshake_timeout_ms", 100, 60000, [](const BrokerConfig& c) { return c.http_handshake_timeout_ms; }},
      {"http.max_connections", 16, 65536, [](const BrokerConfig& c) { return c.http_max_connections; }},
      {"http.max_connections_per_address", 1, 65536,
       [](const BrokerConfig& c) { return c.http_max_connections_per_address; }},
      {"http.workers", 1, 64, [](const BrokerConfig& c) { return c.http_workers; }},
      {"http.max_requests_per_connection", 1, 1000000,
       [](const BrokerConfig& c) { return c.http_max_requests_per_connection; }},
      {"http.keep_alive_timeout_ms", 100, 600000, [](const BrokerConfig& c) { return c.http_keep_alive_timeout_ms; }},
      {"http.max_publish_body_bytes", 1024, 67108864,
       [](const BrokerConfig& c) { return c.http_max_publish_body_bytes; }},
      {"http.max_publish_batch", 1, 100000, [](const BrokerConfig& c) { return c.http_max_publish_batch; }},
      {"http.publish_rate_per_client", 0, 10000000,
       [](const BrokerConfig& c) { return c.http_publish_rate_per_client; }},
      {"webhook.timeout_ms", 100, 600000, [](const BrokerConfig& c) { return c.webhook_timeout_ms; }},
      {"webhook.initial_backoff_ms", 10, 3600000, [](const BrokerConfig& c) { return c.webhook_initial_backoff_ms; }},
      {"webhook.max_backoff_ms", 10, 86400000, [](const BrokerConfig& c) { return c.webhook_max_backoff_ms; }},
      {"webhook.max_in_flight", 1, 10000, [](const BrokerConfig& c) { return c.webhook_max_in_flight; }},
      {"tracking.case_deadline_ms", 0, 2592000000, [](const BrokerConfig& c) { return c.case_deadline_ms; }},
      {"tracking.stats_window_s", 60, 31536000, [](const BrokerConfig& c) { return c.stats_window_s; }},
      {"audit.anchor_interval_ms", 100, 86400000, [](const BrokerConfig& c) { return c.audit_anchor_interval_ms; }},
  };
  return keys;
}

std::vector<std::string> AgencyIds(const BrokerConfig& c) {
  std::vector<std::string> ids;
  for (const auto& a : c.agencies) ids.push_back(a.id);
  return ids;
}

TEST(ConfigDefaults, EmptyDocumentGivesDocumentedDefaults) {
  for (const std::string text : {"", "# only a comment\n", "---\n"}) {
    SCOPED_TRACE(text);
    auto r = ParseConfig(text);
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    const BrokerConfig& c = r.value();
    EXPECT_EQ(c.listen, "tcp://127.0.0.1:7700");
    EXPECT_EQ(c.data_dir, "./data");
    EXPECT_EQ(c.log_level, "info");
    EXPECT_EQ(c.log_file, "");
    EXPECT_DOUBLE_EQ(c.log_max_file_mb, 64.0);
    EXPECT_EQ(c.log_max_files, 10u);
    EXPECT_EQ(c.heartbeat_interval_ms, 1000u);
    EXPECT_EQ(c.heartbeat_liveness, 3u);
    EXPECT_EQ(c.ack_timeout_ms, 30000u);
    EXPECT_EQ(c.max_credit, 10000u);
    EXPECT_EQ(c.retry.initial_backoff_ms, 1000u);
    EXPECT_EQ(c.retry.max_backoff_ms, 300000u);
    EXPECT_DOUBLE_EQ(c.retry.multiplier, 2.0);
    EXPECT_DOUBLE_EQ(c.retry.jitter, 0.2);
    EXPECT_EQ(c.retry.max_attempts, 10u);
    EXPECT_EQ(c.max_frame_bytes, 262144u);
    EXPECT_EQ(c.max_event_bytes, 65536u);
    EXPECT_EQ(c.max_inflight_publishes, 1000u);
    EXPECT_EQ(c.max_connections, 1024u);
    EXPECT_EQ(c.store_synchronous, "full");
    EXPECT_EQ(c.max_batch, 4096u);
    EXPECT_EQ(c.payload_cache_entries, 8192u);
    EXPECT_TRUE(c.strict_uscc_checksum);
    EXPECT_EQ(AgencyIds(c), (std::vector<std::string>{"tax", "social_insurance", "housing_fund", "bank:*"}));
  }
}

TEST(ConfigDefaults, DefaultAgenciesActOnEstablishedChangedDeregistered) {
  const std::vector<v1::EventType> expected = {v1::ESTABLISHED, v1::CHANGED, v1::DEREGISTERED};
  for (const auto& a : DefaultConfig().agencies) {
    SCOPED_TRACE(a.id);
    EXPECT_EQ(a.events, expected);
    EXPECT_FALSE(a.changed_fields.empty());
  }
}

TEST(ConfigScalarKeys, AWebhookNeedsAnHttpUrlAndASecret) {
  auto ok = ParseConfig("webhook:\n  url: https://platform.example/hook\n  secret_file: /etc/yilian/webhook.secret\n");
  ASSERT_TRUE(ok.ok()) << ok.status().message();
  EXPECT_EQ(ok.value().webhook_url, "https://platform.example/hook");
  EXPECT_EQ(ok.value().webhook_secret_file, "/etc/yilian/webhook.secret");
  ExpectRefused(ParseConfig("webhook:\n  url: https://platform.example/hook\n"), "webhook.secret_file");
  ExpectRefused(ParseConfig("webhook:\n  url: ftp://platform.example/hook\n  secret_file: s\n"), "webhook.url");
}

TEST(ConfigRetention, RetentionDaysArchiveDirAndTimeParseAndRefuseBadValues) {
  auto d = ParseConfig("");
  ASSERT_TRUE(d.ok()) << d.status().ToString();
  EXPECT_DOUBLE_EQ(d->store_retention_days, 365.0);
  EXPECT_EQ(d->store_archive_dir, "");
  EXPECT_EQ(d->store_archive_minute, 2u * 60 + 30);
  auto c = ParseConfig("store:\n  retention_days: 0.25\n  archive_dir: /srv/archive\n  archive_time: \"23:59\"\n");
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_DOUBLE_EQ(c->store_retention_days, 0.25);
  EXPECT_EQ(c->store_archive_dir, "/srv/archive");
  EXPECT_EQ(c->store_archive_minute, 23u * 60 + 59);
  EXPECT_DOUBLE_EQ(ParseConfig("store:\n  retention_days: 0\n")->store_retention_days, 0.0);
  EXPECT_EQ(ParseConfig("store:\n  archive_time: \"00:00\"\n")->store_archive_minute, 0u);
  for (const char* bad : {"-1", "36501", "a year"})
    ExpectRefused(ParseConfig(std::string("store:\n  retention_days: ") + bad + "\n"), "store.retention_days");
  for (const char* bad : {"\"24:00\"", "\"2:30\"", "\"02:60\"", "\"0230\"", "[1]"})
    ExpectRefused(ParseConfig(std::string("store:\n  archive_time: ") + bad + "\n"), "store.archive_time");
}

TEST(ConfigScalarKeys, EveryDescribedKeyIsCoveredByTheseTests) {
  // DescribeKeys lists each key name on an unindented line. A key added to
  // the table without a test here makes this fail.
  std::set<std::string> covered = {"listen", "data_dir", "log.level", "log.file", "log.max_file_mb", "retry.multiplier",
                                   "retry.jitter", "store.synchronous", "store.backend", "store.postgresql.conninfo", "ha.advertised_endpoint", "validation.strict_uscc_checksum",
                                   "http.listen", "http.tls_cert_file", "http.tls_key_file", "http.tls_client_ca_file",
                                   "http.allowed_hosts",
                                   "security.server_key_file", "security.keys_file",
                                   "security.tokens_file", "security.http_read_token_required", "security.data_key_file",
                                   "security.audit_key_file", "security.retired_data_key_files", "audit.anchor_file", "agencies", "webhook.url",
                                   "webhook.secret_file", "webhook.ca_file", "store.retention_days",
                                   "store.archive_dir", "store.archive_time"};
  for (const auto& k : UintKeys()) covered.insert(k.key);
  std::istringstream lines(DescribeKeys());
  std::string line;
  int listed = 0;
  while (std::getline(lines, line)) {
    if (line.empty() || line[0] == ' ') continue;
    ++listed;
    EXPECT_TRUE(covered.count(line)) << "key '" << line << "' has no bounds test";
  }
  EXPECT_EQ(listed, static_cast<int>(covered.size()));
}

TEST(ConfigScalarKeys, UnsignedKeysAcceptBoundsAndRefuseBeyond) {
  for (const auto& k : UintKeys()) {
    SCOPED_TRACE(k.key);
    for (std::uint64_t v : {k.lo, k.hi}) {
      auto r = ParseConfig(YamlFor(k.key, std::to_string(v), k.companion));
      ASSERT_TRUE(r.ok()) << v << ": " << r.status().ToString();
      EXPECT_EQ(k.get(r.value()), v);
    }
    if (k.lo > 0) ExpectRefused(ParseConfig(YamlFor(k.key, std::to_string(k.lo - 1), k.companion)), k.key);
    ExpectRefused(ParseConfig(YamlFor(k.key, std::to_string(k.hi + 1), k.companion)), k.key);
    ExpectRefused(ParseConfig(YamlFor(k.key, "-1", k.companion)), k.key);
    ExpectRefused(ParseConfig(YamlFor(k.key, "99999999999999999999", k.companion)), k.key);
  }
}

TEST(ConfigScalarKeys, UnsignedKeysRefuseWrongTypes) {
  for (const auto& k : UintKeys()) {
    SCOPED_TRACE(k.key);
    for (const char* bad : {"abc", "1.5", "\"\"", "[1, 2]", "{a: 1}", "true", "0x10", "1e3"})
      ExpectRefused(ParseConfig(YamlFor(k.key, bad, k.companion)), k.key);
  }
}

TEST(ConfigScalarKeys, LogMaxFileMbTakesFractionsWithinBounds) {
  for (const char* ok : {"0.01", "0.05", "1", "64", "65536"}) {
    auto r = ParseConfig(YamlFor("log.max_file_mb", ok));
    ASSERT_TRUE(r.ok()) << ok << ": " << r.status().ToString();
    EXPECT_DOUBLE_EQ(r->log_max_file_mb, std::stod(ok));
  }
  for (const char* bad : {"0", "0.009", "-1", "65537", ".nan", ".inf", "big", "[1]"})
    ExpectRefused(ParseConfig(YamlFor("log.max_file_mb", bad)), "log.max_file_mb");
}

TEST(ConfigScalarKeys, MultiplierBounds) {
  for (const char* ok : {"1.0", "1", "10.0", "3.5"}) {
    auto r = ParseConfig(YamlFor("retry.multiplier", ok));
    ASSERT_TRUE(r.ok()) << ok << ": " << r.status().ToString();
    EXPECT_DOUBLE_EQ(r->retry.multiplier, std::stod(ok));
  }
  for (const char* bad : {"0.99", "10.01", "-2", ".nan", ".inf", "fast", "[2]"})
    ExpectRefused(ParseConfig(YamlFor("retry.multiplier", bad)), "retry.multiplier");
}

TEST(ConfigScalarKeys, JitterBounds) {
  for (const char* ok : {"0", "0.0", "1.0", "0.5"}) {
    auto r = ParseConfig(YamlFor("retry.jitter", ok));
    ASSERT_TRUE(r.ok()) << ok << ": " << r.status().ToString();
    EXPECT_DOUBLE_EQ(r->retry.jitter, std::stod(ok));
  }
  for (const char* bad : {"-0.01", "1.01", ".nan", "some"})
    ExpectRefused(ParseConfig(YamlFor("retry.jitter", bad)), "retry.jitter");
}

TEST(ConfigScalarKeys, LogLevelIsOneOfTheNamedLevels) {
  for (const char* level : {"trace", "debug", "info", "warn", "error", "critical", "off"}) {
    auto r = ParseConfig(YamlFor("log.level", level));
    ASSERT_TRUE(r.ok()) << level << ": " << r.status().ToString();
    EXPECT_EQ(r->log_level, level);
  }
  for (const char* bad : {"verbose", "INFO", "[info]"})
    ExpectRefused(ParseConfig(YamlFor("log.level", bad)), "log.level");
}

TEST(ConfigScalarKeys, StoreSynchronousIsFullOrNormal) {
  for (const char* mode : {"full", "normal"}) {
    auto r = ParseConfig(YamlFor("store.synchronous", mode));
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    EXPECT_EQ(r->store_synchronous, mode);
  }
  for (const char* bad : {"off", "FULL", "extra"})
    ExpectRefused(ParseConfig(YamlFor("store.synchronous", bad)), "store.synchronous");
}

TEST(ConfigScalarKeys, StrictUsccChecksumIsABoolean) {
  auto r = ParseConfig(YamlFor("validation.strict_uscc_checksum", "false"));
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_FALSE(r->strict_uscc_checksum);
  r = ParseConfig(YamlFor("validation.strict_uscc_checksum", "true"));
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_TRUE(r->strict_uscc_checksum);
  for (const char* bad : {"maybe", "2", "[true]"})
    ExpectRefused(ParseConfig(YamlFor("validation.strict_uscc_checksum", bad)), "validation.strict_uscc_checksum");
}

TEST(ConfigScalarKeys, FreeStringKeys) {
  auto r = ParseConfig("listen: tcp://0.0.0.0:9000\ndata_dir: /var/lib/yilian\nlog:\n  file: /var/log/y.log\n");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->listen, "tcp://0.0.0.0:9000");
  EXPECT_EQ(r->data_dir, "/var/lib/yilian");
  EXPECT_EQ(r->log_file, "/var/log/y.log");
  ExpectRefused(ParseConfig("listen: [a, b]\n"), "listen");
  ExpectRefused(ParseConfig("data_dir: {x: 1}\n"), "data_dir");
}

TEST(ConfigScalarKeys, AuditAnchorsAreOffUntilAKeyIsSetAndTheFileNeedsTheKey) {
  auto plain = ParseConfig("");
  ASSERT_TRUE(plain.ok());
  EXPECT_EQ(plain->audit_key_file, "");
  EXPECT_EQ(plain->audit_anchor_file, "");
  EXPECT_EQ(plain->audit_anchor_interval_ms, 60000u);
  auto keyed = ParseConfig("security:\n  audit_key_file: /etc/yilian/keys/audit.key\n");
  ASSERT_TRUE(keyed.ok()) << keyed.status().ToString();
  EXPECT_EQ(keyed->audit_key_file, "/etc/yilian/keys/audit.key");
  auto both = ParseConfig(
      "security:\n  audit_key_file: /etc/yilian/keys/audit.key\naudit:\n  anchor_file: /srv/anchors/yilian.log\n");
  ASSERT_TRUE(both.ok()) << both.status().ToString();
  EXPECT_EQ(both->audit_anchor_file, "/srv/anchors/yilian.log");
  ExpectRefused(ParseConfig("audit:\n  anchor_file: /srv/anchors/yilian.log\n"), "audit.anchor_file");
  ExpectRefused(ParseConfig("security:\n  audit_key_file: [a]\n"), "security.audit_key_file");
  ExpectRefused(ParseConfig("audit:\n  anchor_file: {a: 1}\n"), "audit.anchor_file");
}

TEST(ConfigScalarKeys, RetiredDataKeysAreAListBesideTheCurrentKey) {
  auto plain = ParseConfig("");
  ASSERT_TRUE(plain.ok());
  EXPECT_TRUE(plain->retired_data_key_files.empty());
  EXPECT_EQ(plain->rekey_batch_events, 64u);
  EXPECT_EQ(plain->rekey_interval_ms, 0u);
  auto rotated = ParseConfig(
      "security:\n  data_key_file: /k/data-2.key\n  retired_data_key_files: [/k/data-1.key, /k/data-0.key]\n");
  ASSERT_TRUE(rotated.ok()) << rotated.status().ToString();
  EXPECT_EQ(rotated->retired_data_key_files, (std::vector<std::string>{"/k/data-1.key", "/k/data-0.key"}));
  auto none = ParseConfig("security:\n  data_key_file: /k/data-2.key\n  retired_data_key_files: []\n");
  ASSERT_TRUE(none.ok());
  EXPECT_TRUE(none->retired_data_key_files.empty());
  // Without a current key, with the current key among them, twice, or not
  // a list of paths.
  ExpectRefused(ParseConfig("security:\n  retired_data_key_files: [/k/data-1.key]\n"),
                "security.retired_data_key_files");
  ExpectRefused(ParseConfig("security:\n  data_key_file: /k/a\n  retired_data_key_files: [/k/a]\n"),
                "security.retired_data_key_files");
  ExpectRefused(ParseConfig("security:\n  data_key_file: /k/a\n  retired_data_key_files: [/k/b, /k/b]\n"),
                "security.retired_data_key_files");
  ExpectRefused(ParseConfig("security:\n  data_key_file: /k/a\n  retired_data_key_files: /k/b\n"),
                "security.retired_data_key_files");
  ExpectRefused(ParseConfig("security:\n  data_key_file: /k/a\n  retired_data_key_files: [\"\"]\n"),
                "security.retired_data_key_files");
  ExpectRefused(ParseConfig("security:\n  data_key_file: /k/a\n  retired_data_key_files: [{a: 1}]\n"),
                "security.retired_data_key_files");
}

TEST(ConfigScalarKeys, HttpsNeedsTheCertificateAndTheKeyTogether) {
  auto plain = ParseConfig("");
  ASSERT_TRUE(plain.ok());
  EXPECT_EQ(plain->http_tls_cert_file, "");
  EXPECT_EQ(plain->http_tls_key_file, "");
  auto both = ParseConfig("http:\n  tls_cert_file: /etc/yilian/http.crt\n  tls_key_file: /etc/yilian/http.key\n");
  ASSERT_TRUE(both.ok()) << both.status().ToString();
  EXPECT_EQ(both->http_tls_cert_file, "/etc/yilian/http.crt");
  EXPECT_EQ(both->http_tls_key_file, "/etc/yilian/http.key");
  ExpectRefused(ParseConfig("http:\n  tls_cert_file: /etc/yilian/http.crt\n"), "http.tls_key_file");
  ExpectRefused(ParseConfig("http:\n  tls_key_file: /etc/yilian/http.key\n"), "http.tls_cert_file");
  ExpectRefused(ParseConfig("http:\n  tls_cert_file: [a]\n  tls_key_file: b\n"), "http.tls_cert_file");
}

TEST(ConfigScalarKeys, ClientCertificatesNeedHttps) {
  EXPECT_EQ(ParseConfig("")->http_tls_client_ca_file, "");
  auto mutual = ParseConfig(
      "http:\n  tls_cert_file: /etc/yilian/http.crt\n  tls_key_file: /etc/yilian/http.key\n"
      "  tls_client_ca_file: /etc/yilian/clients.crt\n");
  ASSERT_TRUE(mutual.ok()) << mutual.status().ToString();
  EXPECT_EQ(mutual->http_tls_client_ca_file, "/etc/yilian/clients.crt");
  ExpectRefused(ParseConfig("http:\n  tls_client_ca_file: /etc/yilian/clients.crt\n"), "http.tls_client_ca_file");
  ExpectRefused(ParseConfig("http:\n  tls_cert_file: a\n  tls_key_file: b\n  tls_client_ca_file: [c]\n"),
                "http.tls_client_ca_file");
}

TEST(ConfigScalarKeys, SeveralKeysInOneSection) {
  auto r = ParseConfig("heartbeat:\n  interval_ms: 250\n  liveness: 5\nretry:\n  multiplier: 1.5\n  jitter: 0\n");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->heartbeat_interval_ms, 250u);
  EXPECT_EQ(r->heartbeat_liveness, 5u);
  EXPECT_DOUBLE_EQ(r->retry.multiplier, 1.5);
  EXPECT_DOUBLE_EQ(r->retry.jitter, 0.0);
  // Keys not in the file keep their defaults.
  EXPECT_EQ(r->ack_timeout_ms, 30000u);
  EXPECT_EQ(r->retry.max_attempts, 10u);
}

TEST(ConfigUnknownKeys, TopLevelUnknownKeyIsRefusedByName) {
  ExpectRefused(ParseConfig("bogus: 1\n"), "bogus");
  ExpectRefused(ParseConfig("listen: tcp://127.0.0.1:1\nlisten_port: 7\n"), "listen_port");
  ExpectRefused(ParseConfig("nosuch:\n  x: 1\n"), "nosuch");
}

TEST(ConfigUnknownKeys, NestedUnknownKeyIsRefusedWithItsFullName) {
  ExpectRefused(ParseConfig("heartbeat:\n  interval_ms: 100\n  bogus: 1\n"), "heartbeat.bogus");
  ExpectRefused(ParseConfig("retry:\n  max_backof_ms: 1000\n"), "retry.max_backof_ms");
  ExpectRefused(ParseConfig("log:\n  level:\n    deep: 1\n"), "log.level");
}

TEST(ConfigUnknownKeys, SectionGivenAsScalarIsRefused) {
  ExpectRefused(ParseConfig("heartbeat: 5\n"), "heartbeat");
  ExpectRefused(ParseConfig("retry: [1, 2]\n"), "retry");
}

TEST(ConfigSyntax, InvalidYamlIsRefused) {
  for (const char* bad : {"listen: [unclosed\n", "a: b: c\n", "heartbeat:\n  interval_ms: 1\n bad_indent: 2\n",
                          "listen: a\n- b\n", "limits: [1, 2]]\n", "a: &x 1\nb: *y\n"}) {
    SCOPED_TRACE(bad);
    auto r = ParseConfig(bad, "broken.yaml");
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
    EXPECT_EQ(r.status().message().rfind("broken.yaml: not valid YAML", 0), 0u) << r.status().message();
  }
}

TEST(ConfigSyntax, TopLevelMustBeAMap) {
  ExpectRefused(ParseConfig("- a\n- b\n"), "map");
  ExpectRefused(ParseConfig("just a string\n"), "map");
}

TEST(ConfigSyntax, OriginPrefixesEveryMessage) {
  auto r = ParseConfig("bogus: 1\n", "/etc/yilian/broker.yaml");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().message().rfind("/etc/yilian/broker.yaml: bogus", 0), 0u) << r.status().message();
}

TEST(ConfigRetry, MaxBackoffBelowInitialIsRefused) {
  ExpectRefused(ParseConfig("retry:\n  initial_backoff_ms: 5000\n  max_backoff_ms: 4999\n"), "retry.max_backoff_ms");
  // Against the default initial backoff (1000) as well.
  ExpectRefused(ParseConfig("retry:\n  max_backoff_ms: 999\n"), "retry.max_backoff_ms");
  auto r = ParseConfig("retry:\n  initial_backoff_ms: 5000\n  max_backoff_ms: 5000\n");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->retry.max_backoff_ms, 5000u);
}

TEST(ConfigAgencies, ListReplacesTheDefaults) {
  auto r = ParseConfig(
      "agencies:\n"
      "  - id: tax\n"
      "    events: [ESTABLISHED, DEREGISTERED]\n"
      "  - id: \"bank:*\"\n"
      "    events: [CHANGED]\n"
      "    changed_fields: [address, name]\n"
      "  - id: bank:ICBC\n"
      "    events: [FILED]\n"
      "    changed_fields: []\n");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  ASSERT_EQ(r->agencies.size(), 3u);
  EXPECT_EQ(r->agencies[0].id, "tax");
  EXPECT_EQ(r->agencies[0].events, (std::vector<v1::EventType>{v1::ESTABLISHED, v1::DEREGISTERED}));
  EXPECT_TRUE(r->agencies[0].changed_fields.empty());
  EXPECT_FALSE(r->agencies[0].IsBank());
  EXPECT_EQ(r->agencies[1].id, "bank:*");
  EXPECT_TRUE(r->agencies[1].IsBankTemplate());
  EXPECT_EQ(r->agencies[1].changed_fields, (std::vector<std::string>{"address", "name"}));
  EXPECT_EQ(r->agencies[2].id, "bank:ICBC");
  EXPECT_TRUE(r->agencies[2].IsBank());
  EXPECT_FALSE(r->agencies[2].IsBankTemplate());
  EXPECT_EQ(r->agencies[2].events, (std::vector<v1::EventType>{v1::FILED}));
}

TEST(ConfigAgencies, EveryKnownChangedFieldIsAccepted) {
  for (const char* f : {"name", "entity_type", "legal_representative", "registered_capital", "address",
                        "business_scope", "shareholders", "region_code", "accounting_method", "employee_count",
                        "contact", "industry_code"}) {
    auto r = ParseConfig(std::string("agencies:\n  - id: a\n    events: [CHANGED]\n    changed_fields: [") + f +
                         "]\n");
    ASSERT_TRUE(r.ok()) << f << ": " << r.status().ToString();
    EXPECT_EQ(r->agencies[0].changed_fields, std::vector<std::string>{f});
  }
}

TEST(ConfigAgencies, UnknownEventTypeIsRefused) {
  ExpectRefused(ParseConfig("agencies:\n  - id: tax\n    events: [ESTABLISHED, MERGED]\n"), "MERGED");
  ExpectRefused(ParseConfig("agencies:\n  - id: tax\n    events: [MERGED]\n"), "agencies[0].events");
  ExpectRefused(ParseConfig("agencies:\n  - id: tax\n    events: [EVENT_TYPE_UNSPECIFIED]\n"),
                "EVENT_TYPE_UNSPECIFIED");
  ExpectRefused(ParseConfig("agencies:\n  - id: tax\n    events: [established]\n"), "established");
  ExpectRefused(ParseConfig("agencies:\n  - id: tax\n    events: ESTABLISHED\n"), "agencies[0].events");
}

TEST(ConfigAgencies, UnknownChangedFieldIsRefused) {
  ExpectRefused(ParseConfig("agencies:\n  - id: tax\n    events: [CHANGED]\n    changed_fields: [address, colour]\n"),
                "colour");
  ExpectRefused(ParseConfig("agencies:\n  - id: ok\n    events: [CHANGED]\n"
                            "  - id: tax\n    events: [CHANGED]\n    changed_fields: [colour]\n"),
                "agencies[1].changed_fields");
  ExpectRefused(ParseConfig("agencies:\n  - id: tax\n    changed_fields: address\n"), "agencies[0].changed_fields");
}

TEST(ConfigAgencies, DuplicateIdIsRefused) {
  ExpectRefused(ParseConfig("agencies:\n  - id: tax\n    events: [CHANGED]\n  - id: tax\n    events: [FILED]\n"),
                "duplicate agency 'tax'");
  ExpectRefused(ParseConfig("agencies:\n  - id: \"bank:*\"\n  - id: \"bank:*\"\n"), "agencies[1].id");
}

TEST(ConfigAgencies, IdCharactersAreRestricted) {
  for (const char* bad : {"\"tax office\"", "tax/1", "\"税务\"", "\"a,b\"", "\"tax;\""}) {
    SCOPED_TRACE(bad);
    ExpectRefused(ParseConfig(std::string("agencies:\n  - id: ") + bad + "\n    events: [CHANGED]\n"),
                  "agencies[0].id");
  }
  for (const char* ok : {"tax", "Tax_2", "social-insurance", "bank:ICBC", "a.b"}) {
    auto r = ParseConfig(std::string("agencies:\n  - id: ") + ok + "\n    events: [CHANGED]\n");
    ASSERT_TRUE(r.ok()) << ok << ": " << r.status().ToString();
    EXPECT_EQ(r->agencies[0].id, ok);
  }
}

TEST(ConfigAgencies, StarOnlyInTheBankTemplate) {
  for (const char* bad : {"\"*\"", "\"tax*\"", "\"bank:*x\"", "\"bank:IC*\"", "\"*:bank\""}) {
    SCOPED_TRACE(bad);
    ExpectRefused(ParseConfig(std::string("agencies:\n  - id: ") + bad + "\n"), "'*'");
  }
  auto r = ParseConfig("agencies:\n  - id: \"bank:*\"\n    events: [ESTABLISHED]\n");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_TRUE(r->agencies[0].IsBankTemplate());
}

TEST(ConfigAgencies, IdIsRequiredAndBounded) {
  ExpectRefused(ParseConfig("agencies:\n  - events: [CHANGED]\n"), "agencies[0].id");
  ExpectRefused(ParseConfig("agencies:\n  - id: \"\"\n"), "agencies[0].id");
  ExpectRefused(ParseConfig("agencies:\n  - id: " + std::string(65, 'a') + "\n"), "agencies[0].id");
  auto r = ParseConfig("agencies:\n  - id: " + std::string(64, 'a') + "\n");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->agencies[0].id.size(), 64u);
}

TEST(ConfigAgencies, ShapeErrors) {
  ExpectRefused(ParseConfig("agencies:\n  - id: tax\n    colour: red\n"), "agencies[0].colour");
  ExpectRefused(ParseConfig("agencies:\n  - tax\n"), "agencies[0]");
  ExpectRefused(ParseConfig("agencies: tax\n"), "agencies");
  ExpectRefused(ParseConfig("agencies: {id: tax}\n"), "agencies");
  ExpectRefused(ParseConfig("agencies: []\n"), "at least one agency");
}

class ConfigFileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/yilian_config_test_XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override {
    std::error_code ec;
    if (!dir_.empty()) std::filesystem::remove_all(dir_, ec);
  }
  std::string Write(const std::string& name, const std::string& text) {
    std::string path = dir_ + "/" + name;
    std::ofstream(path) << text;
    return path;
  }
  std::string dir_;
};

TEST_F(ConfigFileTest, MissingFileIsAnIoErrorNamingThePath) {
  std::string path = dir_ + "/absent.yaml";
  auto r = LoadConfigFile(path);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kIoError);
  EXPECT_NE(r.status().message().find(path), std::string::npos) << r.status().message();
}

TEST_F(ConfigFileTest, LoadsAFileAndNamesItInErrors) {
  std::string good = Write("good.yaml", "delivery:\n  max_credit: 42\n");
  auto r = LoadConfigFile(good);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->max_credit, 42u);

  std::string bad = Write("bad.yaml", "delivery:\n  max_credit: 0\n");
  auto b = LoadConfigFile(bad);
  ASSERT_FALSE(b.ok());
  EXPECT_EQ(b.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(b.status().message().rfind(bad + ": delivery.max_credit", 0), 0u) << b.status().message();
}

TEST(ConfigHttp, AllowedHostsAreHostNamesInLowerCase) {
  EXPECT_TRUE(ParseConfig("")->http_allowed_hosts.empty());
  auto c = ParseConfig("http:\n  allowed_hosts: [Yilian.Zone.Example, 10.0.0.5, \"[fd00::1]\"]\n");
  ASSERT_TRUE(c.ok()) << c.status().message();
  EXPECT_EQ(c->http_allowed_hosts, (std::vector<std::string>{"yilian.zone.example", "10.0.0.5", "[fd00::1]"}));
  ExpectRefused(ParseConfig("http:\n  allowed_hosts: yilian.zone.example\n"), "http.allowed_hosts");
  ExpectRefused(ParseConfig("http:\n  allowed_hosts: [\"yilian.zone.example:7780\"]\n"), "http.allowed_hosts");
  ExpectRefused(ParseConfig("http:\n  allowed_hosts: [\"https://yilian.zone.example\"]\n"), "http.allowed_hosts");
}

}  // namespace
}  // namespace yilian::config
