#include "nats_system.h"

#include <nats/nats.h>

#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <fstream>
#include <mutex>
#include <thread>
#include <vector>

namespace yilian::bench {
namespace {

const char* const kStream = "YLBENCH";
const char* const kSubject = "ylbench.events";

std::string Url(int port) { return "nats://127.0.0.1:" + std::to_string(port); }
std::string ConsumerName(int agency) { return "agency" + std::to_string(agency); }

Status Fail(natsStatus s, const std::string& what) {
  const char* last = nats_GetLastError(nullptr);
  return Status::Unavailable(what + ": " + natsStatus_GetText(s) + (last ? std::string(" (") + last + ")" : ""));
}

// A NATS connection with its JetStream context.
class Session {
 public:
  ~Session() {
    jsCtx_Destroy(js_);
    natsConnection_Destroy(nc_);
  }
  Status Open(int port, jsOptions* options = nullptr) {
    natsStatus s = natsConnection_ConnectTo(&nc_, Url(port).c_str());
    if (s != NATS_OK) return Fail(s, "connect to " + Url(port));
    s = natsConnection_JetStream(&js_, nc_, options);
    if (s != NATS_OK) return Fail(s, "JetStream context");
    return Status::Ok();
  }
  jsCtx* js() { return js_; }

 private:
  natsConnection* nc_ = nullptr;
  jsCtx* js_ = nullptr;
};

class NatsPublisher : public Publisher {
 public:
  explicit NatsPublisher(const Workload& w) : workload_(w) {}

  Status Open(int port, int window) {
    jsOptions o;
    jsOptions_Init(&o);
    o.PublishAsync.MaxPending = window + 16;
    o.PublishAsync.AckHandler = &NatsPublisher::OnAck;
    o.PublishAsync.AckHandlerClosure = this;
    return session_.Open(port, &o);
  }

  Status Send(std::size_t index) override {
    const WorkloadEvent& e = workload_.at(index);
    jsPubOptions po;
    jsPubOptions_Init(&po);
    po.MsgId = e.id.data();  // NUL-terminated in the workload
    natsStatus s = js_PublishAsync(session_.js(), kSubject, e.payload.data(), static_cast<int>(e.payload.size()), &po);
    if (s != NATS_OK) return Fail(s, "js_PublishAsync");
    return Status::Ok();
  }

  Status Poll(int timeout_ms, const ConfirmFn& on_confirm) override {
    {
      std::unique_lock<std::mutex> lock(mu_);
      if (acks_.empty() && timeout_ms > 0)
        cv_.wait_for(lock, std::chrono::milliseconds(timeout_ms), [&] { return !acks_.empty(); });
      taken_.swap(acks_);
    }
    for (const auto& [index, ok] : taken_) on_confirm(index, ok);
    taken_.clear();
    return Status::Ok();
  }

 private:
  // On a NATS library thread.
  static void OnAck(jsCtx*, natsMsg* msg, jsPubAck* pa, jsPubAckErr* pae, void* closure) {
    auto* self = static_cast<NatsPublisher*>(closure);
    const char* id = nullptr;
    if (natsMsgHeader_Get(msg, "Nats-Msg-Id", &id) == NATS_OK && id != nullptr) {
      if (auto index = self->workload_.IndexOf(id)) {
        std::lock_guard<std::mutex> lock(self->mu_);
        self->acks_.emplace_back(*index, pa != nullptr && pae == nullptr);
        self->cv_.notify_one();
      }
    }
    natsMsg_Destroy(msg);
  }

  const Workload& workload_;
  Session session_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<std::pair<std::size_t, bool>> acks_, taken_;
};

class NatsConsumer : public Consumer {
 public:
  ~NatsConsumer() override { natsSubscription_Destroy(sub_); }

  Status Open(int port, int agency, int batch) {
    batch_ = batch;
    Status st = session_.Open(port);
    if (!st.ok()) return st;
    std::string name = ConsumerName(agency);
    jsSubOptions so;
    jsSubOptions_Init(&so);
    so.Stream = kStream;
    so.Consumer = name.c_str();
    jsErrCode jerr = static_cast<jsErrCode>(0);
    natsStatus s = js_PullSubscribe(&sub_, session_.js(), kSubject, name.c_str(), nullptr, &so, &jerr);
    if (s != NATS_OK) return Fail(s, "pull subscribe " + name);
    return Status::Ok();
  }

  // Takes what is there in one batch; when nothing is, waits for the next
  // single message (a batch request would be held until it is full).
  Status Poll(int timeout_ms, const Callbacks& cb) override {
    natsMsgList list{};
    jsFetchRequest req;
    jsFetchRequest_Init(&req);
    req.Batch = batch_;
    req.NoWait = true;
    req.Expires = static_cast<int64_t>(std::max(timeout_ms, 1)) * 1000000;
    natsStatus s = natsSubscription_FetchRequest(&list, sub_, &req);
    if (s == NATS_NOT_FOUND || s == NATS_TIMEOUT)
      s = natsSubscription_Fetch(&list, sub_, 1, std::max(timeout_ms, 1), nullptr);
    if (s == NATS_TIMEOUT || s == NATS_NOT_FOUND) return Status::Ok();
    if (s != NATS_OK) return Fail(s, "fetch");
    for (int i = 0; i < list.Count; ++i) {
      natsMsg* m = list.Msgs[i];
      const char* id = nullptr;
      natsMsgHeader_Get(m, "Nats-Msg-Id", &id);
      s = natsMsg_Ack(m, nullptr);
      if (s != NATS_OK) {
        natsMsgList_Destroy(&list);
        return Fail(s, "ack");
      }
      if (id) cb.acked(id);
    }
    natsMsgList_Destroy(&list);
    return Status::Ok();
  }

 private:
  Session session_;
  natsSubscription* sub_ = nullptr;
  int batch_ = 256;
};

}  // namespace

NatsSystem::NatsSystem(NatsOptions options) : options_(std::move(options)) { nats_Open(-1); }

NatsSystem::~NatsSystem() = default;

std::string NatsSystem::durability() const {
  if (options_.replicas > 1)
    return "file storage, " + std::to_string(options_.replicas) +
           " replicas (a stream and consumers replicated by Raft across the cluster); the publish ack follows "
           "the write of a majority of the replicas to the operating system, not an fsync (nats-server 2.9 fsyncs "
           "on a 2-minute timer and has no setting to fsync before the ack: sync_interval arrived in 2.10); "
           "survives a process crash and the loss of a minority of the nodes, a power loss of the majority can "
           "lose acknowledged messages; consumer acks are not answered";
  return "file storage; the publish ack follows the write to the operating system, not an fsync (nats-server 2.9 "
         "fsyncs on a 2-minute timer and has no setting to fsync before the ack: sync_interval arrived in 2.10); "
         "survives a process crash, a power loss can lose acknowledged messages; consumer acks are not answered";
}

std::string NatsSystem::versions() const {
  return "nats-server " + (options_.server_version.empty() ? std::string("?") : options_.server_version) + ", nats.c " +
         NATS_C_VERSION;
}

Status NatsSystem::ReadPid() {
  std::ifstream in(options_.pid_file);
  long pid = -1;
  if (!(in >> pid) || pid <= 0) return Status::NotFound("no pid in " + options_.pid_file);
  pid_ = static_cast<pid_t>(pid);
  return Status::Ok();
}

Status NatsSystem::Prepare(const Topology& topology, const Workload& workload) {
  topology_ = topology;
  workload_ = &workload;
  Status st = ReadPid();
  if (!st.ok()) return st;
  Session admin;
  st = admin.Open(options_.port);
  if (!st.ok()) return st;
  jsErrCode jerr = static_cast<jsErrCode>(0);
  jsStreamConfig cfg;
  jsStreamConfig_Init(&cfg);
  cfg.Name = kStream;
  const char* subjects[] = {kSubject};
  cfg.Subjects = subjects;
  cfg.SubjectsLen = 1;
  cfg.Storage = js_FileStorage;
  cfg.Retention = js_LimitsPolicy;
  cfg.Replicas = options_.replicas;
  // A cluster that has just started may not have elected its JetStream
  // leaders yet: retry for a while.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  natsStatus s;
  for (;;) {
    js_DeleteStream(admin.js(), kStream, nullptr, &jerr);  // a missing stream is fine
    s = js_AddStream(nullptr, admin.js(), &cfg, nullptr, &jerr);
    if (s == NATS_OK || std::chrono::steady_clock::now() > deadline) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(250));
  }
  if (s != NATS_OK) return Fail(s, "add stream");
  for (int a = 0; a < topology.agencies; ++a) {
    std::string name = ConsumerName(a);
    jsConsumerConfig cc;
    jsConsumerConfig_Init(&cc);
    cc.Durable = name.c_str();
    cc.AckPolicy = js_AckExplicit;
    cc.DeliverPolicy = js_DeliverAll;
    cc.MaxAckPending = topology.consumer_window;
    cc.AckWait = static_cast<int64_t>(30) * 1000 * 1000 * 1000;
    for (;;) {
      s = js_AddConsumer(nullptr, admin.js(), kStream, &cc, nullptr, &jerr);
      if (s == NATS_OK || std::chrono::steady_clock::now() > deadline) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(250));
    }
    if (s != NATS_OK) return Fail(s, "add consumer " + name);
  }
  return Status::Ok();
}

Status NatsSystem::Stop() {
  if (options_.control.empty()) return Status::FailedPrecondition("no --server-ctl: cannot restart nats-server");
  if (std::system((options_.control + " stop").c_str()) != 0) return Status::Unavailable("stopping nats-server failed");
  pid_ = -1;
  return Status::Ok();
}

Status NatsSystem::Start() {
  if (options_.control.empty()) return Status::FailedPrecondition("no --server-ctl: cannot restart nats-server");
  if (std::system((options_.control + " start").c_str()) != 0)
    return Status::Unavailable("starting nats-server failed");
  return ReadPid();
}

void NatsSystem::Finish() {
  Session admin;
  if (!admin.Open(options_.port).ok()) return;
  jsErrCode jerr = static_cast<jsErrCode>(0);
  js_DeleteStream(admin.js(), kStream, nullptr, &jerr);
}

Result<std::unique_ptr<Publisher>> NatsSystem::NewPublisher() {
  auto p = std::make_unique<NatsPublisher>(*workload_);
  Status s = p->Open(options_.port, topology_.publish_window);
  if (!s.ok()) return s;
  return std::unique_ptr<Publisher>(std::move(p));
}

Result<std::unique_ptr<Consumer>> NatsSystem::NewConsumer(int agency) {
  // After a restart the server may still be recovering its streams: retry.
  Status s;
  for (int attempt = 0; attempt < 6000; ++attempt) {
    auto c = std::make_unique<NatsConsumer>();
    s = c->Open(options_.port, agency, topology_.consumer_window);
    if (s.ok()) return std::unique_ptr<Consumer>(std::move(c));
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return s;
}

}  // namespace yilian::bench
