// Raw HTTP over TCP on 127.0.0.1 for tests that speak to the broker the way
// an attacker would: byte by byte, half a request, or too much of one.
// Used from any test thread; each object from one thread.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <string>

#include "testing/process.h"

namespace yilian::testing {

// A blocking TCP connection to 127.0.0.1 with send and receive timeouts
// (5 s unless told), so that a test never hangs on a server that stops reading.
class RawConnection {
 public:
  explicit RawConnection(int port, int timeout_ms = 5000) {
    fd_ = socket(AF_INET, SOCK_STREAM, 0);
    timeval tv{timeout_ms / 1000, (timeout_ms % 1000) * 1000};
    setsockopt(fd_, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<std::uint16_t>(port));
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    connected_ = connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
  }
  ~RawConnection() { close(fd_); }
  bool connected() const { return connected_; }

  // Sends all of `data`; false when the peer closed or stopped reading.
  bool Send(const std::string& data) {
    std::size_t at = 0;
    while (at < data.size()) {
      ssize_t n = send(fd_, data.data() + at, data.size() - at, MSG_NOSIGNAL);
      if (n <= 0) return false;
      at += static_cast<std::size_t>(n);
    }
    return true;
  }

  int fd() const { return fd_; }

  // What the server sent until it closed, or until the receive timeout.
  std::string ReadAll() {
    std::string out;
    char buf[4096];
    for (;;) {
      ssize_t n = recv(fd_, buf, sizeof buf, 0);
      if (n <= 0) break;
      out.append(buf, static_cast<std::size_t>(n));
      if (out.size() > (1 << 20)) break;
    }
    return out;
  }

  // Status code of the first response in `text`, or 0.
  static int StatusOf(const std::string& text) {
    if (text.rfind("HTTP/1.1 ", 0) != 0 || text.size() < 12) return 0;
    return std::atoi(text.substr(9, 3).c_str());
  }

 private:
  int fd_ = -1;
  bool connected_ = false;
};

// Waits until the broker's HTTP server answers /healthz for `host` (it
// starts after the broker's socket, which BrokerProcess waits for).
inline bool WaitForHttp(int port, const std::string& host = "127.0.0.1") {
  return PollUntil(
      [&] {
        RawConnection c(port);
        return c.connected() &&
               c.Send("GET /healthz HTTP/1.1\r\nHost: " + host + "\r\nConnection: close\r\n\r\n") &&
               RawConnection::StatusOf(c.ReadAll()) == 200;
      },
      10000);
}

// VmHWM (the peak resident set) or VmRSS of a process, in kB.
inline long MemoryKb(pid_t pid, const std::string& field) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(in, line))
    if (line.rfind(field + ":", 0) == 0) return std::atol(line.substr(field.size() + 1).c_str());
  return -1;
}

}  // namespace yilian::testing
