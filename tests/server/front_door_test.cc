// The HTTP front door alone (broker/http/front_door.h), with a handler that
// answers each request with its number and request line: keep-alive over
// plain TCP and TLS, pipelined requests, the ways a kept-alive connection
// ends (Connection: close, the request bound, the idle timeout, a body the
// door did not read), eviction of an idle kept-alive connection, and the
// client certificate's fingerprint. Real sockets on 127.0.0.1.
#include <gtest/gtest.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <poll.h>
#include <sys/socket.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "http/front_door.h"
#include "testing/process.h"
#include "testing/raw_http.h"

namespace yilian {
namespace {

using http::Exchange;
using http::FrontDoor;
using http::FrontDoorOptions;
using testing::PollUntil;
using testing::Process;
using testing::RawConnection;
using Steady = std::chrono::steady_clock;

// A door on 127.0.0.1 whose handler answers "<n> <request line> fp=<sha256>"
// (n counts requests across all connections), refuses a declared body it
// was not given with 413, and closes on request for /close.
class Door {
 public:
  explicit Door(FrontDoorOptions options, SSL_CTX* tls = nullptr)
      : door_(options, tls, [this](Exchange& x) { Handle(x); },
              [this](const char* reason, const std::string&) {
                std::lock_guard<std::mutex> lock(mu_);
                reasons_.push_back(reason);
              }) {
    auto bound = door_.Bind("127.0.0.1", 0);
    EXPECT_TRUE(bound.ok());
    port_ = bound.ok() ? bound.value() : 0;
    door_.Start();
  }
  ~Door() { door_.Stop(); }
  int port() const { return port_; }

  std::vector<std::string> lines() {
    std::lock_guard<std::mutex> lock(mu_);
    return lines_;
  }
  std::vector<std::string> reasons() {
    std::lock_guard<std::mutex> lock(mu_);
    return reasons_;
  }

 private:
  void Handle(Exchange& x) {
    const std::string line = x.request.substr(0, x.request.find("\r\n"));
    int n = 0;
    {
      std::lock_guard<std::mutex> lock(mu_);
      lines_.push_back(line);
      n = static_cast<int>(lines_.size());
    }
    int status = 200;
    const auto length_at = x.request.find("Content-Length: ");
    const std::size_t head = x.request.find("\r\n\r\n") + 4;
    if (length_at != std::string::npos &&
        std::stoul(x.request.substr(length_at + 16)) > x.request.size() - head) {
      status = 413;
    }
    if (line.find(" /close ") != std::string::npos) x.keep_alive = false;
    const std::string body = std::to_string(n) + " " + line + " fp=" + x.peer_certificate_sha256;
    x.response = "HTTP/1.1 " + std::to_string(status) + (status == 200 ? " OK" : " Payload Too Large") +
                 "\r\nContent-Length: " + std::to_string(body.size()) + "\r\n" +
                 (x.keep_alive ? "" : "Connection: close\r\n") + "\r\n" + body;
  }

  std::mutex mu_;
  std::vector<std::string> lines_;
  std::vector<std::string> reasons_;
  FrontDoor door_;
  int port_ = 0;
};

struct Response {
  int status = 0;
  std::string head;
  std::string body;
  bool close() const { return head.find("\r\nConnection: close\r\n") != std::string::npos; }
};

// A client connection, plain or TLS (with a client certificate when given),
// reading responses by their Content-Length; 5 s receive timeout.
class Client {
 public:
  explicit Client(int port, SSL_CTX* tls = nullptr) : raw_(port) {
    if (!tls || !raw_.connected()) return;
    ssl_ = SSL_new(tls);
    SSL_set_fd(ssl_, raw_.fd());
    handshake_ = SSL_connect(ssl_) == 1;
  }
  ~Client() {
    if (ssl_) SSL_free(ssl_);
  }
  bool connected() const { return raw_.connected() && (!ssl_ || handshake_); }

  bool Send(const std::string& data) {
    if (!ssl_) return raw_.Send(data);
    return SSL_write(ssl_, data.data(), static_cast<int>(data.size())) == static_cast<int>(data.size());
  }

  // The next response, or nullopt when the server closed (or was silent
  // for 5 s) before a whole one arrived.
  std::optional<Response> Next() {
    for (;;) {
      const auto end = buffer_.find("\r\n\r\n");
      if (end != std::string::npos) {
        Response r;
        r.head = buffer_.substr(0, end + 4);
        r.status = RawConnection::StatusOf(r.head);
        const auto at = r.head.find("Content-Length: ");
        const std::size_t length = at == std::string::npos ? 0 : std::stoul(r.head.substr(at + 16));
        if (buffer_.size() >= end + 4 + length) {
          r.body = buffer_.substr(end + 4, length);
          buffer_.erase(0, end + 4 + length);
          return r;
        }
      }
      if (Receive() != kData) return std::nullopt;
    }
  }

  // True when the server closes the connection (within 5 s) with nothing
  // more sent.
  bool ClosedSilently() { return Receive() == kClosed && buffer_.empty(); }

 private:
  enum Received { kData, kClosed, kSilent };

  Received Receive() {
    char buf[4096];
    if (!ssl_) {
      const ssize_t n = recv(raw_.fd(), buf, sizeof buf, 0);
      if (n > 0) buffer_.append(buf, static_cast<std::size_t>(n));
      if (n >= 0) return n > 0 ? kData : kClosed;
      return errno == EAGAIN || errno == EWOULDBLOCK ? kSilent : kClosed;
    }
    ERR_clear_error();
    const int n = SSL_read(ssl_, buf, sizeof buf);
    if (n > 0) {
      buffer_.append(buf, static_cast<std::size_t>(n));
      return kData;
    }
    // The receive timeout surfaces as a read that would block.
    const int error = SSL_get_error(ssl_, n);
    if (error == SSL_ERROR_WANT_READ || (error == SSL_ERROR_SYSCALL && (errno == EAGAIN || errno == EWOULDBLOCK)))
      return kSilent;
    return kClosed;
  }

  RawConnection raw_;
  SSL* ssl_ = nullptr;
  bool handshake_ = false;
  std::string buffer_;
};

std::string Get(const std::string& path, const std::string& extra = "") {
  return "GET " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\n" + extra + "\r\n";
}

TEST(FrontDoorKeepAlive, TwoAndThreeRequestsOnOneConnectionAreAnsweredInOrder) {
  Door door(FrontDoorOptions{});
  Client c(door.port());
  ASSERT_TRUE(c.connected());
  for (const std::string path : {"/a", "/b", "/c"}) {
    ASSERT_TRUE(c.Send(Get(path)));
    auto r = c.Next();
    ASSERT_TRUE(r) << path;
    EXPECT_EQ(r->status, 200);
    EXPECT_FALSE(r->close()) << r->head;
    EXPECT_NE(r->body.find("GET " + path + " HTTP/1.1"), std::string::npos) << r->body;
  }
  EXPECT_EQ(door.lines().size(), 3u);
}

TEST(FrontDoorKeepAlive, PipelinedRequestsInOneWriteAreAllAnsweredInOrder) {
  Door door(FrontDoorOptions{});
  Client c(door.port());
  ASSERT_TRUE(c.connected());
  // A body between them: the next request starts right after it.
  ASSERT_TRUE(c.Send(Get("/first") + "POST /second HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 5\r\n\r\nhello" +
                     Get("/third")));
  for (const std::string expected : {"1 GET /first", "2 POST /second", "3 GET /third"}) {
    auto r = c.Next();
    ASSERT_TRUE(r) << expected;
    EXPECT_EQ(r->status, 200);
    EXPECT_EQ(r->body.rfind(expected, 0), 0u) << r->body;
  }
}

TEST(FrontDoorKeepAlive, ConnectionCloseOrHttp10ClosesAfterTheResponse) {
  Door door(FrontDoorOptions{});
  for (const std::string& request : {Get("/x", "Connection: close\r\n"), Get("/x", "Connection: Keep-Alive, CLOSE\r\n"),
                                    std::string("GET /x HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n"), Get("/close")}) {
    Client c(door.port());
    ASSERT_TRUE(c.Send(request + Get("/never")));
    auto r = c.Next();
    ASSERT_TRUE(r) << request;
    EXPECT_EQ(r->status, 200);
    EXPECT_TRUE(r->close()) << r->head;
    EXPECT_TRUE(c.ClosedSilently()) << request;
  }
  for (const auto& line : door.lines()) EXPECT_EQ(line.find("/never"), std::string::npos) << line;
  // HTTP/1.0 asking for keep-alive stays open.
  Client c(door.port());
  ASSERT_TRUE(c.Send("GET /a HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"));
  auto r = c.Next();
  ASSERT_TRUE(r);
  EXPECT_FALSE(r->close());
  ASSERT_TRUE(c.Send(Get("/b")));
  EXPECT_TRUE(c.Next());
}

TEST(FrontDoorKeepAlive, TheConnectionClosesAfterMaxRequestsPerConnection) {
  FrontDoorOptions options;
  options.max_requests_per_connection = 3;
  Door door(options);
  Client c(door.port());
  ASSERT_TRUE(c.Send(Get("/1") + Get("/2") + Get("/3") + Get("/4")));
  for (int i = 1; i <= 3; ++i) {
    auto r = c.Next();
    ASSERT_TRUE(r) << i;
    EXPECT_EQ(r->close(), i == 3) << r->head;
  }
  EXPECT_TRUE(c.ClosedSilently());
  EXPECT_EQ(door.lines().size(), 3u);

  options.max_requests_per_connection = 1;  // one request per connection
  Door single(options);
  Client d(single.port());
  ASSERT_TRUE(d.Send(Get("/1") + Get("/2")));
  auto r = d.Next();
  ASSERT_TRUE(r);
  EXPECT_TRUE(r->close());
  EXPECT_TRUE(d.ClosedSilently());
}

TEST(FrontDoorKeepAlive, AnIdleConnectionClosesAfterTheKeepAliveTimeoutWithout408) {
  FrontDoorOptions options;
  options.keep_alive_timeout_ms = 300;
  options.header_timeout_ms = 300;
  Door door(options);
  Client c(door.port());
  ASSERT_TRUE(c.Send(Get("/a")));
  ASSERT_TRUE(c.Next());
  const auto idle_since = Steady::now();
  EXPECT_TRUE(c.ClosedSilently());  // no 408, nothing
  EXPECT_GE(Steady::now() - idle_since, std::chrono::milliseconds(250));
  for (const auto& reason : door.reasons()) EXPECT_NE(reason, "timeout");

  // A next request begun and not finished is late, as a first one would be.
  Client d(door.port());
  ASSERT_TRUE(d.Send(Get("/a")));
  ASSERT_TRUE(d.Next());
  ASSERT_TRUE(d.Send("GET /b HTT"));
  auto r = d.Next();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 408);
  EXPECT_TRUE(r->close());
}

TEST(FrontDoorKeepAlive, ABodyTheDoorDidNotReadClosesAndIsNeverTakenForARequest) {
  FrontDoorOptions options;
  options.max_body_bytes = 100;
  Door door(options);
  const std::string smuggled = Get("/smuggled");
  const std::string body = smuggled + std::string(200 - smuggled.size(), 'x');
  for (const std::string head : {"Content-Length: 200\r\n", "Transfer-Encoding: chunked\r\n",
                                 "Content-Length: 12\r\nContent-Length: 13\r\n"}) {
    Client c(door.port());
    const bool chunked = head.find("chunked") != std::string::npos;
    ASSERT_TRUE(c.Send("POST /upload HTTP/1.1\r\nHost: 127.0.0.1\r\n" + head + "\r\n" +
                       (chunked ? "c8\r\n" + body + "\r\n0\r\n\r\n" : body)));
    auto r = c.Next();
    ASSERT_TRUE(r) << head;
    EXPECT_TRUE(r->close()) << head << r->head;
    EXPECT_TRUE(c.ClosedSilently()) << head;
  }
  EXPECT_EQ(door.lines().size(), 3u);
  for (const auto& line : door.lines()) EXPECT_EQ(line, "POST /upload HTTP/1.1");
}

TEST(FrontDoorKeepAlive, AnIdleKeptAliveConnectionIsEvictedFirst) {
  FrontDoorOptions options;
  options.max_per_address = 2;
  Door door(options);
  Client idle(door.port());
  ASSERT_TRUE(idle.Send(Get("/a")));
  ASSERT_TRUE(idle.Next());
  Client younger(door.port());
  ASSERT_TRUE(younger.Send(Get("/b")));
  ASSERT_TRUE(younger.Next());
  Client third(door.port());  // over the bound: the oldest waiting one goes
  ASSERT_TRUE(third.Send(Get("/c")));
  ASSERT_TRUE(third.Next());
  EXPECT_TRUE(idle.ClosedSilently());
  ASSERT_TRUE(younger.Send(Get("/d")));
  EXPECT_TRUE(younger.Next());
  EXPECT_TRUE(PollUntil(
      [&] {
        auto reasons = door.reasons();
        return std::count(reasons.begin(), reasons.end(), std::string("evicted")) == 1;
      },
      5000));
}

// TLS: a server certificate and a client certificate made by the openssl
// tool, and the client certificate's fingerprint as that tool prints it.
class FrontDoorTls : public ::testing::Test {
 protected:
  void SetUp() override {
    std::signal(SIGPIPE, SIG_IGN);
    dir_ = testing::MakeTempDir("yilian-front-door");
    MakeCertificate("server");
    MakeCertificate("client");
    auto p = Process::Start({"/usr/bin/openssl", "x509", "-noout", "-fingerprint", "-sha256", "-in",
                             dir_ + "/client.crt"},
                            dir_ + "/fp.out", dir_ + "/fp.err");
    int code = -1;
    ASSERT_TRUE(p->WaitExit(30000, &code));
    ASSERT_EQ(code, 0);
    // "sha256 Fingerprint=AB:CD:..." -> "abcd..."
    const std::string out = testing::ReadFile(dir_ + "/fp.out");
    for (char ch : out.substr(out.find('=') + 1))
      if (std::isxdigit(static_cast<unsigned char>(ch))) fingerprint_ += static_cast<char>(std::tolower(ch));

    server_ = SSL_CTX_new(TLS_server_method());
    ASSERT_EQ(SSL_CTX_use_certificate_chain_file(server_, (dir_ + "/server.crt").c_str()), 1);
    ASSERT_EQ(SSL_CTX_use_PrivateKey_file(server_, (dir_ + "/server.key").c_str(), SSL_FILETYPE_PEM), 1);
    // Asks for a client certificate signed by client.crt (self-signed), and
    // serves clients without one too.
    ASSERT_EQ(SSL_CTX_load_verify_locations(server_, (dir_ + "/client.crt").c_str(), nullptr), 1);
    SSL_CTX_set_verify(server_, SSL_VERIFY_PEER, nullptr);
    anonymous_ = SSL_CTX_new(TLS_client_method());
    with_cert_ = SSL_CTX_new(TLS_client_method());
    ASSERT_EQ(SSL_CTX_use_certificate_file(with_cert_, (dir_ + "/client.crt").c_str(), SSL_FILETYPE_PEM), 1);
    ASSERT_EQ(SSL_CTX_use_PrivateKey_file(with_cert_, (dir_ + "/client.key").c_str(), SSL_FILETYPE_PEM), 1);
  }
  void TearDown() override {
    for (SSL_CTX* ctx : {server_, anonymous_, with_cert_})
      if (ctx) SSL_CTX_free(ctx);
    testing::RemoveTree(dir_);
  }

  void MakeCertificate(const std::string& name) {
    auto p = Process::Start({"/usr/bin/openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                             "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", dir_ + "/" + name + ".key", "-out",
                             dir_ + "/" + name + ".crt", "-days", "2", "-subj", "/CN=" + name},
                            dir_ + "/" + name + ".out", dir_ + "/" + name + ".err");
    int code = -1;
    ASSERT_TRUE(p->WaitExit(30000, &code));
    ASSERT_EQ(code, 0) << testing::ReadFile(dir_ + "/" + name + ".err");
  }

  std::string dir_;
  std::string fingerprint_;
  SSL_CTX* server_ = nullptr;
  SSL_CTX* anonymous_ = nullptr;
  SSL_CTX* with_cert_ = nullptr;
};

TEST_F(FrontDoorTls, RequestsOnOneConnectionCarryTheClientCertificateFingerprint) {
  ASSERT_EQ(fingerprint_.size(), 64u);
  Door door(FrontDoorOptions{}, server_);
  Client c(door.port(), with_cert_);
  ASSERT_TRUE(c.connected());
  ASSERT_TRUE(c.Send(Get("/a")));
  auto r = c.Next();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->body, "1 GET /a HTTP/1.1 fp=" + fingerprint_);
  // Two more, the second sent ahead of the first's response.
  ASSERT_TRUE(c.Send(Get("/b") + Get("/c")));
  for (const std::string expected : {"2 GET /b HTTP/1.1 fp=", "3 GET /c HTTP/1.1 fp="}) {
    r = c.Next();
    ASSERT_TRUE(r) << expected;
    EXPECT_EQ(r->body, expected + fingerprint_);
    EXPECT_FALSE(r->close());
  }
}

TEST_F(FrontDoorTls, WithoutAClientCertificateTheFingerprintIsEmpty) {
  Door door(FrontDoorOptions{}, server_);
  Client c(door.port(), anonymous_);
  ASSERT_TRUE(c.connected());
  ASSERT_TRUE(c.Send(Get("/a")));
  auto r = c.Next();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->body, "1 GET /a HTTP/1.1 fp=");
  ASSERT_TRUE(c.Send(Get("/b", "Connection: close\r\n")));
  r = c.Next();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->body, "2 GET /b HTTP/1.1 fp=");
  EXPECT_TRUE(r->close());
  EXPECT_TRUE(c.ClosedSilently());
}

}  // namespace
}  // namespace yilian
