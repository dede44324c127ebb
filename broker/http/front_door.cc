#include "http/front_door.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <map>
#include <mutex>
#include <optional>
#include <thread>
#include <unordered_map>
#include <vector>

namespace yilian::http {
namespace {

using Steady = std::chrono::steady_clock;
using TimePoint = Steady::time_point;

// After the response: how long, and how much, the door reads on before it
// closes (a client still sending a refused body would otherwise get a reset
// that can destroy the response before it is read).
constexpr std::chrono::milliseconds kLinger{1000};
constexpr std::size_t kLingerBytes = 1u << 20;
constexpr std::size_t kReadChunk = 16384;

enum class Phase {
  kHandshake,  // TLS handshake
  kHead,       // reading the request line and headers (or, kept alive, waiting for them)
  kBody,       // reading the body
  kWorking,    // with a worker (the door does not touch it)
  kWriting,    // writing the response
  kLingering,  // response written, reading what the client still sends until it closes
};

bool Waiting(Phase p) { return p == Phase::kHandshake || p == Phase::kHead || p == Phase::kBody; }

struct Conn {
  int fd = -1;
  SSL* ssl = nullptr;
  std::uint64_t seq = 0;  // accept order: the lowest is the oldest
  Phase phase = Phase::kHead;
  TimePoint deadline;
  short events = POLLIN;
  // Received and not yet handed over: the request being read and, when the
  // client sent ahead, the start of the next ones. Never more than
  // max_header_bytes + 1 beyond the current request: a body is read no
  // further than its end.
  std::string in;
  std::size_t scanned = 0;  // bytes of `in` searched for the end of the head
  std::size_t want = 0;     // head + body, once the head is read
  // From the head on: the connection may carry a request after this one
  // (BodyPlan's whole and client_keeps, under max_requests_per_connection).
  bool reusable = false;
  bool idle = false;        // kept alive, and no byte of the next request yet
  std::uint32_t served = 0;  // requests handed over
  std::size_t sent = 0;
  std::size_t discarded = 0;  // lingering
  Exchange exchange;
};

std::string Ip(const sockaddr_storage& ss, int* port) {
  char text[INET6_ADDRSTRLEN] = {};
  if (ss.ss_family == AF_INET) {
    const auto* a = reinterpret_cast<const sockaddr_in*>(&ss);
    inet_ntop(AF_INET, &a->sin_addr, text, sizeof text);
    *port = ntohs(a->sin_port);
  } else if (ss.ss_family == AF_INET6) {
    const auto* a = reinterpret_cast<const sockaddr_in6*>(&ss);
    inet_ntop(AF_INET6, &a->sin6_addr, text, sizeof text);
    *port = ntohs(a->sin6_port);
  }
  return text;
}

bool IEquals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) == std::tolower(static_cast<unsigned char>(y));
         });
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) s.remove_suffix(1);
  return s;
}

// What the head says about the body: its length, or that it is to be handed
// over without one (a chunked body, a length that is not a number or over
// the bound: the handler refuses those). And whether the connection may
// carry another request after this one: only when this one ends where the
// door knows (its body read whole, or none), so that no byte of a refused
// body is ever taken for a request, and the client did not ask to close.
struct BodyPlan {
  bool with_body = false;
  std::size_t length = 0;
  bool whole = false;         // the request is read to its end: the next one starts after it
  bool client_keeps = false;  // HTTP/1.1 without "Connection: close", HTTP/1.0 with "keep-alive"
};

BodyPlan PlanBody(std::string_view head, std::size_t max_body) {
  BodyPlan plan;
  bool chunked = false;
  std::optional<std::uint64_t> length;
  bool bad = false;
  bool close = false;
  bool keep_alive = false;
  std::size_t at = head.find('\n');  // skip the request line
  const std::string_view request_line = Trim(head.substr(0, at));
  const std::string_view version = request_line.substr(request_line.rfind(' ') + 1);
  while (at != std::string_view::npos && at + 1 < head.size()) {
    std::size_t end = head.find('\n', at + 1);
    std::string_view line = head.substr(at + 1, end == std::string_view::npos ? std::string_view::npos : end - at - 1);
    at = end;
    std::size_t colon = line.find(':');
    if (colon == std::string_view::npos) continue;
    std::string_view name = line.substr(0, colon);
    std::string_view value = Trim(line.substr(colon + 1));
    if (IEquals(name, "Transfer-Encoding")) chunked = true;
    if (IEquals(name, "Connection")) {
      // A list of options: "keep-alive, Upgrade".
      for (std::size_t from = 0; from <= value.size();) {
        std::size_t comma = value.find(',', from);
        if (comma == std::string_view::npos) comma = value.size();
        const std::string_view option = Trim(value.substr(from, comma - from));
        close = close || IEquals(option, "close");
        keep_alive = keep_alive || IEquals(option, "keep-alive");
        from = comma + 1;
      }
    }
    if (IEquals(name, "Content-Length")) {
      std::uint64_t n = 0;
      bool number = !value.empty() && value.size() <= 19;
      for (char c : value) {
        if (c < '0' || c > '9') number = false;
        if (number) n = n * 10 + static_cast<std::uint64_t>(c - '0');
      }
      if (!number || (length && *length != n)) bad = true;
      length = n;
    }
  }
  plan.client_keeps = !close && (version == "HTTP/1.1" || (version == "HTTP/1.0" && keep_alive));
  if (chunked || bad) return plan;
  plan.whole = !length || *length <= max_body;  // no Content-Length and no Transfer-Encoding: no body
  if (!length || *length > max_body) return plan;
  plan.with_body = *length > 0;
  plan.length = static_cast<std::size_t>(*length);
  return plan;
}

// Lower-case hex SHA-256 of the client's certificate (DER); empty without one.
std::string PeerCertificateSha256(SSL* ssl) {
  X509* cert = SSL_get1_peer_certificate(ssl);
  if (!cert) return {};
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int size = 0;
  std::string hex;
  if (X509_digest(cert, EVP_sha256(), digest, &size) == 1) {
    static constexpr char kDigits[] = "0123456789abcdef";
    for (unsigned int i = 0; i < size; ++i) {
      hex += kDigits[digest[i] >> 4];
      hex += kDigits[digest[i] & 15];
    }
  }
  X509_free(cert);
  return hex;
}

std::string ErrorResponse(int status, const char* reason, const std::string& code, const std::string& message) {
  std::string body = "{\"code\":\"" + code + "\",\"message\":\"" + message + "\"}";
  return "HTTP/1.1 " + std::to_string(status) + " " + reason +
         "\r\nContent-Type: application/json; charset=utf-8\r\nContent-Length: " + std::to_string(body.size()) +
         "\r\nConnection: close\r\nX-Content-Type-Options: nosniff\r\n\r\n" + body;
}

}  // namespace

class FrontDoor::Impl {
 public:
  Impl(FrontDoorOptions options, SSL_CTX* tls, Handler handler, Observer observer)
      : options_(options), tls_(tls), handler_(std::move(handler)), observer_(std::move(observer)) {}

  ~Impl() { Stop(); }

  Result<int> Bind(const std::string& host, int port) {
    addrinfo hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
    std::string name = host;
    if (name.size() > 2 && name.front() == '[' && name.back() == ']') name = name.substr(1, name.size() - 2);
    addrinfo* found = nullptr;
    const std::string service = std::to_string(port);
    if (int rc = getaddrinfo(name.c_str(), service.c_str(), &hints, &found); rc != 0)
      return Status::InvalidArgument("cannot resolve '" + host + "': " + gai_strerror(rc));
    std::string error = "no address";
    for (addrinfo* a = found; a; a = a->ai_next) {
      int fd = socket(a->ai_family, a->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, a->ai_protocol);
      if (fd < 0) continue;
      int one = 1;
      setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
      if (bind(fd, a->ai_addr, a->ai_addrlen) == 0 && listen(fd, 511) == 0) {
        listen_fd_ = fd;
        break;
      }
      error = std::strerror(errno);
      close(fd);
    }
    freeaddrinfo(found);
    if (listen_fd_ < 0) return Status::Unavailable("cannot listen on " + host + ":" + service + ": " + error);
    sockaddr_storage ss{};
    socklen_t len = sizeof ss;
    getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&ss), &len);
    int bound = 0;
    Ip(ss, &bound);
    return bound;
  }

  void Start() {
    if (pipe2(wake_, O_NONBLOCK | O_CLOEXEC) != 0) wake_[0] = wake_[1] = -1;
    for (std::uint32_t i = 0; i < std::max<std::uint32_t>(1, options_.workers); ++i)
      workers_.emplace_back([this] { Work(); });
    loop_ = std::thread([this] { Loop(); });
  }

  void Stop() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (stopping_ && !loop_.joinable() && workers_.empty()) return;
      stopping_ = true;
    }
    cv_.notify_all();
    Wake();
    if (loop_.joinable()) loop_.join();
    for (auto& t : workers_) t.join();
    workers_.clear();
    for (auto& [fd, conn] : conns_) {
      if (conn->ssl) SSL_free(conn->ssl);
      close(fd);
    }
    conns_.clear();
    if (listen_fd_ >= 0) close(listen_fd_);
    listen_fd_ = -1;
    for (int& fd : wake_) {
      if (fd >= 0) close(fd);
      fd = -1;
    }
  }

 private:
  void Wake() {
    if (wake_[1] >= 0) {
      char c = 1;
      (void)!write(wake_[1], &c, 1);
    }
  }

  // Worker threads: build the response of each complete request.
  void Work() {
    for (;;) {
      Conn* conn = nullptr;
      {
        std::unique_lock<std::mutex> lock(mu_);
        cv_.wait(lock, [this] { return stopping_ || !jobs_.empty(); });
        if (stopping_) return;
        conn = jobs_.front();
        jobs_.pop_front();
      }
      handler_(conn->exchange);
      {
        std::lock_guard<std::mutex> lock(mu_);
        done_.push_back(conn);
      }
      Wake();
    }
  }

  bool Stopping() {
    std::lock_guard<std::mutex> lock(mu_);
    return stopping_;
  }

  void Loop() {
    std::vector<pollfd> fds;
    std::vector<std::pair<int, std::uint64_t>> polled;  // (fd, seq) of fds[2..]
    while (!Stopping()) {
      fds.clear();
      polled.clear();
      const TimePoint now = Steady::now();
      const bool accepting = now >= accept_paused_until_;
      fds.push_back({wake_[0], POLLIN, 0});
      fds.push_back({accepting ? listen_fd_ : -1, POLLIN, 0});
      TimePoint next = now + std::chrono::seconds(10);
      if (!accepting) next = std::min(next, accept_paused_until_);
      for (auto& [fd, conn] : conns_) {
        if (conn->phase == Phase::kWorking) continue;
        fds.push_back({fd, conn->events, 0});
        polled.emplace_back(fd, conn->seq);
        next = std::min(next, conn->deadline);
      }
      const auto wait = std::chrono::duration_cast<std::chrono::milliseconds>(next - now).count();
      int n = poll(fds.data(), fds.size(), static_cast<int>(std::max<long long>(0, wait) + 1));
      if (n < 0 && errno != EINTR) break;
      if (fds[0].revents) {
        char buf[256];
        while (read(wake_[0], buf, sizeof buf) > 0) {
        }
        std::vector<Conn*> done;
        {
          std::lock_guard<std::mutex> lock(mu_);
          done.swap(done_);
        }
        // The handler may close a connection the door would keep, not the
        // other way round.
        for (Conn* conn : done)
          Respond(conn, std::move(conn->exchange.response), conn->exchange.keep_alive && conn->reusable);
      }
      for (std::size_t i = 2; i < fds.size(); ++i) {
        if (!fds[i].revents) continue;
        auto it = conns_.find(polled[i - 2].first);
        if (it == conns_.end() || it->second->seq != polled[i - 2].second) continue;
        Progress(it->second.get());
      }
      const TimePoint after = Steady::now();
      std::vector<Conn*> expired;
      for (auto& [fd, conn] : conns_)
        if (conn->phase != Phase::kWorking && conn->deadline <= after) expired.push_back(conn.get());
      for (Conn* conn : expired) Expire(conn);
      if (fds[1].revents) Accept();
    }
  }

  void Accept() {
    for (;;) {
      sockaddr_storage ss{};
      socklen_t len = sizeof ss;
      int fd = accept4(listen_fd_, reinterpret_cast<sockaddr*>(&ss), &len, SOCK_NONBLOCK | SOCK_CLOEXEC);
      if (fd < 0) {
        if (errno == EINTR || errno == ECONNABORTED) continue;
        // Out of descriptors: stop accepting for a moment rather than spin
        // on a listening socket that stays readable.
        if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM)
          accept_paused_until_ = Steady::now() + std::chrono::milliseconds(100);
        return;
      }
      auto conn = std::make_unique<Conn>();
      conn->fd = fd;
      conn->exchange.peer_ip = Ip(ss, &conn->exchange.peer_port);
      const std::string& ip = conn->exchange.peer_ip;
      if (!MakeRoom(ip)) {
        observer_("refused", ip);
        close(fd);
        continue;
      }
      sockaddr_storage local{};
      socklen_t local_len = sizeof local;
      getsockname(fd, reinterpret_cast<sockaddr*>(&local), &local_len);
      conn->exchange.local_ip = Ip(local, &conn->exchange.local_port);
      int one = 1;
      setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
      conn->seq = next_seq_++;
      const TimePoint now = Steady::now();
      if (tls_) {
        conn->ssl = SSL_new(tls_);
        if (!conn->ssl) {
          close(fd);
          continue;
        }
        SSL_set_fd(conn->ssl, fd);
        SSL_set_mode(conn->ssl, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
        conn->phase = Phase::kHandshake;
        conn->deadline = now + std::chrono::milliseconds(options_.handshake_timeout_ms);
      } else {
        conn->phase = Phase::kHead;
        conn->deadline = now + std::chrono::milliseconds(options_.header_timeout_ms);
      }
      ++per_address_[ip];
      Conn* raw = conn.get();
      conns_[fd] = std::move(conn);
      Progress(raw);  // a client that sent at once is served without another poll
    }
  }

  // Makes room for one more connection from `ip`: within the bounds, or by
  // closing the oldest connection still waiting for its request (from `ip`
  // when that address is at its bound, from any address when all are).
  bool MakeRoom(const std::string& ip) {
    auto it = per_address_.find(ip);
    if (it != per_address_.end() && it->second >= static_cast<int>(options_.max_per_address)) {
      Conn* victim = OldestWaiting(&ip);
      if (!victim) return false;
      Close(victim, "evicted");
    }
    if (conns_.size() >= options_.max_connections) {
      Conn* victim = OldestWaiting(nullptr);
      if (!victim) return false;
      Close(victim, "evicted");
    }
    return true;
  }

  Conn* OldestWaiting(const std::string* ip) {
    Conn* oldest = nullptr;
    for (auto& [fd, conn] : conns_) {
      if (!Waiting(conn->phase) || (ip && conn->exchange.peer_ip != *ip)) continue;
      if (!oldest || conn->seq < oldest->seq) oldest = conn.get();
    }
    return oldest;
  }

  void Close(Conn* conn, const char* reason) {
    if (reason) observer_(reason, conn->exchange.peer_ip);
    if (conn->ssl) SSL_free(conn->ssl);
    close(conn->fd);
    auto at = per_address_.find(conn->exchange.peer_ip);
    if (at != per_address_.end() && --at->second <= 0) per_address_.erase(at);
    conns_.erase(conn->fd);  // destroys conn
  }

  void Expire(Conn* conn) {
    switch (conn->phase) {
      case Phase::kHandshake:
        return Close(conn, "handshake");
      case Phase::kHead:
      case Phase::kBody:
        // A kept-alive connection with no next request is done, not late.
        if (conn->idle) return Close(conn, nullptr);
        observer_("timeout", conn->exchange.peer_ip);
        return Respond(conn,
                       ErrorResponse(408, "Request Timeout", "REQUEST_TIMEOUT",
                                     conn->phase == Phase::kHead
                                         ? "the request line and headers did not arrive in time "
                                           "(http.header_timeout_ms)"
                                         : "the request body did not arrive in time (http.read_timeout_ms)"),
                       /*keep_alive=*/false);
      case Phase::kWriting:
        return Close(conn, "timeout");
      case Phase::kLingering:
        return Close(conn, nullptr);
      case Phase::kWorking:
        return;
    }
  }

  // Reads or writes what the socket allows in the connection's phase.
  void Progress(Conn* conn) {
    switch (conn->phase) {
      case Phase::kHandshake:
        return Handshake(conn);
      case Phase::kHead:
      case Phase::kBody:
        return ReadRequest(conn);
      case Phase::kWriting:
        return WriteResponse(conn);
      case Phase::kLingering:
        return Linger(conn);
      case Phase::kWorking:
        return;
    }
  }

  // After an SSL call returned `rc` <= 0: true if OpenSSL only waits for the
  // socket (conn->events then says which way); false for anything else,
  // whose SSL_get_error code goes to *error.
  static bool WouldBlock(Conn* conn, int rc, int* error = nullptr) {
    const int e = SSL_get_error(conn->ssl, rc);
    if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
      conn->events = e == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT;
      return true;
    }
    if (error) *error = e;
    return false;
  }

  void Handshake(Conn* conn) {
    ERR_clear_error();
    int rc = SSL_accept(conn->ssl);
    if (rc == 1) {
      // Renegotiation is off and post-handshake authentication never asked
      // for: the certificate stays the connection's for all its requests.
      conn->exchange.peer_certificate_sha256 = PeerCertificateSha256(conn->ssl);
      conn->phase = Phase::kHead;
      conn->deadline = Steady::now() + std::chrono::milliseconds(options_.header_timeout_ms);
      return ReadRequest(conn);
    }
    if (!WouldBlock(conn, rc)) Close(conn, "handshake");
  }

  // >0 bytes read; 0 the client closed; -1 nothing now (events set); -2 error.
  ssize_t ReadSome(Conn* conn, char* buf, std::size_t size) {
    if (!conn->ssl) {
      ssize_t n = recv(conn->fd, buf, size, 0);
      if (n >= 0) return n;
      if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) {
        conn->events = POLLIN;
        return -1;
      }
      return -2;
    }
    ERR_clear_error();
    int n = SSL_read(conn->ssl, buf, static_cast<int>(size));
    if (n > 0) return n;
    int error = 0;
    if (WouldBlock(conn, n, &error)) return -1;
    return error == SSL_ERROR_ZERO_RETURN ? 0 : -2;
  }

  // Reads until a request is whole (then handed over) or answered by the
  // door, or until the socket has nothing more for now.
  void ReadRequest(Conn* conn) {
    char buf[kReadChunk];
    while (!TakeRequest(conn)) {
      const std::size_t room = conn->phase == Phase::kBody ? conn->want - conn->in.size()
                                                           : options_.max_header_bytes + 1 - conn->in.size();
      ssize_t n = ReadSome(conn, buf, std::min(room, sizeof buf));
      if (n == -1) return;
      if (n <= 0) return Close(conn, nullptr);  // the client went away
      conn->in.append(buf, static_cast<std::size_t>(n));
    }
  }

  // Looks at what has arrived: true when the request is handed over or
  // answered (the connection is no longer the reader's), false when more
  // must be read.
  bool TakeRequest(Conn* conn) {
    std::string& in = conn->in;
    if (conn->phase == Phase::kBody) {
      if (in.size() < conn->want) return false;
      HandOver(conn);
      return true;
    }
    if (conn->scanned == 0) {
      // Empty lines before a request line are ignored (RFC 9112, 2.2): some
      // clients end a body with one more CRLF.
      in.erase(0, std::min(in.find_first_not_of("\r\n"), in.size()));
      if (in.empty()) return false;
      if (conn->idle) {
        // The next request has begun: it has header_timeout_ms like any.
        conn->idle = false;
        conn->deadline = Steady::now() + std::chrono::milliseconds(options_.header_timeout_ms);
      }
    }
    const std::size_t end = in.find("\r\n\r\n", conn->scanned > 3 ? conn->scanned - 3 : 0);
    conn->scanned = in.size();
    if (end == std::string::npos) {
      if (in.size() <= options_.max_header_bytes) return false;
      observer_("too_large", conn->exchange.peer_ip);
      const bool line = in.find('\n') == std::string::npos;
      const std::string limit = std::to_string(options_.max_header_bytes);
      Respond(conn,
              line ? ErrorResponse(414, "URI Too Long", "URI_TOO_LONG",
                                   "the request line is longer than " + limit + " bytes (http.max_header_bytes)")
                   : ErrorResponse(431, "Request Header Fields Too Large", "HEADERS_TOO_LARGE",
                                   "the request head is larger than " + limit + " bytes (http.max_header_bytes)"),
              /*keep_alive=*/false);
      return true;
    }
    const std::size_t head = end + 4;
    const std::string_view request_head = std::string_view(in).substr(0, head);
    const bool large = !options_.large_body_request.empty() &&
                       request_head.substr(0, options_.large_body_request.size()) == options_.large_body_request;
    const BodyPlan plan = PlanBody(request_head, large ? options_.large_body_bytes : options_.max_body_bytes);
    conn->want = head + plan.length;
    conn->reusable = plan.whole && plan.client_keeps;
    if (in.size() >= conn->want) {
      HandOver(conn);
      return true;
    }
    conn->phase = Phase::kBody;
    conn->deadline = Steady::now() + std::chrono::milliseconds(options_.read_timeout_ms);
    return false;
  }

  // The request is the first `want` bytes of `in`; what follows stays for
  // the next one.
  void HandOver(Conn* conn) {
    conn->phase = Phase::kWorking;
    ++conn->served;
    Exchange& exchange = conn->exchange;
    exchange.request.assign(conn->in, 0, conn->want);
    conn->in.erase(0, conn->want);
    exchange.response.clear();
    conn->reusable = conn->reusable && conn->served < options_.max_requests_per_connection;
    exchange.keep_alive = conn->reusable;
    conn->scanned = 0;
    conn->want = 0;
    {
      std::lock_guard<std::mutex> lock(mu_);
      jobs_.push_back(conn);
    }
    cv_.notify_one();
  }

  // `keep_alive`: after this response the connection reads the next
  // request; otherwise it closes (and what the client sent ahead is dropped).
  void Respond(Conn* conn, std::string response, bool keep_alive) {
    conn->exchange.request.clear();
    conn->exchange.request.shrink_to_fit();
    conn->exchange.response = std::move(response);
    conn->exchange.keep_alive = keep_alive;
    if (!keep_alive) {
      conn->in.clear();
      conn->in.shrink_to_fit();
    }
    conn->sent = 0;
    conn->phase = Phase::kWriting;
    conn->deadline = Steady::now() + std::chrono::milliseconds(options_.write_timeout_ms);
    WriteResponse(conn);
  }

  void WriteResponse(Conn* conn) {
    const std::string& out = conn->exchange.response;
    while (conn->sent < out.size()) {
      const char* at = out.data() + conn->sent;
      const std::size_t left = out.size() - conn->sent;
      if (!conn->ssl) {
        ssize_t n = send(conn->fd, at, left, MSG_NOSIGNAL);
        if (n > 0) {
          conn->sent += static_cast<std::size_t>(n);
          continue;
        }
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) {
          conn->events = POLLOUT;
          return;
        }
        return Close(conn, nullptr);
      }
      ERR_clear_error();
      int n = SSL_write(conn->ssl, at, static_cast<int>(std::min<std::size_t>(left, 1 << 20)));
      if (n > 0) {
        conn->sent += static_cast<std::size_t>(n);
        continue;
      }
      if (!WouldBlock(conn, n)) Close(conn, nullptr);
      return;
    }
    conn->exchange.response.clear();
    conn->exchange.response.shrink_to_fit();
    if (conn->exchange.keep_alive) return AwaitNext(conn);
    // Written: say goodbye, then read what the client still sends until it
    // closes, so that closing with unread bytes does not reset the
    // connection before the client has read the response.
    if (conn->ssl) {
      ERR_clear_error();
      SSL_shutdown(conn->ssl);
    }
    shutdown(conn->fd, SHUT_WR);
    conn->phase = Phase::kLingering;
    conn->events = POLLIN;
    conn->deadline = Steady::now() + kLinger;
    Linger(conn);
  }

  // Kept alive: back to reading, with keep_alive_timeout_ms for the next
  // request to begin. It may have arrived already (pipelined, or still in
  // the TLS layer, which poll does not see).
  void AwaitNext(Conn* conn) {
    conn->phase = Phase::kHead;
    conn->events = POLLIN;
    conn->idle = true;
    conn->deadline = Steady::now() + std::chrono::milliseconds(options_.keep_alive_timeout_ms);
    ReadRequest(conn);
  }

  void Linger(Conn* conn) {
    char buf[kReadChunk];
    for (;;) {
      ssize_t n = recv(conn->fd, buf, sizeof buf, 0);
      if (n > 0 && (conn->discarded += static_cast<std::size_t>(n)) < kLingerBytes) continue;
      if (n > 0) return Close(conn, nullptr);
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) return;
      return Close(conn, nullptr);
    }
  }

  const FrontDoorOptions options_;
  SSL_CTX* const tls_;
  const Handler handler_;
  const Observer observer_;
  int listen_fd_ = -1;
  int wake_[2] = {-1, -1};
  std::thread loop_;
  std::vector<std::thread> workers_;
  TimePoint accept_paused_until_;

  // The door's thread only.
  std::map<int, std::unique_ptr<Conn>> conns_;
  std::unordered_map<std::string, int> per_address_;
  std::uint64_t next_seq_ = 0;

  std::mutex mu_;  // guards what follows
  std::condition_variable cv_;
  bool stopping_ = false;
  std::deque<Conn*> jobs_;
  std::vector<Conn*> done_;
};

FrontDoor::FrontDoor(FrontDoorOptions options, SSL_CTX* tls, Handler handler, Observer observer)
    : impl_(std::make_unique<Impl>(options, tls, std::move(handler), std::move(observer))) {}

FrontDoor::~FrontDoor() = default;

Result<int> FrontDoor::Bind(const std::string& host, int port) { return impl_->Bind(host, port); }
void FrontDoor::Start() { impl_->Start(); }
void FrontDoor::Stop() { impl_->Stop(); }

}  // namespace yilian::http
