#include "yilian_system.h"

#include <httplib.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <signal.h>
#include <sys/stat.h>

#include <cstdio>
#include <unordered_map>

#include "client/consumer.h"
#include "client/publisher.h"
#include "client/watcher.h"
#include "https_publisher.h"
#include "testing/postgres.h"
#include "validation/json.h"

namespace yilian::bench {
namespace {

class YilianPublisher : public Publisher {
 public:
  YilianPublisher(zmq::context_t& ctx, const std::string& endpoint, const Workload& w)
      : workload_(w), publisher_(ctx, [&] {
          client::ClientOptions o;
          o.endpoint = endpoint;
          o.name = "bench-publisher";
          return o;
        }()) {}

  // The workload holds encoded events: sent as they are, like a platform
  // that keeps its events encoded (the broker refuses one that does not
  // decode, and the run reports the refusal).
  Status Send(std::size_t index) override {
    by_correlation_[publisher_.PublishEncoded(std::string(workload_.at(index).payload))] = index;
    return Status::Ok();
  }

  Status Poll(int timeout_ms, const ConfirmFn& on_confirm) override {
    publisher_.Poll(timeout_ms, [&](std::uint64_t correlation, const v1::PublishAck& ack) {
      auto it = by_correlation_.find(correlation);
      if (it == by_correlation_.end()) return;
      std::size_t index = it->second;
      by_correlation_.erase(it);
      if (ack.status() == v1::REFUSED && refusals_shown_++ < 5)
        std::fprintf(stderr, "refused %s: %s %s\n", ack.event_id().c_str(), v1::ErrorCode_Name(ack.error()).c_str(),
                     ack.message().c_str());
      on_confirm(index, ack.status() != v1::REFUSED);
    });
    return Status::Ok();
  }

 private:
  const Workload& workload_;
  client::Publisher publisher_;
  std::unordered_map<std::uint64_t, std::size_t> by_correlation_;
  int refusals_shown_ = 0;
};

class YilianConsumer : public Consumer {
 public:
  YilianConsumer(zmq::context_t& ctx, const std::string& endpoint, const std::string& agency, int credit)
      : consumer_(ctx, [&] {
          client::ClientOptions o;
          o.endpoint = endpoint;
          o.agency = agency;
          o.credit = static_cast<std::uint32_t>(credit);
          o.name = "bench-" + agency;
          return o;
        }()) {
    consumer_.SetOnResultAck([this](const v1::ResultAck& ack) {
      if (callbacks_ && ack.status() != v1::RESULT_REFUSED) callbacks_->recorded(ack.event_id());
    });
  }

  Status Poll(int timeout_ms, const Callbacks& callbacks) override {
    callbacks_ = &callbacks;
    for (auto d = consumer_.Receive(timeout_ms); d; d = consumer_.Receive(0)) {
      // What `yilian consume` answers: PROCESSED, echoing the sequence.
      v1::Result r;
      r.set_event_id(d->event_id());
      r.set_agency(d->agency());
      r.set_outcome(v1::OUTCOME_PROCESSED);
      r.set_reference("R" + std::to_string(d->sequence()));
      r.set_attempt(d->attempt());
      r.set_sequence(d->sequence());
      consumer_.Answer(std::move(r));
      callbacks.acked(d->event_id());
    }
    callbacks_ = nullptr;
    return Status::Ok();
  }

  bool ready() override { return consumer_.connection().connected(); }
  void Close() override { consumer_.connection().Close(); }

 private:
  client::Consumer consumer_;
  const Callbacks* callbacks_ = nullptr;
};

}  // namespace

YilianSystem::YilianSystem(YilianOptions options) : options_(std::move(options)) {
  // Options that only some broker versions have: read them from --help.
  std::string help;
  if (FILE* p = popen(("'" + options_.broker_bin + "' --help 2>&1").c_str(), "r")) {
    char buf[4096];
    for (std::size_t got; (got = fread(buf, 1, sizeof buf, p)) > 0;) help.append(buf, got);
    pclose(p);
  }
  // No HTTP API (it would take a fixed port), and plaintext ZeroMQ like the
  // peers' plaintext TCP.
  // Publishing over HTTPS turns the HTTP API on again, on a free port
  // (broker.yaml, written by Prepare).
  if (help.find("--http") != std::string::npos && !https()) extra_args_.insert(extra_args_.end(), {"--http", ""});
  if (help.find("--insecure-dev") != std::string::npos) extra_args_.push_back("--insecure-dev");
  // A sender writing to a broker that closed its connection gets an error,
  // not SIGPIPE (OpenSSL writes with send(2) without MSG_NOSIGNAL).
  if (https()) signal(SIGPIPE, SIG_IGN);
}

YilianSystem::~YilianSystem() { Finish(); }

std::string YilianSystem::durability() const {
  if (!options_.postgresql.empty())
    return "store.backend=postgresql: PublishAck and ResultAck leave after PostgreSQL's COMMIT returned "
           "(synchronous_commit=on: fsynced on the primary, and on a synchronous standby if one is named)";
  if (options_.sync == "full")
    return "store.synchronous=full: PublishAck and ResultAck leave after the SQLite WAL commit is fsynced "
           "(group commit per turn); survives a process crash and a power loss";
  return "store.synchronous=normal: PublishAck and ResultAck leave after the SQLite WAL commit, not fsynced; "
         "survives a process crash, a power loss can lose the last commits";
}

std::string YilianSystem::versions() const {
  std::string v = std::string("yilian-broker ") + YILIAN_VERSION + ", libzmq " + std::to_string(ZMQ_VERSION_MAJOR) +
                  "." + std::to_string(ZMQ_VERSION_MINOR) + "." + std::to_string(ZMQ_VERSION_PATCH);
  if (https()) v += std::string(", cpp-httplib ") + CPPHTTPLIB_VERSION + ", " + OpenSSL_version(OPENSSL_VERSION);
  return v;
}

PublishPath YilianSystem::publish_path() const {
  if (https()) return {"https", options_.http_batch, options_.http_connections};
  return {"zeromq", 1, 1};
}

Status YilianSystem::PrepareHttps() {
  // A self-signed certificate for 127.0.0.1, which the publisher trusts.
  auto openssl = testing::Process::Start(
      {"/usr/bin/openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
       "-keyout", dir_ + "/http.key", "-out", dir_ + "/http.crt", "-days", "2", "-subj", "/CN=127.0.0.1", "-addext",
       "subjectAltName=IP:127.0.0.1"},
      dir_ + "/openssl.out", dir_ + "/openssl.err");
  int code = -1;
  if (!openssl->WaitExit(30000, &code) || code != 0)
    return Status::Unavailable("openssl could not make the HTTPS certificate: " +
                               testing::ReadFile(dir_ + "/openssl.err"));
  chmod((dir_ + "/http.key").c_str(), 0600);
  // One publisher token, 64 random hex characters.
  unsigned char random[32];
  if (RAND_bytes(random, sizeof random) != 1) return Status::Internal("no random bytes for the publisher token");
  token_.clear();
  for (unsigned char c : random) {
    static const char kHex[] = "0123456789abcdef";
    token_ += kHex[c >> 4];
    token_ += kHex[c & 15];
  }
  testing::WriteFile(dir_ + "/tokens.yaml",
                     "tokens:\n  - identity: bench\n    role: publisher\n    token: \"" + token_ + "\"\n");
  chmod((dir_ + "/tokens.yaml").c_str(), 0600);
  http_port_ = testing::FreeTcpPort();
  // The events as a platform without ZeroMQ would hold them: JSON, once
  // per workload, before anything is measured.
  if (json_of_ != workload_) {
    json_lines_.clear();
    json_lines_.reserve(workload_->size());
    v1::EnterpriseEvent event;
    for (std::size_t i = 0; i < workload_->size(); ++i) {
      const auto payload = workload_->at(i).payload;
      if (!event.ParseFromArray(payload.data(), static_cast<int>(payload.size())))
        return Status::InvalidArgument("workload event " + std::to_string(i) + " does not decode");
      json_lines_.push_back(json::Print(event));
    }
    json_of_ = workload_;
  }
  return Status::Ok();
}

Status YilianSystem::Prepare(const Topology& topology, const Workload& workload) {
  Finish();
  topology_ = topology;
  workload_ = &workload;
  dir_ = testing::MakeTempDir("yilian-bench");
  endpoint_ = "tcp://127.0.0.1:" + std::to_string(testing::FreeTcpPort());
  if (https()) {
    Status s = PrepareHttps();
    if (!s.ok()) return s;
  }
  std::string yaml = "store:\n  synchronous: " + options_.sync + "\n";
  if (options_.archive_every_ms > 0) {
    if (!options_.postgresql.empty() || https())
      return Status::InvalidArgument("--archive-every-ms needs the SQLite store and publishing over ZeroMQ");
    archive_http_port_ = testing::FreeTcpPort();
    yaml += "  retention_days: 0.0000116\n";  // one second
  }
  if (options_.max_batch > 0) yaml += "  max_batch: " + std::to_string(options_.max_batch) + "\n";
  if (!options_.postgresql.empty()) {
    // A new, empty schema each run, like the new data directory of SQLite.
    std::string error;
    testing::Psql(options_.postgresql, "DROP SCHEMA public CASCADE; CREATE SCHEMA public", &error);
    if (!error.empty()) return Status::Unavailable("cannot empty the PostgreSQL schema: " + error);
    yaml += "  backend: postgresql\n  postgresql:\n    conninfo: \"" + options_.postgresql + "\"\n";
    if (!https()) yaml += "http:\n  listen: \"\"\n";
  }
  if (https()) {
    yaml += "http:\n  listen: 127.0.0.1:" + std::to_string(http_port_) + "\n  tls_cert_file: " + dir_ +
            "/http.crt\n  tls_key_file: " + dir_ + "/http.key\n  publish_rate_per_client: 0\n" +
            (options_.http_connections > 4 ? "  workers: " + std::to_string(options_.http_connections) + "\n"
                                           : std::string()) +
            "security:\n  tokens_file: " + dir_ + "/tokens.yaml\n";
  }
  yaml += "log:\n  level: warn\nagencies:\n";
  for (int i = 0; i < topology.agencies; ++i)
    yaml += "  - id: agency" + std::to_string(i) + "\n    events: [ESTABLISHED, CHANGED, FILED, DEREGISTERED]\n";
  testing::WriteFile(dir_ + "/broker.yaml", yaml);
  Status s = Start();
  if (!s.ok()) return s;
  // The broker logs at warn level: probe readiness with a session.
  client::ClientOptions o;
  o.endpoint = endpoint_;
  o.name = "bench-probe";
  client::Connection probe(context_, o);
  if (!testing::PollUntil([&] { return probe.Poll(50), probe.connected(); }, 20000))
    return Status::Unavailable("yilian-broker did not start: " + testing::ReadFile(dir_ + "/broker.err"));
  probe.Close();
  if (https()) {
    httplib::SSLClient health("127.0.0.1", http_port_);
    health.enable_server_certificate_verification(true);
    health.set_ca_cert_path((dir_ + "/http.crt").c_str());
    std::string last = "no answer";
    if (!testing::PollUntil(
            [&] {
              auto res = health.Get("/readyz");
              last = res ? "HTTP " + std::to_string(res->status) + " " + res->body : httplib::to_string(res.error());
              return res && res->status == 200;
            },
            20000))
      return Status::Unavailable("yilian-broker's HTTPS API is not ready: " + last + "; " +
                                 testing::ReadFile(dir_ + "/broker.err"));
  }
  return Status::Ok();
}

pid_t YilianSystem::server_pid() const { return broker_ ? broker_->pid() : -1; }

void YilianSystem::StartArchiving() {
  StopArchiving();
  archiving_stop_ = false;
  archiving_ = std::thread([this] {
    // The platform's part: a watcher acknowledging every case update (a
    // case whose updates nobody took is never archived).
    client::ClientOptions o;
    o.endpoint = endpoint_;
    o.name = "bench-watcher";
    client::Watcher watcher(context_, o);
    httplib::Client client("127.0.0.1", archive_http_port_);
    client.set_connection_timeout(1);
    auto next = std::chrono::steady_clock::now();
    while (!archiving_stop_.load()) {
      if (std::chrono::steady_clock::now() >= next) {
        (void)client.Post("/api/v1/archive", "{}", "application/json");
        next += std::chrono::milliseconds(options_.archive_every_ms);
      }
      if (auto update = watcher.Receive(10)) watcher.Acknowledge(update->update_id());
    }
    watcher.connection().Close();
  });
}

void YilianSystem::StopArchiving() {
  archiving_stop_ = true;
  if (!archiving_.joinable()) return;
  archiving_.join();
  // What the job moved while the run went on (counted since the broker started).
  httplib::Client client("127.0.0.1", archive_http_port_);
  client.set_connection_timeout(1);
  if (auto res = client.Get("/api/v1/archive"); res && res->status == 200)
    std::fprintf(stderr, "  archive job during the run: %s\n", res->body.c_str());
}

Status YilianSystem::Stop() {
  StopArchiving();
  if (!broker_) return Status::Ok();
  broker_->Signal(SIGTERM);
  int code = 0;
  if (!broker_->WaitExit(120000, &code)) return Status::Unavailable("yilian-broker did not stop in 120 s");
  broker_.reset();
  if (code != 0) return Status::Internal("yilian-broker exited with " + std::to_string(code));
  return Status::Ok();
}

Status YilianSystem::Start() {
  std::vector<std::string> argv = {options_.broker_bin, "--config",     dir_ + "/broker.yaml",
                                   "--data-dir",        dir_ + "/data", "--listen",
                                   endpoint_,           "--log-file",   dir_ + "/broker.log"};
  argv.insert(argv.end(), extra_args_.begin(), extra_args_.end());
  if (archive_http_port_ > 0) {
    for (std::size_t i = 0; i + 1 < argv.size(); ++i)
      if (argv[i] == "--http") argv[i + 1] = "127.0.0.1:" + std::to_string(archive_http_port_);
  }
  broker_ = testing::Process::Start(argv, "", dir_ + "/broker.err");
  if (archive_http_port_ > 0) StartArchiving();
  return Status::Ok();
}

void YilianSystem::Finish() {
  StopArchiving();
  // Cleanup after a run: a broker that stops badly was reported by the run.
  if (broker_) (void)Stop();
  if (!dir_.empty()) testing::RemoveTree(dir_);
  dir_.clear();
}

Result<std::unique_ptr<Publisher>> YilianSystem::NewPublisher() {
  if (https()) {
    HttpsPublisherOptions o;
    o.port = http_port_;
    o.ca_cert_file = dir_ + "/http.crt";
    o.token = token_;
    o.batch = options_.http_batch;
    o.connections = options_.http_connections;
    return std::unique_ptr<Publisher>(new HttpsPublisher(o, json_lines_));
  }
  return std::unique_ptr<Publisher>(new YilianPublisher(context_, endpoint_, *workload_));
}

Result<std::unique_ptr<Consumer>> YilianSystem::NewConsumer(int agency) {
  return std::unique_ptr<Consumer>(
      new YilianConsumer(context_, endpoint_, "agency" + std::to_string(agency), topology_.consumer_window));
}

}  // namespace yilian::bench
