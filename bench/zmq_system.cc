#include "zmq_system.h"

#include <signal.h>

#include <atomic>
#include <cstring>
#include <deque>
#include <unordered_map>
#include <vector>

namespace yilian::bench {
namespace {

std::atomic<bool> g_stop{false};
void OnSignal(int) { g_stop.store(true); }

std::string Header(char type, std::uint32_t value) {
  std::string h(1 + sizeof value, '\0');
  h[0] = type;
  std::memcpy(h.data() + 1, &value, sizeof value);
  return h;
}

std::uint32_t Field(const zmq::message_t& m, std::size_t offset) {
  std::uint32_t v = 0;
  if (m.size() >= offset + sizeof v) std::memcpy(&v, m.data<char>() + offset, sizeof v);
  return v;
}

char TypeOf(const zmq::message_t& m) { return m.size() > 0 ? *m.data<char>() : '\0'; }

void SendHeader(zmq::socket_t& s, const std::string* routing_id, const std::string& header,
                zmq::message_t* payload = nullptr) {
  if (routing_id) s.send(zmq::buffer(*routing_id), zmq::send_flags::sndmore);
  s.send(zmq::buffer(header), payload ? zmq::send_flags::sndmore : zmq::send_flags::none);
  if (payload) s.send(*payload, zmq::send_flags::none);
}

// The server side: sessions, one FIFO per agency, credit.
class Server {
 public:
  Server(zmq::socket_t& router, int agencies)
      : router_(router), queues_(static_cast<std::size_t>(agencies)), consumers_(static_cast<std::size_t>(agencies)) {}

  void Handle(const std::string& peer, const zmq::message_t& header, zmq::message_t* payload) {
    switch (TypeOf(header)) {
      case 'H': {
        Session s;
        s.consumer = header.size() > 1 && header.data<char>()[1] == 'C';
        std::uint16_t agency = 0;
        if (header.size() >= 4) std::memcpy(&agency, header.data<char>() + 2, sizeof agency);
        s.agency = agency;
        s.credit = Field(header, 4);
        sessions_[peer] = s;
        if (s.consumer && agency < consumers_.size()) consumers_[agency].push_back(peer);
        SendHeader(router_, &peer, "W");
        break;
      }
      case 'P': {
        std::uint32_t index = Field(header, 1);
        for (auto& q : queues_) {
          q.emplace_back();
          q.back().index = index;
          q.back().payload.copy(*payload);  // shares the buffer
        }
        SendHeader(router_, &peer, Header('A', index));
        break;
      }
      case 'R': {
        auto it = sessions_.find(peer);
        if (it != sessions_.end() && it->second.inflight > 0) --it->second.inflight;
        SendHeader(router_, &peer, Header('K', Field(header, 1)));
        break;
      }
      default:
        break;
    }
  }

  void Dispatch() {
    for (std::size_t a = 0; a < queues_.size(); ++a) {
      auto& q = queues_[a];
      for (const auto& peer : consumers_[a]) {
        Session& s = sessions_[peer];
        while (!q.empty() && s.inflight < s.credit) {
          SendHeader(router_, &peer, Header('D', q.front().index), &q.front().payload);
          q.pop_front();
          ++s.inflight;
        }
      }
    }
  }

 private:
  struct Session {
    bool consumer = false;
    std::uint16_t agency = 0;
    std::uint32_t credit = 0, inflight = 0;
  };
  struct Pending {
    std::uint32_t index = 0;
    zmq::message_t payload;
  };
  zmq::socket_t& router_;
  std::unordered_map<std::string, Session> sessions_;
  std::vector<std::deque<Pending>> queues_;
  std::vector<std::vector<std::string>> consumers_;
};

class ZmqPublisher : public Publisher {
 public:
  ZmqPublisher(zmq::context_t& ctx, const std::string& endpoint, const Workload& w)
      : workload_(w), socket_(ctx, zmq::socket_type::dealer) {
    socket_.set(zmq::sockopt::sndhwm, 100000);
    socket_.set(zmq::sockopt::rcvhwm, 100000);
    socket_.set(zmq::sockopt::linger, 0);
    socket_.connect(endpoint);
    std::string hello = "HP";
    hello.resize(8, '\0');
    SendHeader(socket_, nullptr, hello);
  }

  Status Send(std::size_t index) override {
    const auto& p = workload_.at(index).payload;
    zmq::message_t payload(p.data(), p.size());
    SendHeader(socket_, nullptr, Header('P', static_cast<std::uint32_t>(index)), &payload);
    return Status::Ok();
  }

  Status Poll(int timeout_ms, const ConfirmFn& on_confirm) override {
    zmq::pollitem_t item{socket_.handle(), 0, ZMQ_POLLIN, 0};
    zmq::poll(&item, 1, std::chrono::milliseconds(timeout_ms));
    zmq::message_t m;
    while (socket_.recv(m, zmq::recv_flags::dontwait)) {
      if (TypeOf(m) == 'A') on_confirm(Field(m, 1), true);
    }
    return Status::Ok();
  }

 private:
  const Workload& workload_;
  zmq::socket_t socket_;
};

class ZmqConsumer : public Consumer {
 public:
  ZmqConsumer(zmq::context_t& ctx, const std::string& endpoint, const Workload& w, int agency, int credit)
      : workload_(w), socket_(ctx, zmq::socket_type::dealer) {
    socket_.set(zmq::sockopt::sndhwm, 100000);
    socket_.set(zmq::sockopt::rcvhwm, 100000);
    socket_.set(zmq::sockopt::linger, 0);
    socket_.connect(endpoint);
    std::string hello(8, '\0');
    hello[0] = 'H';
    hello[1] = 'C';
    auto a = static_cast<std::uint16_t>(agency);
    auto c = static_cast<std::uint32_t>(credit);
    std::memcpy(hello.data() + 2, &a, sizeof a);
    std::memcpy(hello.data() + 4, &c, sizeof c);
    SendHeader(socket_, nullptr, hello);
  }

  Status Poll(int timeout_ms, const Callbacks& cb) override {
    zmq::pollitem_t item{socket_.handle(), 0, ZMQ_POLLIN, 0};
    zmq::poll(&item, 1, std::chrono::milliseconds(timeout_ms));
    zmq::message_t header, payload;
    while (socket_.recv(header, zmq::recv_flags::dontwait)) {
      if (header.more()) (void)socket_.recv(payload);
      std::uint32_t index = Field(header, 1);
      switch (TypeOf(header)) {
        case 'W':
          ready_ = true;
          break;
        case 'D':
          SendHeader(socket_, nullptr, Header('R', index));
          if (index < workload_.size()) cb.acked(workload_.at(index).id);
          break;
        case 'K':
          if (index < workload_.size()) cb.recorded(workload_.at(index).id);
          break;
        default:
          break;
      }
    }
    return Status::Ok();
  }

  bool ready() override { return ready_; }

 private:
  const Workload& workload_;
  zmq::socket_t socket_;
  bool ready_ = false;
};

}  // namespace

int ServeZmq(const std::string& endpoint, int agencies) {
  signal(SIGTERM, OnSignal);
  signal(SIGINT, OnSignal);
  zmq::context_t ctx(1);
  zmq::socket_t router(ctx, zmq::socket_type::router);
  router.set(zmq::sockopt::sndhwm, 100000);
  router.set(zmq::sockopt::rcvhwm, 100000);
  router.set(zmq::sockopt::linger, 0);
  router.bind(endpoint);
  Server server(router, agencies);
  zmq::message_t id, header, payload;
  while (!g_stop.load()) {
    zmq::pollitem_t item{router.handle(), 0, ZMQ_POLLIN, 0};
    try {
      zmq::poll(&item, 1, std::chrono::milliseconds(100));
    } catch (const zmq::error_t&) {
      continue;  // EINTR from the stop signal
    }
    for (int i = 0; i < 4096 && router.recv(id, zmq::recv_flags::dontwait); ++i) {
      (void)router.recv(header);
      bool with_payload = header.more();
      if (with_payload) (void)router.recv(payload);
      server.Handle(id.to_string(), header, with_payload ? &payload : nullptr);
    }
    server.Dispatch();
  }
  return 0;
}

std::string ZmqSystem::versions() const {
  int major = 0, minor = 0, patch = 0;
  zmq_version(&major, &minor, &patch);
  return "libzmq " + std::to_string(major) + "." + std::to_string(minor) + "." + std::to_string(patch);
}

Status ZmqSystem::Prepare(const Topology& topology, const Workload& workload) {
  Finish();
  topology_ = topology;
  workload_ = &workload;
  endpoint_ = "tcp://127.0.0.1:" + std::to_string(testing::FreeTcpPort());
  return Start();
}

Status ZmqSystem::Start() {
  server_ = testing::Process::Start({self_path_, "--serve", endpoint_, std::to_string(topology_.agencies)});
  return Status::Ok();
}

Status ZmqSystem::Stop() {
  return Status::FailedPrecondition("the ZeroMQ ceiling stores nothing: a restart would lose the backlog");
}

void ZmqSystem::Finish() {
  if (!server_) return;
  server_->Signal(SIGTERM);
  int code = 0;
  server_->WaitExit(10000, &code);
  server_.reset();
}

Result<std::unique_ptr<Publisher>> ZmqSystem::NewPublisher() {
  return std::unique_ptr<Publisher>(new ZmqPublisher(context_, endpoint_, *workload_));
}

Result<std::unique_ptr<Consumer>> ZmqSystem::NewConsumer(int agency) {
  return std::unique_ptr<Consumer>(new ZmqConsumer(context_, endpoint_, *workload_, agency, topology_.consumer_window));
}

}  // namespace yilian::bench
