#include "harness/runner.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <fstream>
#include <functional>
#include <mutex>
#include <thread>

#include "harness/proc_stats.h"

namespace yilian::bench {
namespace {

using Clock = std::chrono::steady_clock;

std::int64_t SinceNs(Clock::time_point t0) {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now() - t0).count();
}

double Ms(std::int64_t ns) { return static_cast<double>(ns) / 1e6; }
double Secs(std::int64_t ns) { return static_cast<double>(ns) / 1e9; }

// Who has acknowledged what, written by the consumer threads. An event is
// complete at a stage when every agency reached that stage for it; the
// thread that completes it stamps the time (one writer per slot), and the
// main thread reads the stamps after joining the consumers.
class Tally {
 public:
  enum Stage : std::uint8_t { kAcked = 1, kRecorded = 2 };

  Tally(const Workload& w, int agencies, Clock::time_point t0)
      : workload_(w),
        agencies_(agencies),
        t0_(t0),
        flags_(w.size() * static_cast<std::size_t>(agencies)),
        acked_count_(w.size()),
        recorded_count_(w.size()),
        acked_all_ns_(w.size(), -1),
        recorded_all_ns_(w.size(), -1) {}

  void Mark(std::string_view id, int agency, Stage stage) {
    auto index = workload_.IndexOf(id);
    if (!index) {
      unknown_.fetch_add(1);
      return;
    }
    std::int64_t now = SinceNs(t0_);
    std::int64_t expected = -1;
    first_ns_.compare_exchange_strong(expected, now);
    last_progress_ns_.store(now);
    std::size_t slot = *index * static_cast<std::size_t>(agencies_) + static_cast<std::size_t>(agency);
    if (flags_[slot].fetch_or(stage) & stage) {
      if (stage == kAcked) duplicates_.fetch_add(1);
      return;
    }
    auto& count = stage == kAcked ? acked_count_[*index] : recorded_count_[*index];
    if (count.fetch_add(1) + 1 != agencies_) return;
    (stage == kAcked ? acked_all_ns_ : recorded_all_ns_)[*index] = now;
    (stage == kAcked ? acked_all_ : recorded_all_).fetch_add(1);
  }

  std::size_t complete(bool recorded) const { return (recorded ? recorded_all_ : acked_all_).load(); }

  // For a stall report: a few events not complete, with the stages each
  // agency reached (a = acknowledged, r = recorded, - = nothing).
  std::string Unsettled(bool recorded, std::size_t max_events) const {
    std::string out;
    std::size_t shown = 0;
    for (std::size_t i = 0; i < acked_count_.size() && shown < max_events; ++i) {
      const auto& count = recorded ? recorded_count_[i] : acked_count_[i];
      if (count.load() == agencies_) continue;
      out += (shown++ ? ", " : "") + std::string(workload_.at(i).id) + " [";
      for (int a = 0; a < agencies_; ++a) {
        auto f = flags_[i * static_cast<std::size_t>(agencies_) + static_cast<std::size_t>(a)].load();
        out += (f & kRecorded) ? 'r' : (f & kAcked) ? 'a' : '-';
      }
      out += "]";
    }
    return out;
  }
  std::int64_t first_ns() const { return first_ns_.load(); }
  std::int64_t last_progress_ns() const { return last_progress_ns_.load(); }
  std::size_t duplicates() const { return duplicates_.load(); }
  const std::vector<std::int64_t>& acked_all_ns() const { return acked_all_ns_; }
  const std::vector<std::int64_t>& recorded_all_ns() const { return recorded_all_ns_; }

 private:
  const Workload& workload_;
  const int agencies_;
  const Clock::time_point t0_;
  std::vector<std::atomic<std::uint8_t>> flags_;
  std::vector<std::atomic<std::uint16_t>> acked_count_, recorded_count_;
  std::vector<std::int64_t> acked_all_ns_, recorded_all_ns_;
  std::atomic<std::size_t> acked_all_{0}, recorded_all_{0}, duplicates_{0}, unknown_{0};
  std::atomic<std::int64_t> first_ns_{-1}, last_progress_ns_{0};
};

// One consumer thread per agency, started together and stopped together.
class ConsumerGroup {
 public:
  ConsumerGroup(System& system, int agencies, Tally& tally) : errors_(static_cast<std::size_t>(agencies)) {
    for (int a = 0; a < agencies; ++a) threads_.emplace_back([this, &system, &tally, a] { Run(system, tally, a); });
  }
  ~ConsumerGroup() { Stop(); }

  // Waits until every consumer has a session (or failed).
  Status WaitReady(int timeout_ms) {
    auto deadline = Clock::now() + std::chrono::milliseconds(timeout_ms);
    while (ready_.load() < static_cast<int>(threads_.size())) {
      if (Clock::now() > deadline) return Status::Unavailable("consumers did not connect in time");
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    return FirstError();
  }

  Status FirstError() {
    std::lock_guard<std::mutex> lock(mu_);
    for (const auto& e : errors_)
      if (!e.ok()) return e;
    return Status::Ok();
  }

  void Stop() {
    stop_.store(true);
    for (auto& t : threads_)
      if (t.joinable()) t.join();
  }

 private:
  void Run(System& system, Tally& tally, int agency) {
    auto consumer = system.NewConsumer(agency);
    if (!consumer.ok()) {
      Fail(agency, consumer.status());
      ready_.fetch_add(1);
      return;
    }
    Consumer::Callbacks cb;
    cb.acked = [&](std::string_view id) { tally.Mark(id, agency, Tally::kAcked); };
    cb.recorded = [&](std::string_view id) { tally.Mark(id, agency, Tally::kRecorded); };
    bool counted = false;
    while (!stop_.load()) {
      Status s = (*consumer)->Poll(5, cb);
      if (!s.ok()) {
        Fail(agency, s);
        break;
      }
      if (!counted && (*consumer)->ready()) {
        counted = true;
        ready_.fetch_add(1);
      }
    }
    if (!counted) ready_.fetch_add(1);
    (*consumer)->Close();
  }

  void Fail(int agency, const Status& s) {
    std::lock_guard<std::mutex> lock(mu_);
    errors_[static_cast<std::size_t>(agency)] = s;
  }

  std::vector<std::thread> threads_;
  std::atomic<bool> stop_{false};
  std::atomic<int> ready_{0};
  std::mutex mu_;
  std::vector<Status> errors_;
};

struct PublishTimes {
  std::vector<std::int64_t> due_ns, confirm_ns;
  std::int64_t first_ns = 0, last_confirm_ns = 0;
  std::size_t refused = 0;
  std::vector<double> request_ms;  // Publisher::RequestLatenciesMs
};

// Sends every event once (paced at `rate`, or as fast as the windows
// allow) and waits for all confirms. `settled`, if set, counts events
// settled at every agency; at most `max_unsettled` published events may be
// unsettled, so that a run as fast as possible is a steady state instead of
// a growing backlog.
Status PublishAll(System& system, std::size_t n, double rate, int window, Clock::time_point t0, int stall_ms,
                  const std::function<std::size_t()>& settled, std::size_t max_unsettled, PublishTimes* out) {
  auto pub = system.NewPublisher();
  if (!pub.ok()) return pub.status();
  out->due_ns.assign(n, -1);
  out->confirm_ns.assign(n, -1);
  std::size_t next = 0, confirmed = 0, outstanding = 0;
  const std::int64_t start = SinceNs(t0);
  out->first_ns = start;
  std::int64_t last_progress = start;
  auto on_confirm = [&](std::size_t i, bool accepted) {
    if (i >= n || out->confirm_ns[i] >= 0) return;
    out->confirm_ns[i] = SinceNs(t0);
    last_progress = out->confirm_ns[i];
    if (!accepted) ++out->refused;
    ++confirmed;
    --outstanding;
  };
  while (confirmed < n) {
    std::int64_t now = SinceNs(t0);
    while (next < n && outstanding < static_cast<std::size_t>(window)) {
      if (settled && next - settled() >= max_unsettled) break;
      std::int64_t due = rate > 0 ? start + static_cast<std::int64_t>(static_cast<double>(next) * 1e9 / rate) : now;
      if (due > now) break;
      out->due_ns[next] = due;
      Status s = (*pub)->Send(next);
      if (!s.ok()) return s;
      ++next;
      ++outstanding;
    }
    bool behind = rate > 0 && next < n && outstanding < static_cast<std::size_t>(window) &&
                  start + static_cast<std::int64_t>(static_cast<double>(next) * 1e9 / rate) <= SinceNs(t0);
    Status s = (*pub)->Poll(behind ? 0 : 1, on_confirm);
    if (!s.ok()) return s;
    if (SinceNs(t0) - last_progress > static_cast<std::int64_t>(stall_ms) * 1000000)
      return Status::Unavailable("no publish confirm for " + std::to_string(stall_ms / 1000) + " s (" +
                                 std::to_string(confirmed) + " of " + std::to_string(n) + " confirmed)");
  }
  out->last_confirm_ns = SinceNs(t0);
  out->request_ms = (*pub)->RequestLatenciesMs();
  return Status::Ok();
}

// Waits until `done` or nothing progressed for stall_ms.
Status WaitComplete(const Tally& tally, bool recorded, std::size_t n, Clock::time_point t0, int stall_ms,
                    ConsumerGroup& group) {
  std::int64_t waited_from = SinceNs(t0);
  while (tally.complete(recorded) < n) {
    Status e = group.FirstError();
    if (!e.ok()) return e;
    std::int64_t progress = std::max(waited_from, tally.last_progress_ns());
    if (SinceNs(t0) - progress > static_cast<std::int64_t>(stall_ms) * 1000000)
      return Status::Unavailable("settling stalled: " + std::to_string(tally.complete(recorded)) + " of " +
                                 std::to_string(n) +
                                 " events settled at every agency; not settled: " + tally.Unsettled(recorded, 10));
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return Status::Ok();
}

// Settled events per second between the 10% and 90% marks.
double Sustained(const std::vector<std::int64_t>& all_ns) {
  std::vector<std::int64_t> done_ns;
  for (auto t : all_ns)
    if (t >= 0) done_ns.push_back(t);
  std::sort(done_ns.begin(), done_ns.end());
  std::size_t n = done_ns.size();
  if (n < 10) return 0;
  std::size_t lo = n / 10, hi = n - 1 - n / 10;
  double span = Secs(done_ns[hi] - done_ns[lo]);
  return span > 0 ? static_cast<double>(hi - lo) / span : 0;
}

Latency LatencyOf(const std::vector<std::int64_t>& from, const std::vector<std::int64_t>& to) {
  std::vector<double> ms;
  ms.reserve(from.size());
  for (std::size_t i = 0; i < from.size(); ++i)
    if (from[i] >= 0 && to[i] >= 0) ms.push_back(Ms(to[i] - from[i]));
  return Summarize(std::move(ms));
}

// The CPU seconds of the server process and of those named by pid files
// (each with its descendants): a reading that is subtracted from a later
// one. A pid file that cannot be read is an error: the figure would be
// silently incomplete.
class ServerCpu {
 public:
  static Result<ServerCpu> Of(pid_t pid, const std::vector<std::string>& pid_files) {
    ServerCpu c;
    c.pid_ = pid;
    for (const auto& f : pid_files) {
      std::ifstream in(f);
      long p = -1;
      if (!(in >> p) || p <= 0) return Status::NotFound("no pid in " + f);
      c.others_.push_back(static_cast<pid_t>(p));
    }
    return c;
  }
  double Seconds() const {
    double s = ProcessCpuSeconds(pid_);
    for (pid_t p : others_) s += TreeCpuSeconds(p);
    return s;
  }
  int processes() const { return 1 + static_cast<int>(others_.size()); }

 private:
  pid_t pid_ = -1;
  std::vector<pid_t> others_;
};

}  // namespace

double Percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  auto rank = static_cast<std::size_t>(std::ceil(p / 100.0 * static_cast<double>(v.size())));
  return v[std::min(v.size() - 1, rank == 0 ? 0 : rank - 1)];
}

Latency Summarize(std::vector<double> ms) {
  Latency l;
  l.count = ms.size();
  if (ms.empty()) return l;
  std::sort(ms.begin(), ms.end());
  auto at = [&](double p) {
    auto rank = static_cast<std::size_t>(std::ceil(p / 100.0 * static_cast<double>(ms.size())));
    return ms[std::min(ms.size() - 1, rank == 0 ? 0 : rank - 1)];
  };
  l.p50_ms = at(50);
  l.p99_ms = at(99);
  l.p999_ms = at(99.9);
  l.max_ms = ms.back();
  return l;
}

Result<SettleResult> RunSettle(System& system, const Workload& workload, const SettleOptions& o) {
  const std::size_t n = workload.size();
  Status s = system.Prepare(o.topology, workload);
  if (!s.ok()) return s;
  const pid_t pid = system.server_pid();
  auto server_cpu = ServerCpu::Of(pid, o.cpu_pid_files);
  if (!server_cpu.ok()) return server_cpu.status();
  const bool recorded = system.acks_answered();
  const auto t0 = Clock::now();
  Tally tally(workload, o.topology.agencies, t0);
  ConsumerGroup group(system, o.topology.agencies, tally);
  s = group.WaitReady(30000);
  if (!s.ok()) return s;

  ResetPeakResident(pid);
  const double cpu0 = server_cpu->Seconds(), self0 = SelfCpuSeconds();
  PublishTimes pub;
  std::function<std::size_t()> settled;
  if (o.rate <= 0) settled = [&] { return tally.complete(recorded); };
  s = PublishAll(system, n, o.rate, o.topology.publish_window, t0, o.stall_timeout_ms, settled,
                 static_cast<std::size_t>(o.max_unsettled), &pub);
  // Refused events are not delivered (the workload has none that yilian
  // refuses, but a run must not hang on one).
  if (s.ok()) s = WaitComplete(tally, recorded, n - pub.refused, t0, o.stall_timeout_ms, group);
  if (!s.ok()) return s;
  SettleResult r;
  r.server_cpu_s = server_cpu->Seconds() - cpu0;
  r.server_processes = server_cpu->processes();
  r.peak_rss_mb = PeakResidentMb(pid);
  group.Stop();
  r.client_cpu_s = SelfCpuSeconds() - self0;
  s = group.FirstError();
  if (!s.ok()) return s;

  r.events = n;
  r.acks_recorded = recorded;
  r.refused = pub.refused;
  r.duplicates = tally.duplicates();
  r.publish_s = Secs(pub.last_confirm_ns - pub.first_ns);
  const auto& done = recorded ? tally.recorded_all_ns() : tally.acked_all_ns();
  r.settled_per_s = Sustained(done);
  std::int64_t last = *std::max_element(done.begin(), done.end());
  r.settled_overall_per_s = static_cast<double>(n - pub.refused) / Secs(last - pub.first_ns);
  r.confirm = LatencyOf(pub.due_ns, pub.confirm_ns);
  r.settle = LatencyOf(pub.due_ns, tally.acked_all_ns());
  if (recorded) r.recorded = LatencyOf(pub.due_ns, tally.recorded_all_ns());
  r.request = Summarize(std::move(pub.request_ms));
  return r;
}

Result<BacklogResult> RunBacklog(System& system, const Workload& workload, const BacklogOptions& o) {
  const std::size_t n = workload.size();
  Status s = system.Prepare(o.topology, workload);
  if (!s.ok()) return s;
  pid_t pid = system.server_pid();
  BacklogResult r;
  r.events = n;

  // Fill: nobody consumes.
  auto t0 = Clock::now();
  ResetPeakResident(pid);
  double cpu0 = ProcessCpuSeconds(pid);
  PublishTimes pub;
  s = PublishAll(system, n, 0, o.topology.publish_window, t0, o.stall_timeout_ms, nullptr, 0, &pub);
  if (!s.ok()) return s;
  r.fill_s = Secs(pub.last_confirm_ns - pub.first_ns);
  r.fill_per_s = static_cast<double>(n) / r.fill_s;
  r.server_cpu_fill_s = ProcessCpuSeconds(pid) - cpu0;
  r.rss_mb = ResidentMb(pid);
  r.peak_rss_fill_mb = PeakResidentMb(pid);

  auto t_start = Clock::now();
  if (o.restart) {
    s = system.Stop();
    if (!s.ok()) return s;
    t_start = Clock::now();
    s = system.Start();
    if (!s.ok()) return s;
    pid = system.server_pid();
  }
  // Drain: the agencies come online (right after the restart, if any).
  t0 = Clock::now();
  ResetPeakResident(pid);
  cpu0 = ProcessCpuSeconds(pid);
  const bool recorded = system.acks_answered();
  Tally tally(workload, o.topology.agencies, t0);
  ConsumerGroup group(system, o.topology.agencies, tally);
  while (tally.first_ns() < 0) {
    s = group.FirstError();
    if (!s.ok()) return s;
    if (SinceNs(t0) > static_cast<std::int64_t>(o.stall_timeout_ms) * 1000000)
      return Status::Unavailable("no delivery after the restart");
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  if (o.restart) {
    r.restart_ready_s = Secs(tally.first_ns()) + std::chrono::duration<double>(t0 - t_start).count();
    r.rss_after_restart_mb = ResidentMb(pid);
  }
  s = WaitComplete(tally, recorded, n - pub.refused, t0, o.stall_timeout_ms, group);
  if (!s.ok()) return s;
  r.server_cpu_drain_s = ProcessCpuSeconds(pid) - cpu0;
  r.peak_rss_drain_mb = PeakResidentMb(pid);
  group.Stop();
  const auto& done = recorded ? tally.recorded_all_ns() : tally.acked_all_ns();
  r.drain_s = Secs(*std::max_element(done.begin(), done.end()) - tally.first_ns());
  r.drain_per_s = static_cast<double>(n - pub.refused) / r.drain_s;
  r.refused = pub.refused;
  return r;
}

}  // namespace yilian::bench
