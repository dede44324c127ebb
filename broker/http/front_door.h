// FrontDoor: the HTTP server's sockets. It accepts connections, does the TLS
// handshake, reads each request whole, and writes each response, all on one
// thread with non-blocking sockets and deadlines, so a slow or idle client
// costs a socket and a buffer, never a thread. Only a request that has
// arrived complete (head and body) is handed to a worker, which builds the
// response in memory; the same thread then writes it out.
//
// What a client can hold (docs/security.md, "Slow clients"):
//   - at most max_connections connections in all, and max_per_address from
//     one address. A connection over either bound evicts the oldest
//     connection that has not yet sent a whole request (from that address,
//     or from any), or is refused when every connection is at work;
//   - handshake_timeout_ms for the TLS handshake, header_timeout_ms for the
//     request line and headers, read_timeout_ms for the body after them,
//     write_timeout_ms for the client to take the response. A request that
//     is too slow is answered 408; a handshake that is too slow is closed;
//   - max_header_bytes of request head (414 for a request line that never
//     ends, 431 otherwise) and max_body_bytes of body. A larger
//     Content-Length, or a Transfer-Encoding, is handed over with the head
//     alone: the handler refuses it without a body.
// One request per connection: the connection closes after the response.
//
// Ownership: the SSL_CTX (may be null: plain HTTP) must outlive the door.
// Concurrency: Bind/Start/Stop from one thread; the handler runs on `workers`
// threads at once; the observer on the door's thread.
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
  std::uint32_t workers = 4;
  std::uint32_t max_requests_per_connection = 1;
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
  // HTTPS: the SHA-256 of the client's certificate (DER), lower-case hex;
  // empty without one.
  std::string peer_certificate_sha256;
  std::string response;  // filled by the handler
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
