// FrontDoor: the HTTP server's sockets. It accepts connections, does the TLS
// handshake, reads each request whole, and writes each response, all on one
// thread with non-blocking sockets and deadlines, so a slow or idle client
// costs a socket and a buffer, never a thread. Only a request that has
// arrived complete (head and body) is handed to a worker, which builds the
// response in memory; the same thread then writes it out.
//
// What a client can hold (docs/security.md, "Slow clients"), for every
// request of a connection:
//   - at most max_connections connections in all, and max_per_address from
//     one address. A connection over either bound evicts the oldest
//     connection that has not yet sent a whole request, or is kept alive
//     waiting for its next one (from that address, or from any), or is
//     refused when every connection is at work;
//   - handshake_timeout_ms for the TLS handshake, header_timeout_ms for the
//     request line and headers, read_timeout_ms for the body after them,
//     write_timeout_ms for the client to take the response. A request that
//     is too slow is answered 408; a handshake that is too slow is closed;
//   - max_header_bytes of request head (414 for a request line that never
//     ends, 431 otherwise) and max_body_bytes of body. A larger
//     Content-Length, or a Transfer-Encoding, is handed over with the head
//     alone: the handler refuses it without a body.
// Keep-alive (HTTP/1.1): a connection serves up to
// max_requests_per_connection requests, one after the other; requests the
// client sends ahead (pipelined) wait their turn, and responses go out in
// order. Between requests it may wait keep_alive_timeout_ms for the next
// one to begin, then closes without a response. It closes after the
// response instead when:
//   - the request was handed over without its body (over max_body_bytes, a
//     Transfer-Encoding, an unreadable Content-Length): where the next
//     request would begin is unknown, and the refused body must never be
//     read as one;
//   - the client asked for it (Connection: close; HTTP/1.0 without
//     Connection: keep-alive), or the request was the last allowed;
//   - the handler cleared Exchange::keep_alive;
//   - the door answered itself (408, 414, 431: Connection: close).
// A request the handler refuses after the door read it whole (401, 403,
// 421, ...) leaves nothing unread, and the connection stays open.
//
// Ownership: the SSL_CTX (may be null: plain HTTP) must outlive the door.
// Concurrency: Bind/Start/Stop from one thread; the handler runs on `workers`
// threads at once (one request of a connection at a time); the observer on
// the door's thread.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "common/status.h"

typedef struct ssl_ctx_st SSL_CTX;

namespace yilian::http {

struct FrontDoorOptions {
  std::uint32_t max_connections = 512;
  std::uint32_t max_per_address = 32;
  std::uint32_t handshake_timeout_ms = 5000;
  std::uint32_t header_timeout_ms = 5000;
  std::uint32_t read_timeout_ms = 5000;
  std::uint32_t write_timeout_ms = 10000;
  std::uint32_t max_header_bytes = 16384;
  std::uint32_t max_body_bytes = 65536;
  // Requests whose request line starts with this prefix (e.g. "POST
  // /api/v1/events ") may carry up to large_body_bytes instead.
  std::string large_body_request;
  std::uint32_t large_body_bytes = 0;
  std::uint32_t workers = 4;
  // Keep-alive: requests one connection may carry (1: one, then close), and
  // how long it waits, idle, for the next request line to begin.
  std::uint32_t max_requests_per_connection = 1000;
  std::uint32_t keep_alive_timeout_ms = 5000;
  // A response larger than this is cut off (the connection closes).
  std::size_t max_response_bytes = 64u << 20;
};

// One request as it arrived, and where its response goes.
struct Exchange {
  std::string request;  // request line, headers and (when handed over) body
  std::string peer_ip;
  int peer_port = 0;
  std::string local_ip;
  int local_port = 0;
  std::string response;  // filled by the handler
  // Set by the door before the handler runs: true when the connection may
  // carry another request after this one (see "Keep-alive" above). The
  // handler may clear it, and says in the response whether the connection
  // stays open (Connection: close when false); the door follows the field.
  bool keep_alive = false;
  // TLS with a client certificate: the SHA-256 of its DER encoding, 64
  // lower-case hex digits; empty otherwise. The same for every request of
  // the connection (no renegotiation).
  std::string peer_certificate_sha256;
};

class FrontDoor {
 public:
  using Handler = std::function<void(Exchange&)>;
  // Why the door closed a connection early, with the client's address:
  // "refused" (over a bound, none to evict), "evicted", "handshake"
  // (TLS handshake failed or too slow), "timeout" (request too slow),
  // "too_large" (head over max_header_bytes).
  using Observer = std::function<void(const char* reason, const std::string& peer_ip)>;

  FrontDoor(FrontDoorOptions options, SSL_CTX* tls, Handler handler, Observer observer);
  ~FrontDoor();
  FrontDoor(const FrontDoor&) = delete;
  FrontDoor& operator=(const FrontDoor&) = delete;

  // Listens on host:port (port 0: a free one); returns the bound port.
  Result<int> Bind(const std::string& host, int port);
  void Start();
  // Closes every connection and joins the threads.
  void Stop();

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace yilian::http
