// The operators' view of the broker: the HTTP API and dashboard it serves
// (http/), and the gauges it refreshes once a second for /metrics.
#include <sys/statvfs.h>

#include <algorithm>
#include <map>

#include "http/json.h"
#include "server/broker_impl.h"

namespace yilian::server {

Status BrokerImpl::StartHttp() {
  if (config_.http_listen.empty()) return Status::Ok();
  http::HttpOptions options;
  options.listen = config_.http_listen;
  options.tls_cert_file = config_.http_tls_cert_file;
  options.tls_key_file = config_.http_tls_key_file;
  options.tls_client_ca_file = config_.http_tls_client_ca_file;
  options.data_dir = config_.data_dir;
  if (config_.store_backend == "postgresql") {
    options.postgres_conninfo = config_.store_postgresql_conninfo;
    options.postgres_pool_size = static_cast<int>(config_.store_postgresql_pool_size);
  }
  options.allowed_hosts = config_.http_allowed_hosts;
  options.max_body_bytes = config_.http_max_body_bytes;
  options.max_headers = config_.http_max_headers;
  options.door.read_timeout_ms = config_.http_read_timeout_ms;
  options.door.header_timeout_ms = config_.http_header_timeout_ms;
  options.door.write_timeout_ms = config_.http_write_timeout_ms;
  options.door.handshake_timeout_ms = config_.http_handshake_timeout_ms;
  options.door.max_connections = config_.http_max_connections;
  options.door.max_per_address = config_.http_max_connections_per_address;
  options.door.max_header_bytes = config_.http_max_header_bytes;
  options.door.workers = config_.http_workers;
  options.door.max_requests_per_connection = config_.http_max_requests_per_connection;
  options.door.keep_alive_timeout_ms = config_.http_keep_alive_timeout_ms;
  options.on_early_close = [this](const char* reason) { metrics_.HttpEarlyClose(reason); };
  options.stats_window_s = config_.stats_window_s;
  options.ready = [this] { return serving_.load(); };
  options.read_token_required = config_.http_read_token_required;
  options.dev_mode = !secure_;
  options.metrics = [this] { return metrics_.Serialize(); };
  options.rekey_status = [this] {
    v1::RekeyStatus status;
    const std::uint64_t total = rekey_progress_.total.load(), done = std::min(rekey_progress_.done.load(), total);
    status.set_state(ToString(static_cast<RekeyState>(rekey_progress_.state.load())));
    status.set_current_key_id(rekey_progress_.key_id);
    status.set_total(total);
    status.set_done(done);
    status.set_remaining(total - done);
    return status;
  };
  if (tokens_) {
    // The ring is immutable after start-up: safe to read from HTTP threads.
    const auth::TokenRing* ring = &*tokens_;
    options.authenticate = [ring](const std::string& token) -> std::optional<std::pair<std::string, std::string>> {
      auto p = ring->Find(token);
      if (!p) return std::nullopt;
      return std::make_pair(p->identity, p->role);
    };
    if (ring->certificates() > 0) {
      options.authenticate_certificate =
          [ring](const std::string& sha256) -> std::optional<std::pair<std::string, std::string>> {
        auto p = ring->FindCertificate(sha256);
        if (!p) return std::nullopt;
        return std::make_pair(p->identity, p->role);
      };
    }
  }
  options.archive_status = [this] {
    if (archiver_) return archiver_->StatusJson();
    v1::ArchiveStatus off;  // the PostgreSQL store does not archive
    off.set_state("off");
    off.set_retention_days(config_.store_retention_days);
    return http::ToJson(off);
  };
  options.request_archive = [this]() -> bool {
    if (!archiver_ || !archiver_->enabled()) return false;
    archiver_->RequestRun();
    return true;
  };
  options.publishes = &http_publishes_;
  options.max_publish_body_bytes = config_.http_max_publish_body_bytes;
  options.publish_limits.max_batch = config_.http_max_publish_batch;
  options.publish_limits.rate_per_client = config_.http_publish_rate_per_client;
  http_ = std::make_unique<http::HttpServer>(options, &actions_, clock_);
  return http_->Start();
}

void BrokerImpl::UpdateGauges(Millis now) {
  for (const auto& a : agencies_) {
    metrics_.QueueDepth(a->id, static_cast<double>(a->queue.pending()));
    double age = 0;
    if (auto oldest = a->queue.Oldest()) {
      auto row = store_->GetCase(*oldest);
      if (row.ok() && row.value()) age = static_cast<double>(now - row.value()->published_at) / 1000.0;
    }
    metrics_.OldestWaiting(a->id, age);
  }
  // Free space: a full disk refuses publishes (STORE_UNAVAILABLE), so
  // operators are warned before, once a minute while it lasts.
  struct statvfs fs {};
  if (statvfs(config_.data_dir.c_str(), &fs) == 0) {
    const double free_bytes = static_cast<double>(fs.f_bavail) * static_cast<double>(fs.f_frsize);
    const double warn_bytes = static_cast<double>(config_.free_space_warn_mib) * 1024 * 1024;
    metrics_.StoreFreeSpace(free_bytes, warn_bytes);
    if (free_bytes < warn_bytes) {
      if (auto unlogged = free_space_log_.Admit("free space"))
        log_->warn("the data directory's file system has {:.0f} MiB free, less than store.free_space_warn_mib ({}); "
                   "at 0 the broker refuses publishes{}",
                   free_bytes / (1024 * 1024), config_.free_space_warn_mib, LogThrottle::Suppressed(*unlogged));
    }
  }
  if (webhook_ && tracking_) {
    const std::uint64_t failures = webhook_->failures();
    metrics_.Webhook(static_cast<double>(tracking_->UnacknowledgedUpdates()),
                     static_cast<double>(failures - webhook_failures_counted_));
    webhook_failures_counted_ = failures;
  }
  if (archiver_) {
    const std::uint64_t events = archiver_->events_archived(), failures = archiver_->failures();
    metrics_.Archive(static_cast<double>(events - archive_counted_.first),
                     static_cast<double>(failures - archive_counted_.second));
    archive_counted_ = {events, failures};
  }
  const std::uint64_t rekey_total = rekey_progress_.total.load();
  metrics_.RekeyRemaining(
      static_cast<double>(rekey_total - std::min(rekey_progress_.done.load(), rekey_total)));
  std::map<std::string, double> roles = {{"PUBLISHER", 0}, {"CONSUMER", 0}, {"WATCHER", 0}};
  for (const auto& [rid, s] : sessions_) roles[v1::ClientRole_Name(s.role)] += 1;
  for (const auto& [role, n] : roles) metrics_.Sessions(role, n);
}

}  // namespace yilian::server
