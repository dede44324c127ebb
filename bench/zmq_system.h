// The ceiling: yilian's message pattern over raw ZeroMQ, with no storage
// and no protobuf, to show what the transport alone costs on this machine.
//
// A server process (bench-zmq --serve) binds a ROUTER socket, like
// yilian-broker. Clients use DEALER sockets. Every message is multipart:
// a header frame (one type byte, then fields) and, for events, the event's
// bytes as a second frame, forwarded without copying.
//   'H' role(u8 'P'|'C') agency(u16) credit(u32)  client -> server; answered 'W'
//   'P' index(u32) + payload                       publish; answered 'A' index at once
//   'D' index(u32) + payload                       delivery to one consumer per agency,
//                                                  while it has credit
//   'R' index(u32)                                 result; answered 'K' index, frees credit
// The server keeps one in-memory FIFO per agency; nothing is written to disk,
// so the "confirm" promises nothing.
//
// Ownership: ZmqSystem owns the server process. Threads: see harness/system.h.
#pragma once

#include <memory>
#include <string>
#include <zmq.hpp>

#include "harness/system.h"
#include "testing/process.h"

namespace yilian::bench {

// Runs the server for `agencies` agencies until SIGTERM or SIGINT; returns
// the exit code.
int ServeZmq(const std::string& endpoint, int agencies);

class ZmqSystem : public System {
 public:
  explicit ZmqSystem(std::string self_path) : self_path_(std::move(self_path)) {}
  ~ZmqSystem() override { Finish(); }

  std::string name() const override { return "zeromq"; }
  std::string durability() const override {
    return "raw ZeroMQ, no storage: the confirm is sent on receipt and promises nothing";
  }
  std::string durability_class() const override { return "none"; }
  std::string versions() const override;
  bool acks_answered() const override { return true; }

  Status Prepare(const Topology& topology, const Workload& workload) override;
  pid_t server_pid() const override { return server_ ? server_->pid() : -1; }
  Status Stop() override;
  Status Start() override;
  void Finish() override;

  Result<std::unique_ptr<Publisher>> NewPublisher() override;
  Result<std::unique_ptr<Consumer>> NewConsumer(int agency) override;

 private:
  std::string self_path_, endpoint_;
  Topology topology_;
  const Workload* workload_ = nullptr;
  std::unique_ptr<testing::Process> server_;
  zmq::context_t context_{1};
};

}  // namespace yilian::bench
