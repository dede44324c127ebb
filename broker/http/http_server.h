// HttpServer: the broker's HTTP API (/api/v1/...), health endpoints and the
// dashboard (static files served at /). Reads go to a read-only CaseReader
// on the store; operator actions go to the broker loop via ActionQueue.
// JSON bodies use protobuf's canonical proto3 JSON mapping. Errors are JSON
// {code, message} with the matching HTTP status. See docs/http-api.md.
//
// Ownership: the ActionQueue and Clock must outlive the server.
// Concurrency: Start/Stop from one thread; requests are served on the
// server's own threads.
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

namespace httplib {
class Server;
}

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
  // Host header values answered (lower case, no port); others get 421.
  // Empty: the loopback names when `listen` is on loopback, any otherwise.
  std::vector<std::string> allowed_hosts;
  // Limits on every request, checked before authentication and before the
  // body is read: a larger Content-Length is answered 413 (a chunked body
  // is cut off at the limit), more header fields 431.
  std::uint32_t max_body_bytes = 65536;
  std::uint32_t max_headers = 64;
  std::uint32_t read_timeout_ms = 5000;
  std::uint32_t stats_window_s = 86400;
  // Called by /readyz and /healthz; true when the broker loop is serving.
  std::function<bool()> ready;
  // Bearer tokens: maps a token to (identity, role); unset when no tokens
  // file is configured.
  std::function<std::optional<std::pair<std::string, std::string>>(const std::string&)> authenticate;
  // Reads (GET /api/...) need a token too.
  bool read_token_required = false;
  // --insecure-dev without a tokens file: operator actions allowed as "dev".
  bool dev_mode = false;
  // Prometheus text for /metrics; unset: no /metrics.
  std::function<std::string()> metrics;
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
  void Routes();

  HttpOptions options_;
  ActionQueue* actions_;
  Clock* clock_;
  void WatchTls();

  std::unique_ptr<httplib::Server> server_;
  std::thread thread_;
  std::string address_;
  std::unique_ptr<TlsIdentity> tls_;
  LogThrottle token_refusals_log_{clock_, 10000};  // unknown tokens, by client address
  std::thread tls_watcher_;
  std::mutex watch_mu_;
  std::condition_variable watch_cv_;
  bool watch_stop_ = false;
};

}  // namespace yilian::http
