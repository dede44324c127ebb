// yilian-bench: starts a real yilian-broker process on 127.0.0.1 and
// measures, with realistic ~1.5 KB events:
//   settle   sustained throughput of events settled (result recorded) at
//            every agency, and publish-to-settled latency;
//   confirm  publish-confirm latency percentiles at a fixed offered rate;
//   backlog  broker memory with one agency offline while N events wait.
// Prints a table and, with --json, appends one JSON object per run.
#include <signal.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <fstream>
#include <iostream>
#include <mutex>
#include <thread>
#include <unordered_map>

#include <CLI/CLI.hpp>

#include "cli/sample.h"
#include "client/consumer.h"
#include "client/publisher.h"
#include "testing/process.h"

namespace {

using Clock = std::chrono::steady_clock;
using yilian::testing::PollUntil;
using yilian::testing::Process;

struct Args {
  std::string mode = "settle";
  int events = 20000;
  double rate = 0;
  int agencies = 4;
  std::string sync = "full";
  int target_bytes = 1500;
  int enterprises = 5000;
  std::string json;
  std::string broker_bin = std::string(YILIAN_BINARY_DIR) + "/broker/server/yilian-broker";
  int credit = 256;
};

double Micros(Clock::duration d) { return std::chrono::duration<double, std::micro>(d).count(); }

double Percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  std::size_t i = static_cast<std::size_t>(p / 100.0 * (v.size() - 1) + 0.5);
  return v[std::min(i, v.size() - 1)];
}

long ReadStatusKb(pid_t pid, const std::string& key) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(in, line))
    if (line.rfind(key + ":", 0) == 0) return std::stol(line.substr(key.size() + 1));
  return -1;
}

double CpuSeconds(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string s((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  auto close = s.rfind(')');
  std::istringstream rest(s.substr(close + 2));
  std::string field;
  long utime = 0, stime = 0;
  for (int i = 3; i <= 15 && rest >> field; ++i) {
    if (i == 14) utime = std::stol(field);
    if (i == 15) stime = std::stol(field);
  }
  return static_cast<double>(utime + stime) / sysconf(_SC_CLK_TCK);
}

struct Broker {
  std::string dir, endpoint;
  std::unique_ptr<Process> process;
};

Broker StartBroker(const Args& a, const std::vector<std::string>& agency_ids) {
  Broker b;
  b.dir = yilian::testing::MakeTempDir("yilian-bench");
  b.endpoint = "tcp://127.0.0.1:" + std::to_string(yilian::testing::FreeTcpPort());
  std::string yaml = "store:\n  synchronous: " + a.sync + "\nlog:\n  level: warn\nagencies:\n";
  for (const auto& id : agency_ids) yaml += "  - id: " + id + "\n    events: [ESTABLISHED, CHANGED, FILED, DEREGISTERED]\n";
  yilian::testing::WriteFile(b.dir + "/broker.yaml", yaml);
  b.process = Process::Start({a.broker_bin, "--config", b.dir + "/broker.yaml", "--data-dir", b.dir + "/data",
                              "--listen", b.endpoint, "--log-file", b.dir + "/broker.log"},
                             "", b.dir + "/broker.err");
  // The broker logs at warn level, so probe readiness with a publisher session.
  zmq::context_t ctx(1);
  yilian::client::ClientOptions o;
  o.endpoint = b.endpoint;
  yilian::client::Connection c(ctx, o);
  if (!PollUntil([&] { return c.Poll(50), c.connected(); }, 20000)) {
    std::cerr << "broker did not start: " << yilian::testing::ReadFile(b.dir + "/broker.err") << "\n";
    std::exit(1);
  }
  c.Close();
  return b;
}

std::vector<yilian::v1::EnterpriseEvent> MakeEvents(const Args& a) {
  yilian::sample::SampleOptions o;
  o.seed = 7;
  o.enterprises = std::min(a.enterprises, a.events);
  o.events_per_enterprise = (a.events + o.enterprises - 1) / o.enterprises;
  o.deregister_fraction = 0;
  o.banks = {};
  o.target_bytes = a.target_bytes;
  auto events = yilian::sample::Generate(o);
  events.resize(a.events);
  return events;
}

int RunSettleOrConfirm(const Args& a) {
  std::vector<std::string> ids;
  for (int i = 0; i < a.agencies; ++i) ids.push_back("agency" + std::to_string(i));
  auto events = MakeEvents(a);
  std::size_t bytes = 0;
  for (const auto& e : events) bytes += e.ByteSizeLong();
  Broker broker = StartBroker(a, ids);

  const std::size_t n = events.size();
  std::vector<Clock::time_point> published(n);
  std::vector<double> confirm_us(n, -1), settle_us(n, -1);
  std::vector<std::atomic<int>> settled_count(n);
  std::unordered_map<std::string, std::size_t> index;
  for (std::size_t i = 0; i < n; ++i) index[events[i].event_id()] = i;
  std::atomic<std::size_t> fully_settled{0};
  std::atomic<bool> stop{false};
  Clock::time_point last_settle;
  std::mutex last_mu;

  // One ZeroMQ context (one I/O thread) for every client of the benchmark.
  zmq::context_t ctx(1);
  std::vector<std::thread> consumers;
  for (const auto& id : ids) {
    consumers.emplace_back([&, id] {
      yilian::client::ClientOptions o;
      o.endpoint = broker.endpoint;
      o.agency = id;
      o.credit = a.credit;
      o.name = "bench-" + id;
      yilian::client::Consumer c(ctx, o);
      c.SetOnResultAck([&](const yilian::v1::ResultAck& ack) {
        auto it = index.find(ack.event_id());
        if (it == index.end()) return;
        if (settled_count[it->second].fetch_add(1) + 1 == a.agencies) {
          auto now = Clock::now();
          settle_us[it->second] = Micros(now - published[it->second]);
          std::lock_guard<std::mutex> lock(last_mu);
          last_settle = now;
          fully_settled.fetch_add(1);
        }
      });
      while (!stop.load()) {
        auto d = c.Receive(5);
        if (!d) continue;
        yilian::v1::Result r;
        r.set_event_id(d->event_id());
        r.set_agency(d->agency());
        r.set_outcome(yilian::v1::OUTCOME_PROCESSED);
        r.set_reference("R" + std::to_string(d->sequence()));
        r.set_sequence(d->sequence());
        c.Answer(std::move(r));
      }
      c.connection().Close();
    });
  }

  double cpu_before = CpuSeconds(broker.process->pid());
  yilian::client::ClientOptions o;
  o.endpoint = broker.endpoint;
  yilian::client::Publisher pub(ctx, o);
  std::unordered_map<std::uint64_t, std::size_t> by_corr;
  std::size_t next = 0, confirmed = 0;
  auto start = Clock::now();
  while (confirmed < n) {
    auto now = Clock::now();
    while (next < n && (a.rate <= 0 ? pub.outstanding() < 2000 : next <= Micros(now - start) * a.rate / 1e6)) {
      published[next] = Clock::now();
      by_corr[pub.Publish(events[next])] = next;
      ++next;
    }
    pub.Poll(a.rate > 0 ? 1 : 2, [&](std::uint64_t corr, const yilian::v1::PublishAck& ack) {
      std::size_t i = by_corr[corr];
      if (ack.status() == yilian::v1::REFUSED) std::cerr << "refused: " << ack.message() << "\n";
      confirm_us[i] = Micros(Clock::now() - published[i]);
      ++confirmed;
    });
  }
  auto publish_end = Clock::now();
  PollUntil([&] { return fully_settled.load() == n; }, 600000);
  stop = true;
  for (auto& t : consumers) t.join();
  double cpu = CpuSeconds(broker.process->pid()) - cpu_before;
  long hwm_kb = ReadStatusKb(broker.process->pid(), "VmHWM");
  pub.connection().Close();
  broker.process->Signal(SIGTERM);
  int code;
  broker.process->WaitExit(20000, &code);

  double settle_s = std::chrono::duration<double>(last_settle - start).count();
  double publish_s = std::chrono::duration<double>(publish_end - start).count();
  std::vector<double> c(confirm_us.begin(), confirm_us.end()), s(settle_us.begin(), settle_us.end());
  std::printf("mode=%s events=%zu agencies=%d sync=%s avg_event_bytes=%zu offered_rate=%s\n", a.mode.c_str(), n,
              a.agencies, a.sync.c_str(), bytes / n, a.rate > 0 ? std::to_string((int)a.rate).c_str() : "max");
  std::printf("  published+confirmed in %.2f s (%.0f events/s)\n", publish_s, n / publish_s);
  std::printf("  settled at all %d agencies in %.2f s: %.0f events/s (%.0f deliveries/s)\n", a.agencies, settle_s,
              n / settle_s, n * a.agencies / settle_s);
  std::printf("  confirm latency  p50 %.2f ms  p99 %.2f ms  p99.9 %.2f ms\n", Percentile(c, 50) / 1000,
              Percentile(c, 99) / 1000, Percentile(c, 99.9) / 1000);
  std::printf("  settle latency   p50 %.2f ms  p99 %.2f ms  p99.9 %.2f ms\n", Percentile(s, 50) / 1000,
              Percentile(s, 99) / 1000, Percentile(s, 99.9) / 1000);
  std::printf("  broker CPU %.2f s (%.3f s per 1000 events), peak RSS %.1f MB\n", cpu, cpu * 1000 / n,
              hwm_kb / 1024.0);
  if (!a.json.empty()) {
    std::ofstream out(a.json, std::ios::app);
    out << "{\"system\":\"yilian\",\"mode\":\"" << a.mode << "\",\"events\":" << n << ",\"agencies\":" << a.agencies
        << ",\"sync\":\"" << a.sync << "\",\"offered_rate\":" << a.rate << ",\"settled_per_s\":" << n / settle_s
        << ",\"confirm_p50_ms\":" << Percentile(c, 50) / 1000 << ",\"confirm_p99_ms\":" << Percentile(c, 99) / 1000
        << ",\"confirm_p999_ms\":" << Percentile(c, 99.9) / 1000 << ",\"settle_p50_ms\":" << Percentile(s, 50) / 1000
        << ",\"settle_p99_ms\":" << Percentile(s, 99) / 1000 << ",\"settle_p999_ms\":" << Percentile(s, 99.9) / 1000
        << ",\"cpu_s_per_1000\":" << cpu * 1000 / n << ",\"peak_rss_mb\":" << hwm_kb / 1024.0 << "}\n";
  }
  yilian::testing::RemoveTree(broker.dir);
  return 0;
}

int RunBacklog(const Args& a) {
  Broker broker = StartBroker(a, {"offline"});
  auto events = MakeEvents(a);
  zmq::context_t ctx(1);
  yilian::client::ClientOptions o;
  o.endpoint = broker.endpoint;
  yilian::client::Publisher pub(ctx, o);
  std::size_t next = 0, confirmed = 0;
  auto start = Clock::now();
  while (confirmed < events.size()) {
    while (next < events.size() && pub.outstanding() < 2000) pub.Publish(events[next++]);
    pub.Poll(2, [&](std::uint64_t, const yilian::v1::PublishAck&) { ++confirmed; });
  }
  double secs = std::chrono::duration<double>(Clock::now() - start).count();
  long rss = ReadStatusKb(broker.process->pid(), "VmRSS"), hwm = ReadStatusKb(broker.process->pid(), "VmHWM");
  std::printf("mode=backlog events=%zu waiting for one offline agency (published in %.1f s, %.0f events/s)\n",
              events.size(), secs, events.size() / secs);
  std::printf("  broker RSS %.1f MB, peak RSS %.1f MB\n", rss / 1024.0, hwm / 1024.0);
  // Restart time with this history.
  broker.process->Signal(SIGTERM);
  int code;
  broker.process->WaitExit(60000, &code);
  auto t0 = Clock::now();
  broker.process = Process::Start({a.broker_bin, "--config", broker.dir + "/broker.yaml", "--data-dir",
                                   broker.dir + "/data", "--listen", broker.endpoint, "--log-file",
                                   broker.dir + "/broker.log"});
  yilian::client::Connection c(ctx, o);
  PollUntil([&] { return c.Poll(20), c.connected(); }, 600000);
  double restart = std::chrono::duration<double>(Clock::now() - t0).count();
  long rss2 = ReadStatusKb(broker.process->pid(), "VmRSS");
  std::printf("  restart with %zu waiting deliveries: ready in %.2f s, RSS after restart %.1f MB\n", events.size(),
              restart, rss2 / 1024.0);
  c.Close();
  broker.process->Signal(SIGTERM);
  broker.process->WaitExit(60000, &code);
  if (!a.json.empty()) {
    std::ofstream out(a.json, std::ios::app);
    out << "{\"system\":\"yilian\",\"mode\":\"backlog\",\"events\":" << events.size() << ",\"rss_mb\":" << rss / 1024.0
        << ",\"peak_rss_mb\":" << hwm / 1024.0 << ",\"restart_s\":" << restart << ",\"rss_after_restart_mb\":"
        << rss2 / 1024.0 << "}\n";
  }
  yilian::testing::RemoveTree(broker.dir);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  Args a;
  CLI::App app{"yilian-bench: measure a real yilian-broker on 127.0.0.1"};
  app.add_option("--mode", a.mode, "settle | confirm | backlog")->check(CLI::IsMember({"settle", "confirm", "backlog"}))->capture_default_str();
  app.add_option("--events", a.events, "events to publish")->capture_default_str()->check(CLI::Range(1, 100000000));
  app.add_option("--rate", a.rate, "offered events per second (0: as fast as confirms allow)")->capture_default_str();
  app.add_option("--agencies", a.agencies, "consuming agencies")->capture_default_str()->check(CLI::Range(1, 64));
  app.add_option("--sync", a.sync, "store.synchronous: full (fsync before confirm) or normal")->check(CLI::IsMember({"full", "normal"}))->capture_default_str();
  app.add_option("--target-bytes", a.target_bytes, "approximate encoded event size")->capture_default_str();
  app.add_option("--enterprises", a.enterprises, "distinct enterprises in the workload")->capture_default_str();
  app.add_option("--credit", a.credit, "credit of each consumer")->capture_default_str();
  app.add_option("--json", a.json, "append a JSON result line to this file");
  app.add_option("--broker-bin", a.broker_bin, "yilian-broker to run")->capture_default_str();
  CLI11_PARSE(app, argc, argv);
  return a.mode == "backlog" ? RunBacklog(a) : RunSettleOrConfirm(a);
}
