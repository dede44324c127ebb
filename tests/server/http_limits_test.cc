// The HTTP server's limits against a real broker process, attacked the way
// an intruder would over raw sockets: huge bodies without a token, bodies
// over the limit with one, chunked bodies without an end, and thousands of
// header fields. The broker must answer without reading what it refuses,
// and its memory must stay where it was.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <atomic>
#include <cstdio>
#include <thread>

#include "testing/broker_fixture.h"
#include "testing/raw_http.h"

namespace yilian {
namespace {

using testing::BrokerProcess;
using testing::MemoryKb;
using testing::RawConnection;
using testing::WaitForHttp;

const std::string kAdminToken(40, 'a');

class HttpLimitsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    broker_ = std::make_unique<BrokerProcess>();
    testing::WriteFile(broker_->dir() + "/tokens.yaml",
                       "tokens:\n  - {identity: ops, role: admin, token: \"" + kAdminToken + "\"}\n");
    chmod((broker_->dir() + "/tokens.yaml").c_str(), 0600);
    testing::WriteFile(broker_->config_path(), testing::ReadFile(broker_->config_path()) +
                                                   "security:\n  tokens_file: " + broker_->dir() + "/tokens.yaml\n");
    broker_->Start();
    ASSERT_TRUE(WaitForHttp(broker_->http_port()));
  }

  std::string PostHead(const std::string& path, const std::string& extra_headers) {
    return "POST " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n" + extra_headers +
           "\r\n";
  }

  std::unique_ptr<BrokerProcess> broker_;
};

// Four clients at once each announce a 300 MiB body to an operator endpoint
// without a token and send it as fast as the broker takes it. Each is
// answered 401 without its body being read: the broker closes the
// connection, only a little of each body gets through, and the broker's peak
// memory stays within a few MiB of where it was.
TEST_F(HttpLimitsTest, HugeBodiesWithoutATokenAreRefusedBeforeTheyAreRead) {
  const std::uint64_t kBody = 300ull << 20;
  const long peak_before = MemoryKb(broker_->pid(), "VmHWM");
  ASSERT_GT(peak_before, 0);
  std::atomic<int> unauthorized{0};
  std::atomic<std::uint64_t> most_sent{0};
  std::vector<std::thread> clients;
  for (int i = 0; i < 4; ++i) {
    clients.emplace_back([&] {
      RawConnection c(broker_->http_port());
      if (!c.connected()) return;
      std::uint64_t sent = 0;
      std::string chunk(1 << 20, '{');
      if (c.Send(PostHead("/api/v1/agencies/tax/replay", "Content-Length: " + std::to_string(kBody) + "\r\n"))) {
        while (sent < kBody && c.Send(chunk)) sent += chunk.size();
      }
      if (RawConnection::StatusOf(c.ReadAll()) == 401) ++unauthorized;
      std::uint64_t m = most_sent.load();
      while (sent > m && !most_sent.compare_exchange_weak(m, sent)) {
      }
    });
  }
  for (auto& t : clients) t.join();
  EXPECT_EQ(unauthorized.load(), 4);
  // What a client can push before the close is felt is the sockets' buffers,
  // not the body.
  EXPECT_LT(most_sent.load(), 64ull << 20) << "the broker read on after refusing";
  const long peak_after = MemoryKb(broker_->pid(), "VmHWM");
  std::printf("broker peak RSS: %ld kB before, %ld kB after 4 x 300 MiB bodies; at most %llu bytes of a body sent\n",
              peak_before, peak_after, static_cast<unsigned long long>(most_sent.load()));
  EXPECT_LT(peak_after - peak_before, 32 * 1024)
      << "peak RSS grew from " << peak_before << " kB to " << peak_after << " kB";
  // The broker still answers.
  RawConnection c(broker_->http_port());
  ASSERT_TRUE(c.Send("GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"));
  EXPECT_EQ(RawConnection::StatusOf(c.ReadAll()), 200);
}

// With the admin token, a body over http.max_body_bytes (64 KiB by default)
// is refused with 413 from its Content-Length alone; a chunked body (no
// length to check first) is refused with 411 before it is read; a
// Content-Length that is not a number is 400.
TEST_F(HttpLimitsTest, BodiesOverTheLimitAre413AlsoWithAToken) {
  const std::string auth = "Authorization: Bearer " + kAdminToken + "\r\n";
  {
    RawConnection c(broker_->http_port());
    ASSERT_TRUE(c.Send(PostHead("/api/v1/agencies/tax/replay", auth + "Content-Length: 65537\r\n")));
    std::string response = c.ReadAll();
    EXPECT_EQ(RawConnection::StatusOf(response), 413) << response;
    EXPECT_NE(response.find("http.max_body_bytes"), std::string::npos) << response;
  }
  {
    RawConnection c(broker_->http_port());
    ASSERT_TRUE(c.Send(PostHead("/api/v1/agencies/tax/replay", auth + "Transfer-Encoding: chunked\r\n")));
    std::string chunk = "4000\r\n" + std::string(0x4000, ' ') + "\r\n";  // 16 KiB per chunk
    int chunks = 0;
    while (chunks < 4096 && c.Send(chunk)) ++chunks;  // 64 MiB if nothing stops it
    EXPECT_EQ(RawConnection::StatusOf(c.ReadAll()), 411);
    EXPECT_LT(chunks, 1024) << "the broker read a chunked body it refused";
  }
  {
    RawConnection c(broker_->http_port());
    ASSERT_TRUE(c.Send(PostHead("/api/v1/agencies/tax/replay", auth + "Content-Length: 12x\r\n")));
    EXPECT_EQ(RawConnection::StatusOf(c.ReadAll()), 400);
  }
  // A body within the limit goes through to the action.
  {
    RawConnection c(broker_->http_port());
    std::string body = R"({"since":"2000-01-01T00:00:00Z"})";
    ASSERT_TRUE(c.Send(PostHead("/api/v1/agencies/tax/replay",
                                auth + "Connection: close\r\nContent-Length: " + std::to_string(body.size()) + "\r\n") +
                       body));
    EXPECT_EQ(RawConnection::StatusOf(c.ReadAll()), 200);
  }
}

// 10,000 header fields: 431, and the next request is served.
TEST_F(HttpLimitsTest, ThousandsOfHeaderFieldsAre431) {
  std::string headers;
  for (int i = 0; i < 10000; ++i) headers += "X-Filler-" + std::to_string(i) + ": x\r\n";
  RawConnection c(broker_->http_port());
  ASSERT_TRUE(c.Send("GET /api/v1/stats HTTP/1.1\r\nHost: 127.0.0.1\r\n" + headers + "\r\n"));
  std::string response = c.ReadAll();
  EXPECT_EQ(RawConnection::StatusOf(response), 431) << response.substr(0, 200);
  RawConnection ok(broker_->http_port());
  ASSERT_TRUE(ok.Send("GET /api/v1/stats HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"));
  EXPECT_EQ(RawConnection::StatusOf(ok.ReadAll()), 200);
}

// Every response (dashboard, API, errors) carries the headers that keep the
// dashboard from being framed, loading foreign code or having its types
// guessed.
TEST_F(HttpLimitsTest, ResponsesCarrySecurityHeaders) {
  for (const std::string path : {"/", "/app.js", "/api/v1/stats", "/no/such/page"}) {
    RawConnection c(broker_->http_port());
    ASSERT_TRUE(c.Send("GET " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"));
    std::string response = c.ReadAll();
    std::string head = response.substr(0, response.find("\r\n\r\n"));
    EXPECT_NE(head.find("\r\nContent-Security-Policy: default-src 'none'; script-src 'self';"), std::string::npos)
        << path << ":\n" << head;
    EXPECT_NE(head.find("frame-ancestors 'none'"), std::string::npos) << path;
    EXPECT_NE(head.find("\r\nX-Frame-Options: DENY"), std::string::npos) << path;
    EXPECT_NE(head.find("\r\nX-Content-Type-Options: nosniff"), std::string::npos) << path;
  }
}

// DNS rebinding: a loopback broker answers only requests that name a
// loopback host; a page of evil.example whose name was made to resolve to
// 127.0.0.1 gets 421.
TEST_F(HttpLimitsTest, ALoopbackBrokerAnswersOnlyLoopbackHostNames) {
  auto status = [&](const std::string& host) {
    RawConnection c(broker_->http_port());
    EXPECT_TRUE(c.Send("GET /api/v1/stats HTTP/1.1\r\nHost: " + host + "\r\nConnection: close\r\n\r\n"));
    return RawConnection::StatusOf(c.ReadAll());
  };
  const std::string port = std::to_string(broker_->http_port());
  EXPECT_EQ(status("evil.example"), 421);
  EXPECT_EQ(status("evil.example:" + port), 421);
  EXPECT_EQ(status("127.0.0.1.evil.example"), 421);
  EXPECT_EQ(status("127.0.0.1:" + port), 200);
  EXPECT_EQ(status("localhost:" + port), 200);
  EXPECT_EQ(status("LOCALHOST"), 200);
  EXPECT_EQ(status("[::1]:" + port), 200);
}

// A client trying one unknown token after another is refused each time
// but logged once per 10 s, not once per request.
TEST_F(HttpLimitsTest, UnknownTokensAreLoggedOncePerIntervalPerClient) {
  for (int i = 0; i < 50; ++i) {
    RawConnection c(broker_->http_port());
    ASSERT_TRUE(c.Send("POST /api/v1/agencies/tax/replay HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer guess-" +
                       std::to_string(i) + std::string(40, 'x') + "\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"));
    ASSERT_EQ(RawConnection::StatusOf(c.ReadAll()), 401);
  }
  std::string log;
  auto lines = [&] {
    log = testing::ReadFile(broker_->log_path());
    std::size_t n = 0;
    for (auto at = log.find("unknown bearer token"); at != std::string::npos;
         at = log.find("unknown bearer token", at + 1))
      ++n;
    return n;
  };
  ASSERT_TRUE(testing::PollUntil([&] { return lines() >= 1; }, 5000));
  EXPECT_EQ(lines(), 1u) << log;
}

// With http.allowed_hosts the broker answers exactly those names.
TEST(HttpAllowedHosts, OnlyTheConfiguredNamesAreAnswered) {
  BrokerProcess broker;
  std::string yaml = testing::ReadFile(broker.config_path());
  yaml.replace(yaml.find("http:\n"), 6, "http:\n  allowed_hosts: [yilian.zone.example]\n");
  testing::WriteFile(broker.config_path(), yaml);
  broker.Start();
  ASSERT_TRUE(WaitForHttp(broker.http_port(), "yilian.zone.example"));
  auto status = [&](const std::string& host) {
    RawConnection c(broker.http_port());
    EXPECT_TRUE(c.Send("GET /healthz HTTP/1.1\r\nHost: " + host + "\r\nConnection: close\r\n\r\n"));
    return RawConnection::StatusOf(c.ReadAll());
  };
  EXPECT_EQ(status("yilian.zone.example:7780"), 200);
  EXPECT_EQ(status("127.0.0.1"), 421);
  EXPECT_EQ(status("other.zone.example"), 421);
}

}  // namespace
}  // namespace yilian
