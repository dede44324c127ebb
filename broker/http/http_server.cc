#include "http/http_server.h"

#include <httplib.h>
#include <openssl/ssl.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <chrono>
#include <cstring>
#include <mutex>
#include <stdexcept>
#include <thread>

#include <google/protobuf/util/json_util.h>
#include <google/protobuf/util/time_util.h>

#include "common/client_text.h"
#include "common/log.h"
#include "common/log_throttle.h"
#include "http/json.h"
#include "http/publish_route.h"
#include "http/openapi_document.h"
#include "http/tls_identity.h"
#include "http/web_assets.h"
#include "yilian/store/case_reader.h"

namespace yilian::http {
namespace {

// How often a waiting long poll (GET /api/v1/updates?wait=) reads the
// store again.
constexpr int kLongPollIntervalMs = 100;

using google::protobuf::util::TimeUtil;

void SendJson(httplib::Response& res, int status, const google::protobuf::Message& m) {
  res.status = status;
  res.set_content(ToJson(m), "application/json; charset=utf-8");
}

void SendError(httplib::Response& res, int status, const std::string& code, const std::string& message) {
  v1::ApiError e;
  e.set_code(code);
  e.set_message(message);
  SendJson(res, status, e);
}

int HttpStatusFor(StatusCode code) {
  switch (code) {
    case StatusCode::kNotFound: return 404;
    case StatusCode::kInvalidArgument:
    case StatusCode::kOutOfRange: return 400;
    case StatusCode::kFailedPrecondition:
    case StatusCode::kConflict: return 409;
    case StatusCode::kUnavailable:
    case StatusCode::kResourceExhausted:
    case StatusCode::kIoError: return 503;
    default: return 500;
  }
}

// Parses a JSON request body into `m` (empty body = defaults).
bool ParseBody(const httplib::Request& req, httplib::Response& res, google::protobuf::Message* m) {
  if (req.body.empty()) return true;
  google::protobuf::util::JsonParseOptions o;
  auto status = google::protobuf::util::JsonStringToMessage(req.body, m, o);
  if (!status.ok()) {
    // The parser's message quotes the body, over several lines.
    SendError(res, 400, "INVALID_ARGUMENT", "request body is not a valid " + m->GetDescriptor()->name() +
                                                " JSON object: " + ClientText(std::string(status.message()), 512));
    return false;
  }
  return true;
}

// The host part of a Host header, lower case: "LOCALHOST:7780" ->
// "localhost", "[::1]:7780" -> "[::1]".
std::string HostName(const std::string& header) {
  std::string host = header;
  if (!host.empty() && host.front() == '[') {
    host = host.substr(0, host.find(']') + 1);
  } else if (auto colon = host.rfind(':'); colon != std::string::npos) {
    host.resize(colon);
  }
  for (char& c : host) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return host;
}

const char* EarlyCloseText(const char* reason) {
  const std::string_view r = reason;
  if (r == "refused") return "over http.max_connections or http.max_connections_per_address, all at work (refused)";
  if (r == "evicted")
    return "the oldest connection still waiting for its request, to make room for a new one "
           "(http.max_connections, http.max_connections_per_address)";
  if (r == "handshake") return "TLS handshake failed or took longer than http.handshake_timeout_ms";
  if (r == "timeout") return "request or response took too long (http.header_timeout_ms, http.read_timeout_ms, "
                             "http.write_timeout_ms)";
  if (r == "too_large") return "request head over http.max_header_bytes";
  return reason;
}

bool IsLoopbackHost(const std::string& host) {
  return host == "127.0.0.1" || host == "localhost" || host == "::1" || host == "[::1]";
}

// What every response carries: the dashboard loads only its own files, is
// never framed, and no type is guessed.
void SetSecurityHeaders(httplib::Response& res) {
  res.set_header("Content-Security-Policy",
                 "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
                 "base-uri 'none'; form-action 'none'; frame-ancestors 'none'");
  res.set_header("X-Frame-Options", "DENY");
  res.set_header("X-Content-Type-Options", "nosniff");
  res.set_header("Referrer-Policy", "no-referrer");
}

// The exchange a worker thread is serving, for what the connection knows
// and the request cannot say (the client certificate).
thread_local const Exchange* current_exchange = nullptr;

}  // namespace

// The routes, handlers and HTTP parsing of the HTTP library, without its
// sockets: the front door hands over each request whole, and takes the
// response back as bytes.
class HttpServer::Router : public httplib::Server {
 public:
  explicit Router(const FrontDoorOptions& door) : max_response_(door.max_response_bytes) {
    // What the Keep-Alive header of a response tells the client.
    set_keep_alive_max_count(door.max_requests_per_connection);
    set_keep_alive_timeout(door.keep_alive_timeout_ms / 1000);
  }

  // The door decides whether the connection may stay open (the request read
  // whole, the client not asking to close, under the request bound), and
  // the response says so: Connection: close, or Keep-Alive.
  void Serve(Exchange& exchange) {
    BufferStream stream(exchange, max_response_);
    bool closed = false;
    current_exchange = &exchange;
    process_request(stream, /*close_connection=*/!exchange.keep_alive, closed, nullptr);
    current_exchange = nullptr;
    // A response cut off at max_response_bytes leaves the client expecting
    // bytes that will never come: only closing ends it.
    if (stream.cut_off()) exchange.keep_alive = false;
  }

  // The SHA-256 of the client certificate of the connection whose request
  // this thread is serving (64 lower-case hex digits), from the TLS
  // handshake: no header can stand in for it. Empty without a client
  // certificate, or outside a route handler.
  static std::string PeerCertificateSha256() {
    return current_exchange ? current_exchange->peer_certificate_sha256 : std::string();
  }

 private:
  // Reads the buffered request; writes the response into memory.
  class BufferStream : public httplib::Stream {
   public:
    BufferStream(Exchange& exchange, std::size_t max_response) : exchange_(exchange), max_(max_response) {}
    bool is_readable() const override { return read_ < exchange_.request.size(); }
    bool is_writable() const override { return exchange_.response.size() < max_; }
    ssize_t read(char* ptr, size_t size) override {
      const std::size_t n = std::min(size, exchange_.request.size() - read_);
      std::memcpy(ptr, exchange_.request.data() + read_, n);
      read_ += n;
      return static_cast<ssize_t>(n);
    }
    ssize_t write(const char* ptr, size_t size) override {
      if (exchange_.response.size() + size > max_) {
        cut_off_ = true;
        return -1;
      }
      exchange_.response.append(ptr, size);
      return static_cast<ssize_t>(size);
    }
    void get_remote_ip_and_port(std::string& ip, int& port) const override {
      ip = exchange_.peer_ip;
      port = exchange_.peer_port;
    }
    void get_local_ip_and_port(std::string& ip, int& port) const override {
      ip = exchange_.local_ip;
      port = exchange_.local_port;
    }
    // No socket: the library would otherwise refuse descriptors over
    // FD_SETSIZE, which this broker may well have.
    socket_t socket() const override { return 0; }
    bool cut_off() const { return cut_off_; }

   private:
    Exchange& exchange_;
    const std::size_t max_;
    std::size_t read_ = 0;
    bool cut_off_ = false;
  };

  const std::size_t max_response_;
};

HttpServer::HttpServer(HttpOptions options, ActionQueue* actions, Clock* clock)
    : options_(std::move(options)), actions_(actions), clock_(clock) {}

HttpServer::~HttpServer() {
  Stop();
  if (ssl_ctx_) SSL_CTX_free(ssl_ctx_);
}

Status HttpServer::Start() {
  auto colon = options_.listen.rfind(':');
  if (colon == std::string::npos) return Status::InvalidArgument("http.listen '" + options_.listen + "' is not HOST:PORT");
  std::string host = options_.listen.substr(0, colon);
  int port = 0;
  try {
    port = std::stoi(options_.listen.substr(colon + 1));
  } catch (...) {
    return Status::InvalidArgument("http.listen '" + options_.listen + "': port is not a number");
  }
  if (port < 0 || port > 65535) return Status::InvalidArgument("http.listen '" + options_.listen + "': port out of range");
  const bool tls = !options_.tls_cert_file.empty();
  if (tls) {
    // Reads both files: a missing or unreadable file, a key that does not
    // match the certificate or a malformed PEM stops the start.
    auto identity = TlsIdentity::Load(options_.tls_cert_file, options_.tls_key_file);
    if (!identity.ok()) return Status::InvalidArgument("HTTPS: " + identity.status().message());
    tls_ = std::move(identity.value());
    ssl_ctx_ = SSL_CTX_new(TLS_server_method());
    if (!ssl_ctx_) return Status::Internal("HTTPS: cannot create a TLS context");
    SSL_CTX_set_min_proto_version(ssl_ctx_, TLS1_2_VERSION);
    SSL_CTX_set_options(ssl_ctx_, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION);
    // Every handshake takes the identity's current pair, which a renewal
    // replaces.
    tls_->Attach(ssl_ctx_);
    if (!options_.tls_client_ca_file.empty()) {
      if (Status s = TlsIdentity::RequireClientCertificates(ssl_ctx_, options_.tls_client_ca_file); !s.ok())
        return Status::InvalidArgument("HTTPS: " + s.message());
    }
  }
  router_ = std::make_unique<Router>(options_.door);
  Routes();
  FrontDoorOptions door = options_.door;
  door.max_body_bytes = options_.max_body_bytes;
  if (options_.publishes) {
    // Only a publish may carry a body that large: the door reads no more of
    // any other request (and so holds no more memory for it).
    door.large_body_request = "POST /api/v1/events ";
    door.large_body_bytes = options_.max_publish_body_bytes;
    publish_rate_ = std::make_unique<PublishRateLimiter>(options_.publish_limits.rate_per_client);
  }
  door_ = std::make_unique<FrontDoor>(
      door, ssl_ctx_, [this](Exchange& exchange) { router_->Serve(exchange); },
      [this](const char* reason, const std::string& peer) { OnEarlyClose(reason, peer); });
  auto bound = door_->Bind(host, port);
  if (!bound.ok()) return Status::Unavailable("cannot bind HTTP on '" + options_.listen + "': " + bound.status().message());
  address_ = host + ":" + std::to_string(bound.value());
  door_->Start();
  GetLogger("http")->info("HTTP API and dashboard on {}://{}/", tls ? "https" : "http", address_);
  if (tls_) {
    GetLogger("http")->info("HTTPS certificate: {}", tls_->Describe());
    if (!options_.tls_client_ca_file.empty())
      GetLogger("http")->info("HTTPS clients must present a certificate signed by a CA in '{}'",
                              options_.tls_client_ca_file);
    tls_watcher_ = std::thread([this] { WatchTls(); });
  }
  if (!tls && host != "127.0.0.1" && host != "localhost" && host != "::1")
    GetLogger("http")->warn("HTTP on {} is not loopback and has no TLS: bearer tokens and case data cross the "
                            "network in clear (set http.tls_cert_file and http.tls_key_file)",
                            address_);
  return Status::Ok();
}

void HttpServer::RefuseUnknownToken(const httplib::Request& req, httplib::Response& res) {
  res.set_header("WWW-Authenticate", "Bearer");
  SendError(res, 401, "UNAUTHORIZED", "unknown bearer token");
  // A client trying tokens one after another gets one line per 10 s.
  if (auto unlogged = token_refusals_log_.Admit(req.remote_addr))
    GetLogger("http")->warn("refused {} {} from {}: unknown bearer token{}", ClientText(req.method, 16),
                            ClientText(req.path, 256), ClientText(req.remote_addr, 64),
                            LogThrottle::Suppressed(*unlogged));
}

void HttpServer::OnEarlyClose(const char* reason, const std::string& peer) {
  if (options_.on_early_close) options_.on_early_close(reason);
  // One line per client address every 10 s, whatever the client does.
  if (auto unlogged = early_close_log_.Admit(peer))
    GetLogger("http")->warn("closed an HTTP connection from {} early: {}{}", ClientText(peer, 64),
                            EarlyCloseText(reason), LogThrottle::Suppressed(*unlogged));
}

void HttpServer::Stop() {
  if (tls_watcher_.joinable()) {
    {
      std::lock_guard<std::mutex> lock(watch_mu_);
      watch_stop_ = true;
    }
    watch_cv_.notify_all();
    tls_watcher_.join();
  }
  if (door_) door_->Stop();
}

void HttpServer::WatchTls() {
  std::unique_lock<std::mutex> lock(watch_mu_);
  while (!watch_cv_.wait_for(lock, std::chrono::milliseconds(options_.tls_reload_interval_ms),
                             [this] { return watch_stop_; })) {
    std::string detail;
    switch (tls_->ReloadIfChanged(&detail)) {
      case TlsIdentity::Reload::kUnchanged: break;
      case TlsIdentity::Reload::kReloaded:
        GetLogger("http")->info("HTTPS certificate renewed from '{}' and '{}': {}", options_.tls_cert_file,
                                options_.tls_key_file, detail);
        break;
      case TlsIdentity::Reload::kRefused:
        GetLogger("http")->warn("HTTPS certificate files changed but were not taken, the current certificate stays "
                                "({}): {}",
                                tls_->Describe(), detail);
        break;
    }
  }
}

void HttpServer::Routes() {
  // The readers: one for SQLite, up to postgres_pool_size PostgreSQL
  // connections, each opened when concurrent requests first need it.
  struct ReaderSlot {
    std::mutex mu;
    std::unique_ptr<store::CaseReader> reader;
  };
  const std::size_t pool =
      options_.postgres_conninfo.empty() ? 1 : static_cast<std::size_t>(std::max(1, options_.postgres_pool_size));
  auto slots = std::make_shared<std::vector<ReaderSlot>>(pool);
  auto next_slot = std::make_shared<std::atomic<std::size_t>>(0);
  // Runs fn with an open reader (a free one, else waits for one in turn),
  // or answers 503.
  auto with_reader = [this, slots, next_slot](httplib::Response& res, auto&& fn) {
    ReaderSlot* slot = nullptr;
    std::unique_lock<std::mutex> lock;
    // The first free slot: slots open in order, so the lower ones are
    // those with a connection already.
    for (ReaderSlot& s : *slots) {
      std::unique_lock<std::mutex> l(s.mu, std::try_to_lock);
      if (!l.owns_lock()) continue;
      slot = &s;
      lock = std::move(l);
      break;
    }
    if (slot == nullptr) {
      slot = &(*slots)[next_slot->fetch_add(1) % slots->size()];
      lock = std::unique_lock<std::mutex>(slot->mu);
    }
    if (!slot->reader) {
      auto opened = options_.postgres_conninfo.empty() ? store::CaseReader::Open(options_.data_dir)
                                                       : store::CaseReader::OpenPostgres(options_.postgres_conninfo);
      if (!opened.ok()) return SendError(res, 503, "UNAVAILABLE", opened.status().message());
      slot->reader = std::move(opened).value();
    }
    fn(*slot->reader);
  };
  auto& s = *router_;

  // Who is asking: the identity behind the bearer token, printable (it is
  // the actor of log lines, audit records and resolutions). Answers 401/403
  // itself and returns nullopt when the request may not go on.
  auto authorize = [this](const httplib::Request& req, httplib::Response& res,
                          bool admin) -> std::optional<std::string> {
    if (!options_.authenticate) {
      if (!admin) return std::string("anonymous");
      if (options_.dev_mode) return std::string("dev");
      SendError(res, 403, "FORBIDDEN", "operator actions need bearer tokens (security.tokens_file)");
      return std::nullopt;
    }
    if (!admin && !options_.read_token_required) return std::string("anonymous");
    std::string header = req.get_header_value("Authorization");
    const std::string prefix = "Bearer ";
    if (header.rfind(prefix, 0) != 0) {
      res.set_header("WWW-Authenticate", "Bearer");
      SendError(res, 401, "UNAUTHORIZED", "missing bearer token (Authorization: Bearer <token>)");
      return std::nullopt;
    }
    auto who = options_.authenticate(header.substr(prefix.size()));
    if (!who) {
      RefuseUnknownToken(req, res);
      return std::nullopt;
    }
    const std::string identity = ClientText(who->first, 64);
    if (admin && who->second != "admin") {
      SendError(res, 403, "FORBIDDEN", "identity '" + identity + "' (role " + who->second + ") may not act");
      GetLogger("http")->warn("refused {} {}: identity '{}' is not admin", ClientText(req.method, 16),
                              ClientText(req.path, 256), identity);
      return std::nullopt;
    }
    return identity;
  };

  // Who publishes (POST /api/v1/events): a bearer token, else the HTTPS
  // client certificate, of role publisher (docs/http-api.md, 4.1). Answers
  // 401/403 itself and returns nullopt when the request may not go on.
  auto authorize_publisher = [this](const httplib::Request& req,
                                    httplib::Response& res) -> std::optional<std::string> {
    const std::string header = req.get_header_value("Authorization");
    const std::string prefix = "Bearer ";
    const bool configured = options_.authenticate || options_.authenticate_certificate;
    std::optional<std::pair<std::string, std::string>> who;
    if (header.rfind(prefix, 0) == 0 && options_.authenticate) {
      who = options_.authenticate(header.substr(prefix.size()));
      if (!who) {
        RefuseUnknownToken(req, res);
        return std::nullopt;
      }
    } else if (const std::string fingerprint = Router::PeerCertificateSha256();
               !fingerprint.empty() && options_.authenticate_certificate) {
      who = options_.authenticate_certificate(fingerprint);
    }
    if (!who) {
      if (!configured && options_.dev_mode) return std::string("dev");
      if (!configured) {
        SendError(res, 403, "FORBIDDEN",
                  "publishing over HTTP needs a publisher token or client certificate (security.tokens_file)");
        return std::nullopt;
      }
      res.set_header("WWW-Authenticate", "Bearer");
      SendError(res, 401, "UNAUTHORIZED",
                "publishing needs a bearer token (Authorization: Bearer <token>) or a client certificate listed "
                "in security.tokens_file, of role publisher");
      return std::nullopt;
    }
    const std::string identity = ClientText(who->first, 64);
    if (who->second != "publisher") {
      SendError(res, 403, "FORBIDDEN", "identity '" + identity + "' (role " + who->second + ") may not publish");
      GetLogger("http")->warn("refused {} {}: identity '{}' is not a publisher", ClientText(req.method, 16),
                              ClientText(req.path, 256), identity);
      return std::nullopt;
    }
    return identity;
  };

  // Runs when the request line and headers are read, before the body: the
  // limits and the token are checked first, so an unauthenticated or
  // oversized body is never read. A body the front door did not read (over
  // max_body_bytes, chunked) closes the connection after the response
  // (front_door.h, "Keep-alive"), so it is never taken for a next request.
  // The HTTP library's own bound must let a publish's larger body through
  // (it would answer 413 with no body); the pre-routing handler below holds
  // every request to its endpoint's limit from the Content-Length.
  s.set_payload_max_length(std::max<std::size_t>(options_.max_body_bytes, options_.max_publish_body_bytes));
  // Against DNS rebinding: a page of another site whose name resolves to
  // this address must not be answered as if it were the dashboard.
  std::vector<std::string> hosts = options_.allowed_hosts;
  const std::string listen_host = HostName(options_.listen);
  if (hosts.empty() && IsLoopbackHost(listen_host)) hosts = {"localhost", "127.0.0.1", "[::1]"};
  s.set_post_routing_handler([](const httplib::Request&, httplib::Response& res) { SetSecurityHeaders(res); });
  s.set_pre_routing_handler([this, authorize, authorize_publisher, hosts](const httplib::Request& req,
                                                                           httplib::Response& res) {
    const auto refuse = httplib::Server::HandlerResponse::Handled;
    if (!hosts.empty()) {
      const std::string host = HostName(req.get_header_value("Host"));
      if (std::find(hosts.begin(), hosts.end(), host) == hosts.end()) {
        SetSecurityHeaders(res);
        SendError(res, 421, "UNKNOWN_HOST",
                  "this server does not answer for the host named in the request (http.allowed_hosts)");
        return refuse;
      }
    }
    // httplib adds REMOTE_ADDR, REMOTE_PORT, LOCAL_ADDR and LOCAL_PORT to
    // the fields the client sent.
    if (req.headers.size() > options_.max_headers + 4) {
      SendError(res, 431, "TOO_MANY_HEADERS",
                "a request may carry at most " + std::to_string(options_.max_headers) + " header fields");
      return refuse;
    }
    // A chunked body has no length to check before it is read (and the
    // HTTP library does not hold it to the limit): the API takes bodies
    // with a Content-Length only.
    if (req.has_header("Transfer-Encoding")) {
      SendError(res, 411, "LENGTH_REQUIRED", "request bodies must have a Content-Length (no Transfer-Encoding)");
      return refuse;
    }
    const bool read = req.method == "GET" || req.method == "HEAD";
    const bool publish = options_.publishes && req.method == "POST" && req.path == "/api/v1/events";
    if (publish) {
      if (!authorize_publisher(req, res)) return refuse;
    } else if (req.path.rfind("/api/", 0) == 0 && !authorize(req, res, /*admin=*/!read)) {
      return refuse;
    }
    const std::uint64_t max_body = publish ? options_.max_publish_body_bytes : options_.max_body_bytes;
    const char* max_body_key = publish ? "http.max_publish_body_bytes" : "http.max_body_bytes";
    if (req.has_header("Content-Length")) {
      const std::string length = req.get_header_value("Content-Length");
      std::uint64_t n = 0;
      bool number = !length.empty() && length.size() <= 19;
      for (char c : length) {
        if (c < '0' || c > '9') {
          number = false;
          break;
        }
        n = n * 10 + static_cast<std::uint64_t>(c - '0');
      }
      if (!number) {
        SendError(res, 400, "INVALID_ARGUMENT", "Content-Length is not a number");
        return refuse;
      }
      if (n > max_body) {
        SendError(res, 413, "PAYLOAD_TOO_LARGE",
                  "request body of " + std::to_string(n) + " bytes; at most " + std::to_string(max_body) + " (" +
                      max_body_key + ")");
        return refuse;
      }
    }
    return httplib::Server::HandlerResponse::Unhandled;
  });

  s.Get("/healthz", [](const httplib::Request&, httplib::Response& res) {
    res.set_content("{\"status\":\"ok\"}", "application/json");
  });
  if (options_.metrics) {
    s.Get("/metrics", [this](const httplib::Request&, httplib::Response& res) {
      res.set_content(options_.metrics(), "text/plain; version=0.0.4; charset=utf-8");
    });
  }
  s.Get("/readyz", [this](const httplib::Request&, httplib::Response& res) {
    bool ok = !options_.ready || options_.ready();
    res.status = ok ? 200 : 503;
    res.set_content(ok ? "{\"status\":\"ready\"}" : "{\"status\":\"not_ready\"}", "application/json");
  });
  // The contract of this API (docs/openapi.yaml), compiled in. A read.
  s.Get("/api/v1/openapi.yaml", [](const httplib::Request&, httplib::Response& res) {
    res.set_content(std::string(OpenApiDocument()), "application/yaml");
  });

  s.Get(R"(/api/v1/cases/([^/]+))", [with_reader](const httplib::Request& req, httplib::Response& res) {
    std::string id = req.matches[1];
    with_reader(res, [&](store::CaseReader& r) {
      auto c = r.LoadCase(id);
      if (!c.ok()) return SendError(res, HttpStatusFor(c.status().code()), std::string(ToString(c.status().code())), c.status().message());
      if (!c.value()) {
        // A case past the retention lives in an archive file: say which.
        auto archived = r.FindArchived(id);
        if (archived.ok() && archived.value())
          return SendError(res, 410, "ARCHIVED",
                           "the case of event '" + ClientText(id, 128) + "' (sequence " +
                               std::to_string(archived.value()->seq) + ") was moved to archive file " +
                               archived.value()->file + " on " + TimeUtil::ToString(
                                   TimeUtil::MillisecondsToTimestamp(archived.value()->archived_at)) +
                               "; it is no longer in the live store");
        return SendError(res, 404, "NOT_FOUND", "no case for event '" + ClientText(id, 128) + "'");
      }
      SendJson(res, 200, *c.value());
    });
  });

  s.Get("/api/v1/cases", [with_reader](const httplib::Request& req, httplib::Response& res) {
    store::CaseFilter f;
    f.uscc = req.get_param_value("uscc");
    f.agency = req.get_param_value("agency");
    std::string status = req.get_param_value("status");
    if (!status.empty()) {
      v1::CaseState st;
      if (!v1::CaseState_Parse(status, &st) || st == v1::CASE_STATE_UNSPECIFIED)
        return SendError(res, 400, "INVALID_ARGUMENT", "status must be IN_PROGRESS, COMPLETED or ATTENTION");
      f.state = st;
    }
    std::string overdue = req.get_param_value("overdue");
    if (!overdue.empty() && overdue != "true" && overdue != "false")
      return SendError(res, 400, "INVALID_ARGUMENT", "overdue must be true or false");
    f.overdue_only = overdue == "true";
    std::string since = req.get_param_value("since");
    if (!since.empty()) {
      google::protobuf::Timestamp ts;
      if (!TimeUtil::FromString(since, &ts))
        return SendError(res, 400, "INVALID_ARGUMENT", "since must be an RFC 3339 time, e.g. 2026-11-27T08:00:00Z");
      f.since = TimeUtil::TimestampToMilliseconds(ts);
    }
    try {
      if (req.has_param("limit")) f.limit = std::stoi(req.get_param_value("limit"));
      if (req.has_param("cursor")) f.before = std::stoull(req.get_param_value("cursor"));
    } catch (...) {
      return SendError(res, 400, "INVALID_ARGUMENT", "limit and cursor must be numbers");
    }
    if (f.limit < 1 || f.limit > 1000) return SendError(res, 400, "INVALID_ARGUMENT", "limit must be 1..1000");
    with_reader(res, [&](store::CaseReader& r) {
      auto list = r.ListCases(f);
      if (!list.ok()) return SendError(res, HttpStatusFor(list.status().code()), "UNAVAILABLE", list.status().message());
      SendJson(res, 200, list.value());
    });
  });

  s.Get(R"(/api/v1/enterprises/([^/]+))", [with_reader](const httplib::Request& req, httplib::Response& res) {
    std::string uscc = req.matches[1];
    with_reader(res, [&](store::CaseReader& r) {
      auto t = r.Timeline(uscc);
      if (!t.ok()) return SendError(res, HttpStatusFor(t.status().code()), "UNAVAILABLE", t.status().message());
      if (!t.value())
        return SendError(res, 404, "NOT_FOUND", "no events for enterprise '" + ClientText(uscc, 64) + "'");
      SendJson(res, 200, *t.value());
    });
  });

  // The data-key rotation (docs/security.md section 2). A read; with
  // security.http_read_token_required, for observer and admin tokens.
  if (options_.rekey_status) {
    s.Get("/api/v1/rekey", [this](const httplib::Request& req, httplib::Response& res) {
      if (options_.authenticate && options_.read_token_required) {
        const std::string header = req.get_header_value("Authorization");
        auto who = options_.authenticate(header.substr(std::min<std::size_t>(header.size(), 7)));
        if (who && who->second != "observer" && who->second != "admin")
          return SendError(res, 403, "FORBIDDEN",
                           "identity '" + ClientText(who->first, 64) + "' (role " + who->second +
                               ") may not read the rotation's progress (observer or admin)");
      }
      SendJson(res, 200, options_.rekey_status());
    });
  }

  s.Get("/api/v1/stats", [this, with_reader](const httplib::Request& req, httplib::Response& res) {
    std::int64_t window = options_.stats_window_s;
    if (req.has_param("window")) {
      try {
        window = std::stoll(req.get_param_value("window"));
      } catch (...) {
        window = -1;
      }
      if (window < 60 || window > 31536000)
        return SendError(res, 400, "INVALID_ARGUMENT", "window must be 60..31536000 seconds");
    }
    with_reader(res, [&](store::CaseReader& r) {
      auto st = r.ComputeStats(clock_->NowMillis(), window);
      if (!st.ok()) return SendError(res, HttpStatusFor(st.status().code()), "UNAVAILABLE", st.status().message());
      SendJson(res, 200, st.value());
    });
  });

  // Long polls hold a worker while they wait: at most half the workers
  // wait at once; a poll beyond that answers at once (the client asks
  // again, as it would after a wait that found nothing).
  auto waiting_polls = std::make_shared<std::atomic<std::uint32_t>>(0);
  const std::uint32_t max_waiting_polls = std::max<std::uint32_t>(1, options_.door.workers / 2);
  s.Get("/api/v1/updates", [this, with_reader, waiting_polls, max_waiting_polls](const httplib::Request& req,
                                                                                 httplib::Response& res) {
    std::uint64_t after = 0;
    long long wait_s = 0, limit = 100;
    try {
      std::size_t used = 0;
      auto number = [&](const char* name, auto parse, auto* out) {
        if (!req.has_param(name)) return;
        const std::string text = req.get_param_value(name);
        *out = parse(text, &used);
        if (used != text.size() || text.empty() || text[0] == '-') throw std::invalid_argument(name);
      };
      number("after", [](const std::string& t, std::size_t* n) { return std::stoull(t, n); }, &after);
      number("wait", [](const std::string& t, std::size_t* n) { return std::stoll(t, n); }, &wait_s);
      number("limit", [](const std::string& t, std::size_t* n) { return std::stoll(t, n); }, &limit);
    } catch (...) {
      return SendError(res, 400, "INVALID_ARGUMENT", "after, wait and limit must be whole numbers");
    }
    if (wait_s < 0 || wait_s > 30) return SendError(res, 400, "INVALID_ARGUMENT", "wait must be 0..30 seconds");
    if (limit < 1 || limit > 1000) return SendError(res, 400, "INVALID_ARGUMENT", "limit must be 1..1000");
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(wait_s);
    bool counted = false;
    for (;;) {
      bool answered = false;
      with_reader(res, [&](store::CaseReader& r) {
        auto list = r.UpdatesAfter(after, static_cast<int>(limit));
        if (!list.ok()) {
          answered = true;
          return SendError(res, HttpStatusFor(list.status().code()), "UNAVAILABLE", list.status().message());
        }
        if (list.value().updates_size() > 0 || std::chrono::steady_clock::now() >= deadline) {
          answered = true;
          SendJson(res, 200, list.value());
        }
      });
      if (answered || res.status == 503) break;
      if (!counted) {
        if (waiting_polls->fetch_add(1) >= max_waiting_polls) {
          waiting_polls->fetch_sub(1);
          v1::CaseUpdateList none;  // just read: nothing after `after`
          none.set_last_id(after);
          return SendJson(res, 200, none);
        }
        counted = true;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(kLongPollIntervalMs));
    }
    if (counted) waiting_polls->fetch_sub(1);
  });

  auto act = [this](httplib::Response& res, ActionRequest request) {
    auto future = actions_->Submit(std::move(request));
    if (future.wait_for(std::chrono::seconds(15)) != std::future_status::ready)
      return SendError(res, 504, "TIMEOUT", "the broker did not perform the action within 15 s");
    ActionOutcome out = future.get();
    if (!out.status.ok())
      return SendError(res, HttpStatusFor(out.status.code()), std::string(ToString(out.status.code())),
                       out.status.message());
    SendJson(res, 200, out.result);
  };

  s.Post(R"(/api/v1/cases/([^/]+)/agencies/([^/]+)/retry)", [act, authorize](const httplib::Request& req, httplib::Response& res) {
    auto actor = authorize(req, res, true);
    if (!actor) return;
    v1::RetryRequest body;
    if (!ParseBody(req, res, &body)) return;
    ActionRequest a;
    a.kind = ActionRequest::Kind::kRetry;
    a.event_id = req.matches[1];
    a.agency = req.matches[2];
    a.reason = body.reason();
    a.actor = *actor;
    act(res, std::move(a));
  });
  s.Post(R"(/api/v1/agencies/([^/]+)/replay)", [act, authorize](const httplib::Request& req, httplib::Response& res) {
    auto actor = authorize(req, res, true);
    if (!actor) return;
    v1::ReplayRequest body;
    if (!ParseBody(req, res, &body)) return;
    if (!body.has_since()) return SendError(res, 400, "INVALID_ARGUMENT", "since is required (RFC 3339)");
    ActionRequest a;
    a.kind = ActionRequest::Kind::kReplay;
    a.agency = req.matches[1];
    a.since = TimeUtil::TimestampToMilliseconds(body.since());
    a.reason = body.reason();
    a.actor = *actor;
    act(res, std::move(a));
  });
  s.Post(R"(/api/v1/cases/([^/]+)/resolve)", [act, authorize](const httplib::Request& req, httplib::Response& res) {
    auto actor = authorize(req, res, true);
    if (!actor) return;
    v1::ResolveRequest body;
    if (!ParseBody(req, res, &body)) return;
    if (body.reason().empty()) return SendError(res, 400, "INVALID_ARGUMENT", "reason is required");
    ActionRequest a;
    a.kind = ActionRequest::Kind::kResolve;
    a.event_id = req.matches[1];
    a.reason = body.reason();
    a.actor = *actor;
    act(res, std::move(a));
  });

  if (options_.archive_status) {
    s.Get("/api/v1/archive", [this](const httplib::Request&, httplib::Response& res) {
      res.set_content(options_.archive_status(), "application/json");
    });
    s.Post("/api/v1/archive", [this, authorize](const httplib::Request& req, httplib::Response& res) {
      if (!authorize(req, res, true)) return;
      if (!options_.request_archive || !options_.request_archive())
        return SendError(res, 409, "NOT_ARCHIVING",
                         "this broker does not archive (store.retention_days is 0, or the store is PostgreSQL)");
      res.status = 202;
      res.set_content(options_.archive_status(), "application/json");
    });
  }

  if (options_.publishes) {
    s.Post("/api/v1/events", [this, authorize_publisher](const httplib::Request& req, httplib::Response& res) {
      auto identity = authorize_publisher(req, res);
      if (!identity) return;
      if (options_.ready && !options_.ready()) {
        res.set_header("Retry-After", "1");
        return SendError(res, 503, "NOT_LEADER", "this broker is not the active one; publish to the active broker");
      }
      HttpAnswer answer = PublishOverHttp(req.get_header_value("Content-Type"), req.body, *identity,
                                          options_.publish_limits, publish_rate_.get(), options_.publishes);
      if (answer.retry_after_s > 0) res.set_header("Retry-After", std::to_string(answer.retry_after_s));
      res.status = answer.status;
      res.set_content(answer.body, "application/json; charset=utf-8");
    });
  }

  // The dashboard: static files compiled into the binary.
  for (const auto& asset : WebAssets()) {
    std::string path = asset.path == "/index.html" ? std::string("/") : std::string(asset.path);
    s.Get(path, [asset](const httplib::Request&, httplib::Response& res) {
      res.set_content(std::string(asset.content), std::string(asset.content_type));
    });
    if (path == "/") s.Get("/index.html", [asset](const httplib::Request&, httplib::Response& res) {
      res.set_content(std::string(asset.content), std::string(asset.content_type));
    });
  }
  s.set_error_handler([](const httplib::Request& req, httplib::Response& res) {
    if (res.status == 404 && res.body.empty())
      SendError(res, 404, "NOT_FOUND",
                "no such endpoint: " + ClientText(req.method, 16) + " " + ClientText(req.path, 256));
  });
  s.set_exception_handler([](const httplib::Request&, httplib::Response& res, std::exception_ptr) {
    SendError(res, 500, "INTERNAL", "internal error");
  });
}

}  // namespace yilian::http
