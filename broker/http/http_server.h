// HttpServer: the broker's HTTP API (/api/v1/...), health endpoints and the
// dashboard (static files served at /). Reads go to a read-only CaseReader
// on the store (the SQLite store in data_dir, or the PostgreSQL store of
// postgres_conninfo); operator actions go to the broker loop via
// ActionQueue.
// JSON bodies use protobuf's canonical proto3 JSON mapping. Errors are JSON
// {code, message} with the matching HTTP status. See docs/http-api.md.
//
// Sockets, TLS and the bounds on slow and greedy clients are the
// FrontDoor's (front_door.h); this class holds the routes.
//
// Ownership: the ActionQueue and Clock must outlive the server.
// Concurrency: Start/Stop from one thread; requests are served on the
// front door's worker threads.
#pragma once

#include <atomic>
#include <condition_variable>
#include <functional>
#include <optional>
#include <utility>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "common/clock.h"
#include "common/log_throttle.h"
#include "common/status.h"
#include "http/actions.h"
#include "http/front_door.h"
#include "http/publish_queue.h"
#include "http/publish_route.h"
#include "yilian/v1/tracking.pb.h"

typedef struct ssl_ctx_st SSL_CTX;

namespace httplib {
struct Request;
struct Response;
}  // namespace httplib

namespace yilian::http {

class TlsIdentity;

struct HttpOptions {
  std::string listen = "127.0.0.1:7780";  // HOST:PORT; port 0 picks a free one
  // HTTPS with this PEM certificate (chain) and private key; both empty:
  // plain HTTP. The files are looked at every tls_reload_interval_ms and a
  // renewed pair is served from the next handshake on.
  std::string tls_cert_file;
  std::string tls_key_file;
  int tls_reload_interval_ms = 1000;
  // HTTPS: PEM CA certificate(s) every client's certificate must be signed
  // by; empty: clients are not asked for a certificate.
  std::string tls_client_ca_file;
  std::string data_dir;
  // Non-empty: the store is PostgreSQL's (store.postgresql.conninfo), and
  // the API reads it there instead of data_dir's SQLite file.
  std::string postgres_conninfo;
  // PostgreSQL: requests read on up to this many connections at once, each
  // opened when first needed (SQLite: one reader).
  int postgres_pool_size = 4;
  // Host header values answered (lower case, no port); others get 421.
  // Empty: the loopback names when `listen` is on loopback, any otherwise.
  std::vector<std::string> allowed_hosts;
  // Limits on every request, checked before authentication and before the
  // body is read: a larger Content-Length is answered 413, a chunked body
  // 411, more header fields 431.
  std::uint32_t max_body_bytes = 65536;
  std::uint32_t max_headers = 64;
  // Connections, time and memory a client may hold (max_body_bytes above
  // is the door's too).
  FrontDoorOptions door;
  std::uint32_t stats_window_s = 86400;
  // Called by /readyz and /healthz; true when the broker loop is serving.
  std::function<bool()> ready;
  // Bearer tokens: maps a token to (identity, role); unset when no tokens
  // file is configured.
  std::function<std::optional<std::pair<std::string, std::string>>(const std::string&)> authenticate;
  // Client certificates: maps the SHA-256 fingerprint (lower-case hex) of
  // an HTTPS client's certificate to (identity, role); unset when none is
  // listed.
  std::function<std::optional<std::pair<std::string, std::string>>(const std::string&)> authenticate_certificate;
  // POST /api/v1/events: where the events go (unset: no such endpoint),
  // the body limit of that endpoint (instead of max_body_bytes), and the
  // batch, rate and wait limits.
  PublishQueue* publishes = nullptr;
  std::uint32_t max_publish_body_bytes = 1u << 20;
  PublishLimits publish_limits;
  // Reads (GET /api/...) need a token too.
  bool read_token_required = false;
  // --insecure-dev without a tokens file: operator actions allowed as "dev".
  bool dev_mode = false;
  // GET /api/v1/archive: the retention job's state as JSON
  // (yilian.v1.ArchiveStatus); POST /api/v1/archive runs it now (false:
  // this broker does not archive). Unset: no such routes.
  std::function<std::string()> archive_status;
  std::function<bool()> request_archive;
  // GET /api/v1/rekey: the data-key rotation's progress; unset: no route.
  std::function<v1::RekeyStatus()> rekey_status;
  // Prometheus text for /metrics; unset: no /metrics.
  std::function<std::string()> metrics;
  // Told each connection the front door closed early, with the reason
  // (FrontDoor::Observer's words); for a metric.
  std::function<void(const char* reason)> on_early_close;
};

class HttpServer {
 public:
  HttpServer(HttpOptions options, ActionQueue* actions, Clock* clock);
  ~HttpServer();

  // Binds and starts serving on a background thread.
  Status Start();
  void Stop();
  // The bound "HOST:PORT".
  std::string address() const { return address_; }

 private:
  class Router;
  void Routes();
  void OnEarlyClose(const char* reason, const std::string& peer);
  // 401 for a bearer token no entry has, logged once per address every 10 s.
  void RefuseUnknownToken(const httplib::Request& req, httplib::Response& res);

  HttpOptions options_;
  ActionQueue* actions_;
  Clock* clock_;
  void WatchTls();

  std::unique_ptr<TlsIdentity> tls_;
  SSL_CTX* ssl_ctx_ = nullptr;  // owned; HTTPS only
  std::unique_ptr<Router> router_;
  std::unique_ptr<FrontDoor> door_;
  std::string address_;
  std::unique_ptr<PublishRateLimiter> publish_rate_;
  LogThrottle token_refusals_log_{clock_, 10000};  // unknown tokens, by client address
  LogThrottle early_close_log_{clock_, 10000};     // connections closed early, by client address
  std::thread tls_watcher_;
  std::mutex watch_mu_;
  std::condition_variable watch_cv_;
  bool watch_stop_ = false;
};

}  // namespace yilian::http
