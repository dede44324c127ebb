// Slow and greedy HTTP clients against a real broker process: hundreds of
// connections that send their request a byte at a time (slowloris), idle
// TCP connections to the HTTPS port that never start the handshake, request
// lines and header lines that never end, bodies that never arrive, and one
// address opening connection after connection. The health check and the
// API must keep answering at once, and the broker must close what is too
// slow or too much (docs/security.md, "Slow clients").
#include <gtest/gtest.h>
#include <httplib.h>
#include <poll.h>
#include <sys/stat.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <memory>
#include <thread>
#include <vector>

#include "testing/broker_fixture.h"
#include "testing/raw_http.h"

namespace yilian {
namespace {

using testing::BrokerProcess;
using testing::PollUntil;
using testing::Process;
using testing::RawConnection;
using testing::WaitForHttp;
using Steady = std::chrono::steady_clock;

// True once the server has closed `fd` (end of stream or reset); what it
// sent before is discarded.
bool ClosedByServer(int fd) {
  char buf[4096];
  for (;;) {
    ssize_t n = recv(fd, buf, sizeof buf, MSG_DONTWAIT);
    if (n > 0) continue;
    if (n == 0) return true;
    return errno != EAGAIN && errno != EWOULDBLOCK;
  }
}

// Keeps `count` connections open to the port, each sending one more byte of
// a request head that never ends every 100 ms; a connection the server
// closes is opened again at its next turn, as a real attacker would.
class Slowloris {
 public:
  Slowloris(int port, int count) : port_(port), count_(count) {
    thread_ = std::thread([this] { Run(); });
  }
  ~Slowloris() {
    stop_ = true;
    thread_.join();
  }
  int opened() const { return opened_; }
  int turns() const { return turns_; }

 private:
  void Run() {
    std::vector<std::unique_ptr<RawConnection>> conns(static_cast<std::size_t>(count_));
    std::vector<std::size_t> sent(conns.size());
    const std::string head = "GET /api/v1/stats HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ";
    while (!stop_) {
      const auto turn = Steady::now();
      for (std::size_t i = 0; i < conns.size() && !stop_; ++i) {
        if (conns[i] && ClosedByServer(conns[i]->fd())) conns[i].reset();
        if (!conns[i]) {
          conns[i] = std::make_unique<RawConnection>(port_, 1000);
          sent[i] = 0;
          ++opened_;
          if (!conns[i]->connected()) continue;
        }
        const char byte = sent[i] < head.size() ? head[sent[i]] : 'a';
        if (conns[i]->connected() && conns[i]->Send(std::string(1, byte))) ++sent[i];
      }
      ++turns_;
      std::this_thread::sleep_until(turn + std::chrono::milliseconds(100));  // the attack's pace
    }
  }

  const int port_;
  const int count_;
  std::atomic<bool> stop_{false};
  std::atomic<int> opened_{0};
  std::atomic<int> turns_{0};
  std::thread thread_;
};

// One GET with a 1 s receive timeout: the status (0: no answer) and the
// time it took.
std::pair<int, double> TimedGet(int port, const std::string& path) {
  const auto start = Steady::now();
  RawConnection c(port, 1000);
  int status = 0;
  if (c.connected() && c.Send("GET " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"))
    status = RawConnection::StatusOf(c.ReadAll());
  return {status, std::chrono::duration<double, std::milli>(Steady::now() - start).count()};
}

// The value of a series in the text of /metrics, or -1.
double SeriesValue(const std::string& text, const std::string& series) {
  auto at = text.find("\n" + series + " ");
  if (at == std::string::npos) return -1;
  return std::atof(text.c_str() + at + series.size() + 2);
}

double Metric(int port, const std::string& series) {
  RawConnection c(port);
  if (!c.Send("GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")) return -1;
  return SeriesValue(c.ReadAll(), series);
}

// 200 slowloris connections from one address, with the default bounds (32
// per address: the oldest waiting ones are closed to make room) and with
// bounds wide enough to hold all 200 at once: /healthz and /api/v1/stats
// each answer 10 times in a row, every time within a second.
class SlowlorisTest : public ::testing::TestWithParam<std::string> {};

TEST_P(SlowlorisTest, HealthAndStatsKeepAnsweringUnder200SlowConnections) {
  BrokerProcess broker(GetParam());
  broker.Start();
  ASSERT_TRUE(WaitForHttp(broker.http_port()));
  Slowloris attack(broker.http_port(), 200);
  // A second of attack first: every connection holds a part of a head.
  ASSERT_TRUE(PollUntil([&] { return attack.turns() >= 10; }, 20000));
  double worst = 0;
  int answered = 0;
  for (int i = 0; i < 10; ++i) {
    for (const std::string path : {"/healthz", "/api/v1/stats"}) {
      auto [status, ms] = TimedGet(broker.http_port(), path);
      EXPECT_EQ(status, 200) << path << " under attack, probe " << i << " (" << ms << " ms)";
      if (status == 200) ++answered;
      worst = std::max(worst, ms);
    }
  }
  std::printf("%d of 20 probes answered under 200 slow connections; slowest %.1f ms; %d attack connections opened\n",
              answered, worst, attack.opened());
  EXPECT_EQ(answered, 20);
}

INSTANTIATE_TEST_SUITE_P(Bounds, SlowlorisTest,
                         ::testing::Values("", "  max_connections_per_address: 512\n"),
                         [](const auto& info) { return info.index == 0 ? "Defaults" : "AllHeld"; });

// A connection must send its request line and headers within
// http.header_timeout_ms and its body within http.read_timeout_ms of them,
// however steadily it trickles: then it is answered 408 and closed, and
// the metric counts it.
TEST(SlowRequests, TooSlowHeadOrBodyIs408) {
  BrokerProcess broker("  header_timeout_ms: 600\n  read_timeout_ms: 600\n");
  broker.Start();
  ASSERT_TRUE(WaitForHttp(broker.http_port()));
  {
    RawConnection c(broker.http_port());
    const std::string head = "GET /api/v1/stats HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: aaaaaaaaaaaaaaaaaaaaaaaaaaa";
    std::string response;
    const auto start = Steady::now();
    for (char byte : head) {
      if (!c.Send(std::string(1, byte))) break;
      pollfd p{c.fd(), POLLIN, 0};
      if (poll(&p, 1, 50) == 1) break;  // the server answered
    }
    response = c.ReadAll();
    const double ms = std::chrono::duration<double, std::milli>(Steady::now() - start).count();
    EXPECT_EQ(RawConnection::StatusOf(response), 408) << response;
    EXPECT_NE(response.find("http.header_timeout_ms"), std::string::npos) << response;
    EXPECT_LT(ms, 5000) << "a trickling head was read for " << ms << " ms";
  }
  {
    RawConnection c(broker.http_port());
    ASSERT_TRUE(c.Send("POST /api/v1/agencies/tax/replay HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 100\r\n\r\n"
                       "{\"since\":"));
    std::string response = c.ReadAll();
    EXPECT_EQ(RawConnection::StatusOf(response), 408) << response;
    EXPECT_NE(response.find("http.read_timeout_ms"), std::string::npos) << response;
  }
  EXPECT_GE(Metric(broker.http_port(), "yilian_http_connections_closed_early_total{reason=\"timeout\"}"), 2);
}

// A request line or a header line that never ends is answered (414, 431)
// once it passes http.max_header_bytes, and nothing more of it is read.
TEST(SlowRequests, EndlessLinesAreRefusedAtTheHeadLimit) {
  BrokerProcess broker;
  broker.Start();
  ASSERT_TRUE(WaitForHttp(broker.http_port()));
  const std::string kilobyte(1024, 'a');
  for (const auto& [start, want] : std::vector<std::pair<std::string, int>>{
           {"GET /", 414}, {"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Endless: ", 431}}) {
    RawConnection c(broker.http_port());
    ASSERT_TRUE(c.Send(start));
    std::size_t sent = 0;
    while (sent < (64u << 20) && c.Send(kilobyte)) sent += kilobyte.size();
    std::string response = c.ReadAll();
    EXPECT_EQ(RawConnection::StatusOf(response), want) << response.substr(0, 300);
    EXPECT_NE(response.find("http.max_header_bytes"), std::string::npos) << response.substr(0, 300);
    EXPECT_LT(sent, 16u << 20) << "the broker read on after refusing";
  }
  auto [status, ms] = TimedGet(broker.http_port(), "/healthz");
  EXPECT_EQ(status, 200);
}

// One address may hold http.max_connections_per_address connections: the
// fifth idle connection of four allowed closes the oldest idle one, and so
// on; the newest four stay open and are served.
TEST(ConnectionBounds, OneAddressHoldsAtMostItsShareAndTheOldestIdleGoFirst) {
  BrokerProcess broker("  max_connections_per_address: 4\n  header_timeout_ms: 60000\n");
  broker.Start();
  ASSERT_TRUE(WaitForHttp(broker.http_port()));
  std::vector<std::unique_ptr<RawConnection>> conns;
  for (int i = 0; i < 10; ++i) {
    conns.push_back(std::make_unique<RawConnection>(broker.http_port()));
    ASSERT_TRUE(conns.back()->connected());
  }
  std::vector<bool> closed(conns.size());
  auto count_closed = [&] {
    int n = 0;
    for (std::size_t i = 0; i < conns.size(); ++i) {
      if (!closed[i]) closed[i] = ClosedByServer(conns[i]->fd());
      n += closed[i];
    }
    return n;
  };
  ASSERT_TRUE(PollUntil([&] { return count_closed() >= 6; }, 10000)) << count_closed() << " closed";
  EXPECT_EQ(count_closed(), 6);
  for (std::size_t i = 0; i < conns.size(); ++i) EXPECT_EQ(closed[i], i < 6) << "connection " << i;
  // The newest is still good for a request.
  ASSERT_TRUE(conns.back()->Send("GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"));
  EXPECT_EQ(RawConnection::StatusOf(conns.back()->ReadAll()), 200);
  EXPECT_GE(Metric(broker.http_port(), "yilian_http_connections_closed_early_total{reason=\"evicted\"}"), 6);
}

// HTTPS: 50 idle TCP connections that never begin the TLS handshake keep
// nobody from the health check, and each is closed after
// http.handshake_timeout_ms (the bound per address is raised, so that none
// is closed to make room instead).
TEST(SlowHandshakes, IdleTcpConnectionsDoNotBlockHttpsAndAreClosed) {
  BrokerProcess broker("  handshake_timeout_ms: 1000\n  max_connections_per_address: 100\n  tls_cert_file: CERT\n  tls_key_file: KEY\n");
  const std::string dir = broker.dir();
  auto p = Process::Start({"/usr/bin/openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                           "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", dir + "/tls.key", "-out",
                           dir + "/tls.crt", "-days", "2", "-subj", "/CN=127.0.0.1", "-addext",
                           "subjectAltName=IP:127.0.0.1"},
                          dir + "/openssl.out", dir + "/openssl.err");
  int code = -1;
  ASSERT_TRUE(p->WaitExit(30000, &code));
  ASSERT_EQ(code, 0) << testing::ReadFile(dir + "/openssl.err");
  chmod((dir + "/tls.key").c_str(), 0600);
  std::string yaml = testing::ReadFile(broker.config_path());
  yaml.replace(yaml.find("CERT"), 4, dir + "/tls.crt");
  yaml.replace(yaml.find("KEY"), 3, dir + "/tls.key");
  testing::WriteFile(broker.config_path(), yaml);
  broker.Start();
  std::string body;
  auto https_get = [&](const std::string& path) {
    httplib::SSLClient client("127.0.0.1", broker.http_port());
    client.set_ca_cert_path((dir + "/tls.crt").c_str());
    client.enable_server_certificate_verification(true);
    client.set_connection_timeout(1, 0);
    client.set_read_timeout(1, 0);
    auto res = client.Get(path);
    body = res ? res->body : "";
    return res ? res->status : 0;
  };
  ASSERT_TRUE(PollUntil([&] { return https_get("/healthz") == 200; }, 10000));
  std::vector<std::unique_ptr<RawConnection>> idle;
  for (int i = 0; i < 50; ++i) idle.push_back(std::make_unique<RawConnection>(broker.http_port()));
  double worst = 0;
  for (int i = 0; i < 10; ++i) {
    const auto start = Steady::now();
    EXPECT_EQ(https_get(i % 2 ? "/api/v1/stats" : "/healthz"), 200) << "probe " << i;
    worst = std::max(worst, std::chrono::duration<double, std::milli>(Steady::now() - start).count());
  }
  std::printf("HTTPS probes under 50 idle TCP connections: slowest %.1f ms\n", worst);
  EXPECT_TRUE(PollUntil(
      [&] {
        return std::all_of(idle.begin(), idle.end(), [](const auto& c) { return ClosedByServer(c->fd()); });
      },
      10000))
      << "idle connections outlived http.handshake_timeout_ms";
  ASSERT_EQ(https_get("/metrics"), 200);
  EXPECT_GE(SeriesValue(body, "yilian_http_connections_closed_early_total{reason=\"handshake\"}"), 50);
}

// How many times `what` occurs in `text`.
std::size_t Count(const std::string& text, const std::string& what) {
  std::size_t n = 0;
  for (auto at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
  return n;
}

// Keep-alive through the whole server: requests sent ahead on one
// connection are answered in order, each response saying whether the
// connection stays open, and the connection closes after the one that asks.
TEST(KeepAlive, RequestsOnOneConnectionAreAnsweredInOrderUntilConnectionClose) {
  BrokerProcess broker;
  broker.Start();
  ASSERT_TRUE(WaitForHttp(broker.http_port()));
  RawConnection c(broker.http_port());
  ASSERT_TRUE(c.Send("GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"));
  // The first response comes while the connection stays open.
  std::string first;
  ASSERT_TRUE(PollUntil(
      [&] {
        char buf[4096];
        ssize_t n = recv(c.fd(), buf, sizeof buf, MSG_DONTWAIT);
        if (n > 0) first.append(buf, static_cast<std::size_t>(n));
        return first.find("{\"status\":\"ok\"}") != std::string::npos;
      },
      5000))
      << first;
  EXPECT_EQ(RawConnection::StatusOf(first), 200) << first;
  EXPECT_EQ(first.find("Connection: close"), std::string::npos) << first;
  EXPECT_NE(first.find("Keep-Alive: "), std::string::npos) << first;
  ASSERT_TRUE(c.Send("GET /no/such/page HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
                     "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
                     "GET /never HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"));
  const std::string rest = c.ReadAll();  // until the broker closes
  EXPECT_EQ(Count(rest, "HTTP/1.1 "), 2u) << rest;
  EXPECT_EQ(RawConnection::StatusOf(rest), 404) << rest;
  EXPECT_LT(rest.find("HTTP/1.1 404"), rest.find("HTTP/1.1 200 OK")) << rest;
  EXPECT_EQ(rest.find("/never"), std::string::npos) << rest;
  EXPECT_EQ(Count(rest, "Connection: close"), 1u) << rest;
}

// A request refused before its body is read (a Content-Length over
// http.max_body_bytes) closes the connection: the body, here a whole
// request, is never answered as one.
TEST(KeepAlive, ARefusedUnreadBodyClosesTheConnectionAndIsNeverARequest) {
  BrokerProcess broker;
  broker.Start();
  ASSERT_TRUE(WaitForHttp(broker.http_port()));
  RawConnection c(broker.http_port());
  ASSERT_TRUE(c.Send("POST /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 70000\r\n\r\n"
                     "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"));
  const std::string response = c.ReadAll();
  EXPECT_EQ(RawConnection::StatusOf(response), 413) << response;
  EXPECT_EQ(Count(response, "HTTP/1.1 "), 1u) << response;
  EXPECT_NE(response.find("Connection: close"), std::string::npos) << response;
}

// A kept-alive connection with no next request is closed after
// http.keep_alive_timeout_ms (5 s by default) without a 408: it was not
// late, it was done.
TEST(KeepAlive, AnIdleConnectionIsClosedWithoutA408) {
  BrokerProcess broker;
  broker.Start();
  ASSERT_TRUE(WaitForHttp(broker.http_port()));
  RawConnection c(broker.http_port(), 15000);
  ASSERT_TRUE(c.Send("GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"));
  const auto start = Steady::now();
  const std::string response = c.ReadAll();  // until the broker closes
  const double ms = std::chrono::duration<double, std::milli>(Steady::now() - start).count();
  EXPECT_EQ(Count(response, "HTTP/1.1 "), 1u) << response;
  EXPECT_EQ(RawConnection::StatusOf(response), 200) << response;
  EXPECT_GT(ms, 3000) << "closed before http.keep_alive_timeout_ms";
  EXPECT_LT(ms, 12000) << "never closed";
  EXPECT_LE(Metric(broker.http_port(), "yilian_http_connections_closed_early_total{reason=\"timeout\"}"), 0);
}

}  // namespace
}  // namespace yilian
