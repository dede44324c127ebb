// HttpFront: the simulated agency's HTTP interface (the contract the http
// sink speaks, docs/plugins.md): POST <base>/records and
// GET <base>/records/<event id>, answered by an AgencySim.
//
// Threads: Start/Stop from one thread; requests are served on the
// server's own threads. Ownership: the AgencySim outlives the front.
#pragma once

#include <memory>
#include <string>
#include <thread>

#include "common/status.h"
#include "sim/agency_sim.h"

namespace httplib {
class Server;
}

namespace yilian::sim {

class HttpFront {
 public:
  HttpFront(AgencySim* sim, std::string base_path);
  ~HttpFront();  // stops the server

  // Binds host:port (port 0: any) and serves in the background. Returns the
  // port bound.
  Result<int> Start(const std::string& host, int port);
  void Stop();

 private:
  AgencySim* sim_;
  std::string base_;
  std::unique_ptr<httplib::Server> server_;
  std::thread thread_;
};

}  // namespace yilian::sim
