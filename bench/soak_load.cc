// yilian-soak-load: the registration platform of scripts/soak. Publishes to
// a running broker (CURVE keys, like `yilian publish`) at a rate that
// follows a working-day curve compressed in time, for a growing population
// of enterprises (soak_population.h), and watches case updates (like
// `yilian watch`) to time each event from its first send to its confirm
// (PublishAck ACCEPTED or DUPLICATE) and to its case settling (the first
// CASE_COMPLETED or CASE_NEEDS_ATTENTION update).
//
// It rides out broker restarts: the client library sends unconfirmed events
// again, with the same event_id, after every reconnect and after
// --resend-ms; a DUPLICATE answer confirms an event stored before the
// broker went away. Case updates are acknowledged after they are written
// down, so one lost in a restart comes again.
//
// Writes into --out:
//   intervals.tsv  one line per --interval-s (header first): what was
//                  offered, published, confirmed and settled in the
//                  interval, and the interval's latency percentiles
//                  (confirm: events confirmed in it; settle: cases settled
//                  in it). scripts/soak samples the processes on each line.
//   confirmed.tsv  event_id, first send, confirm (ms since the epoch), status
//   settled.tsv    event_id, update time (ms), kind
//   refused.tsv    event_id, error, message (should stay empty)
//   unsettled.tsv  at the end: confirmed events without a settling update
//   summary.json   at the end: the totals
// Publishing stops after --duration-s; then it waits up to --drain-s for
// every confirmed event to settle and exits (0 if all did). SIGTERM or
// SIGINT stops it at once, writing the end files.
#include <CLI/CLI.hpp>
#include <algorithm>
#include <csignal>
#include <cstdio>
#include <fstream>
#include <unordered_map>

#include "auth/keys.h"
#include "client/publisher.h"
#include "client/watcher.h"
#include "common/clock.h"
#include "soak_population.h"

namespace yilian::bench {
namespace {

volatile std::sig_atomic_t g_stop = 0;

// Nearest-rank percentile (as the benchmark harness computes it).
double Percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::size_t rank = static_cast<std::size_t>(p / 100.0 * static_cast<double>(v.size()) + 0.999999);
  rank = std::min(std::max<std::size_t>(rank, 1), v.size());
  std::nth_element(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(rank - 1), v.end());
  return v[rank - 1];
}
void OnSignal(int) { g_stop = 1; }

struct Args {
  std::string broker = "tcp://127.0.0.1:7700";
  std::string server_key, key_file;
  std::string curve, out;
  double day_seconds = 1200, peak_rate = 150, duration_s = 3600, drain_s = 300, interval_s = 60;
  double start_hour = 0;
  int resend_ms = 2000;
  PopulationOptions population;
};

// An event between its first send and its settling.
struct Tracked {
  Millis sent = 0, confirmed = 0, settled = 0;
};

// What happened in the current interval; reset at each line.
struct Interval {
  double offered = 0;
  std::uint64_t published = 0, confirmed = 0, duplicates = 0, refused = 0, settled = 0, attention = 0;
  std::vector<double> confirm_ms, settle_ms;
};

struct Totals {
  std::uint64_t published = 0, confirmed = 0, accepted = 0, duplicates = 0, refused = 0, settled = 0,
                attention = 0, updates_unknown = 0;
  std::vector<float> confirm_ms, settle_ms;
};

class SoakLoad {
 public:
  SoakLoad(Args args, DayCurve curve, client::ClientOptions options)
      : args_(std::move(args)),
        curve_(std::move(curve)),
        population_(args_.population),
        publisher_(context_, Named(options, "soak-publisher"), args_.resend_ms),
        watcher_(context_, Named(options, "soak-watcher")) {}

  int Run();

 private:
  static client::ClientOptions Named(client::ClientOptions o, const std::string& name) {
    o.name = name;
    o.credit = 256;  // watcher: updates in flight
    return o;
  }
  double Hour(Millis now) const {
    double days = (now - start_) / 1000.0 / args_.day_seconds + args_.start_hour / 24.0;
    return (days - static_cast<std::int64_t>(days)) * 24.0;
  }
  void Publish(Millis now);
  void OnAck(const v1::PublishAck& ack, Millis now);
  void Watch(Millis now);
  void WriteInterval(Millis now);
  void WriteEnd(bool drained);
  void MaybeForget(const std::string& id, const Tracked& t) {
    if (t.confirmed && t.settled) tracked_.erase(id);
  }

  Args args_;
  DayCurve curve_;
  Population population_;
  zmq::context_t context_{1};
  client::Publisher publisher_;
  client::Watcher watcher_;
  std::unordered_map<std::uint64_t, std::pair<std::string, std::string>> by_correlation_;  // -> id, uscc
  std::unordered_map<std::string, Tracked> tracked_;
  std::ofstream intervals_, confirmed_, settled_, refused_;
  Millis start_ = 0, last_tick_ = 0, next_interval_ = 0;
  double credit_ = 0;
  bool publishing_ = true;
  Interval interval_;
  Totals totals_;
};

void SoakLoad::Publish(Millis now) {
  double rate = args_.peak_rate * curve_.At(Hour(now));
  double add = rate * (now - last_tick_) / 1000.0;
  interval_.offered += add;
  // Events the platform could not send (every open enterprise waiting for
  // a confirm, as during a broker restart) are sent when it can, up to 30 s
  // of the peak rate: the catch-up after an outage.
  credit_ = std::min(credit_ + add, args_.peak_rate * 30);
  while (credit_ >= 1) {
    auto event = population_.Next();
    if (!event) break;
    credit_ -= 1;
    std::string id = event->event_id(), uscc = event->uscc();
    by_correlation_[publisher_.Publish(*event)] = {id, uscc};
    tracked_[id].sent = now;
    ++interval_.published;
    ++totals_.published;
  }
}

void SoakLoad::OnAck(const v1::PublishAck& ack, Millis now) {
  // The ack's correlation is looked up by the caller; here by event id.
  auto it = tracked_.find(ack.event_id());
  if (ack.status() == v1::REFUSED) {
    ++interval_.refused;
    ++totals_.refused;
    refused_ << ack.event_id() << '\t' << v1::ErrorCode_Name(ack.error()) << '\t' << ack.message() << '\n';
    if (it != tracked_.end()) tracked_.erase(it);
    return;
  }
  if (it == tracked_.end() || it->second.confirmed) return;
  Tracked& t = it->second;
  t.confirmed = now;
  bool duplicate = ack.status() == v1::DUPLICATE;
  ++interval_.confirmed;
  ++totals_.confirmed;
  if (duplicate) ++interval_.duplicates, ++totals_.duplicates;
  else ++totals_.accepted;
  interval_.confirm_ms.push_back(static_cast<double>(now - t.sent));
  totals_.confirm_ms.push_back(static_cast<float>(now - t.sent));
  confirmed_ << ack.event_id() << '\t' << t.sent << '\t' << now << '\t' << (duplicate ? "duplicate" : "accepted")
             << '\n';
  MaybeForget(ack.event_id(), t);
}

void SoakLoad::Watch(Millis now) {
  for (auto u = watcher_.Receive(0); u; u = watcher_.Receive(0)) {
    bool settling = u->kind() == v1::CASE_COMPLETED || u->kind() == v1::CASE_NEEDS_ATTENTION;
    const std::string& id = u->case_().event_id();
    auto it = tracked_.find(id);
    if (settling && it != tracked_.end() && !it->second.settled) {
      Tracked& t = it->second;
      t.settled = now;
      ++interval_.settled;
      ++totals_.settled;
      if (u->kind() == v1::CASE_NEEDS_ATTENTION) ++interval_.attention, ++totals_.attention;
      interval_.settle_ms.push_back(static_cast<double>(now - t.sent));
      totals_.settle_ms.push_back(static_cast<float>(now - t.sent));
      settled_ << id << '\t' << now << '\t' << v1::CaseUpdateKind_Name(u->kind()) << '\n';
      MaybeForget(id, t);
    } else if (settling && it == tracked_.end()) {
      ++totals_.updates_unknown;  // settled before (an update sent again), or not ours
    }
    watcher_.Acknowledge(u->update_id());
  }
}

void SoakLoad::WriteInterval(Millis now) {
  std::uint64_t unsettled = 0;
  for (const auto& [id, t] : tracked_)
    if (t.confirmed && !t.settled) ++unsettled;
  auto pct = [](const std::vector<double>& v, double p) {
    if (v.empty()) return std::string("NaN");
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.1f", Percentile(v, p));
    return std::string(buf);
  };
  double seconds = (now - (next_interval_ - static_cast<Millis>(args_.interval_s * 1000))) / 1000.0;
  char head[160];
  std::snprintf(head, sizeof head, "%.3f\t%.1f\t%.2f\t%.1f", now / 1000.0, (now - start_) / 1000.0, Hour(now),
                seconds > 0 ? interval_.offered / seconds : 0.0);
  intervals_ << head << '\t' << interval_.published << '\t' << interval_.confirmed << '\t' << interval_.duplicates
             << '\t' << interval_.refused << '\t' << interval_.settled << '\t' << interval_.attention << '\t'
             << pct(interval_.confirm_ms, 50) << '\t' << pct(interval_.confirm_ms, 99) << '\t'
             << pct(interval_.settle_ms, 50) << '\t' << pct(interval_.settle_ms, 99) << '\t'
             << publisher_.outstanding() << '\t' << unsettled << '\t' << population_.enterprises() << std::endl;
  confirmed_.flush();
  settled_.flush();
  refused_.flush();
  interval_ = Interval{};
}

void SoakLoad::WriteEnd(bool drained) {
  std::ofstream unsettled(args_.out + "/unsettled.tsv");
  std::uint64_t n_unsettled = 0, n_unconfirmed = 0;
  for (const auto& [id, t] : tracked_) {
    if (t.confirmed && !t.settled) {
      unsettled << id << '\t' << t.sent << '\t' << t.confirmed << '\n';
      ++n_unsettled;
    } else if (!t.confirmed) {
      ++n_unconfirmed;
    }
  }
  auto pct = [](const std::vector<float>& v, double p) {
    return v.empty() ? 0.0 : Percentile(std::vector<double>(v.begin(), v.end()), p);
  };
  std::ofstream s(args_.out + "/summary.json");
  s << "{\"published\": " << totals_.published << ", \"confirmed\": " << totals_.confirmed
    << ", \"accepted\": " << totals_.accepted << ", \"duplicates\": " << totals_.duplicates
    << ", \"refused\": " << totals_.refused << ", \"settled\": " << totals_.settled
    << ", \"attention\": " << totals_.attention << ", \"unsettled\": " << n_unsettled
    << ", \"unconfirmed\": " << n_unconfirmed << ", \"updates_not_ours\": " << totals_.updates_unknown
    << ", \"enterprises\": " << population_.enterprises() << ", \"drained\": " << (drained ? "true" : "false")
    << ", \"interrupted\": " << (g_stop ? "true" : "false")
    << ", \"seconds\": " << (SystemClock::Default()->NowMillis() - start_) / 1000.0
    << ", \"confirm_p50_ms\": " << pct(totals_.confirm_ms, 50) << ", \"confirm_p99_ms\": "
    << pct(totals_.confirm_ms, 99) << ", \"settle_p50_ms\": " << pct(totals_.settle_ms, 50)
    << ", \"settle_p99_ms\": " << pct(totals_.settle_ms, 99) << "}\n";
  std::printf("soak-load: published %llu, confirmed %llu (%llu duplicates), refused %llu, settled %llu, "
              "unsettled %llu, unconfirmed %llu%s\n",
              static_cast<unsigned long long>(totals_.published), static_cast<unsigned long long>(totals_.confirmed),
              static_cast<unsigned long long>(totals_.duplicates), static_cast<unsigned long long>(totals_.refused),
              static_cast<unsigned long long>(totals_.settled), static_cast<unsigned long long>(n_unsettled),
              static_cast<unsigned long long>(n_unconfirmed), g_stop ? " (interrupted)" : "");
}

int SoakLoad::Run() {
  intervals_.open(args_.out + "/intervals.tsv");
  confirmed_.open(args_.out + "/confirmed.tsv");
  settled_.open(args_.out + "/settled.tsv");
  refused_.open(args_.out + "/refused.tsv");
  if (!intervals_ || !confirmed_ || !settled_ || !refused_) {
    std::fprintf(stderr, "yilian-soak-load: cannot write into %s\n", args_.out.c_str());
    return 2;
  }
  intervals_ << "time\telapsed_s\tday_hour\toffered_per_s\tpublished\tconfirmed\tduplicates\trefused\tsettled\t"
                "attention\tconfirm_p50_ms\tconfirm_p99_ms\tsettle_p50_ms\tsettle_p99_ms\tunconfirmed\tunsettled\t"
                "enterprises"
             << std::endl;
  const Millis interval_ms = static_cast<Millis>(args_.interval_s * 1000);
  start_ = last_tick_ = SystemClock::Default()->NowMillis();
  next_interval_ = start_ + interval_ms;
  const Millis stop_publishing = start_ + static_cast<Millis>(args_.duration_s * 1000);
  const Millis drain_until = stop_publishing + static_cast<Millis>(args_.drain_s * 1000);
  bool drained = false;
  while (!g_stop) {
    Millis now = SystemClock::Default()->NowMillis();
    if (publishing_ && now >= stop_publishing) {
      publishing_ = false;
      std::printf("soak-load: publishing stopped; draining for up to %.0f s\n", args_.drain_s);
      std::fflush(stdout);
    }
    if (publishing_) Publish(now);
    last_tick_ = now;
    publisher_.Poll(5, [&](std::uint64_t correlation, const v1::PublishAck& ack) {
      auto it = by_correlation_.find(correlation);
      if (it == by_correlation_.end()) return;
      population_.Done(it->second.second);
      by_correlation_.erase(it);
      OnAck(ack, SystemClock::Default()->NowMillis());
    });
    Watch(SystemClock::Default()->NowMillis());
    now = SystemClock::Default()->NowMillis();
    if (now >= next_interval_) {
      WriteInterval(now);
      next_interval_ += interval_ms;
    }
    if (!publishing_) {
      if (publisher_.outstanding() == 0 && tracked_.empty()) {
        drained = true;
        break;
      }
      if (now >= drain_until) break;
    }
  }
  Millis now = SystemClock::Default()->NowMillis();
  WriteInterval(now);  // the last, partial interval
  WriteEnd(drained);
  // Let the last update acknowledgements leave.
  watcher_.Receive(200);
  watcher_.connection().Close();
  publisher_.connection().Close();
  return drained ? 0 : 1;
}

}  // namespace
}  // namespace yilian::bench

int main(int argc, char** argv) {
  using namespace yilian;
  bench::Args a;
  CLI::App app{"yilian-soak-load: publish on a working-day curve and time confirms and settlements (scripts/soak)"};
  app.add_option("--broker", a.broker, "broker endpoint")->capture_default_str();
  app.add_option("--server-key", a.server_key, "the broker's CURVE public key (Z85 or a .pub file)")->required();
  app.add_option("--key", a.key_file, "this platform's CURVE key pair file (yilian keygen)")->required();
  app.add_option("--curve", a.curve, "rate curve: lines \"HH:MM FRACTION\" (fraction of --peak-rate)")
      ->required()
      ->check(CLI::ExistingFile);
  app.add_option("--out", a.out, "folder for the result files")->required()->check(CLI::ExistingDirectory);
  app.add_option("--day-seconds", a.day_seconds, "one simulated day lasts this long")
      ->capture_default_str()
      ->check(CLI::Range(10.0, 86400.0 * 7));
  app.add_option("--start-hour", a.start_hour, "simulated hour of day at the start")
      ->capture_default_str()
      ->check(CLI::Range(0.0, 23.99));
  app.add_option("--peak-rate", a.peak_rate, "events/s at fraction 1")
      ->capture_default_str()
      ->check(CLI::Range(0.1, 100000.0));
  app.add_option("--duration-s", a.duration_s, "publish for this long")
      ->capture_default_str()
      ->check(CLI::Range(1.0, 86400.0 * 30));
  app.add_option("--drain-s", a.drain_s, "then wait at most this long for every confirmed event to settle")
      ->capture_default_str()
      ->check(CLI::Range(0.0, 86400.0));
  app.add_option("--interval-s", a.interval_s, "one line of intervals.tsv per this many seconds")
      ->capture_default_str()
      ->check(CLI::Range(1.0, 3600.0));
  app.add_option("--resend-ms", a.resend_ms, "send an unconfirmed event again after this long")
      ->capture_default_str()
      ->check(CLI::Range(100, 600000));
  app.add_option("--seed", a.population.seed, "seed of the population")->capture_default_str();
  app.add_option("--cohort", a.population.enterprises_per_cohort, "enterprises that arrive together")
      ->capture_default_str()
      ->check(CLI::Range(1, 100000));
  app.add_option("--events-per-enterprise", a.population.events_per_enterprise,
                 "events of each enterprise (the first ESTABLISHED, then CHANGED/FILED, some DEREGISTERED)")
      ->capture_default_str()
      ->check(CLI::Range(1, 1000));
  app.add_option("--bank", a.population.bank, "bank code every enterprise reserves its account with")
      ->capture_default_str();
  CLI11_PARSE(app, argc, argv);

  auto curve = bench::DayCurve::Load(a.curve);
  if (!curve.ok()) {
    std::fprintf(stderr, "yilian-soak-load: %s\n", curve.status().message().c_str());
    return 2;
  }
  client::ClientOptions options;
  options.endpoint = a.broker;
  auto server = auth::ReadPublicKey(a.server_key);
  auto pair = auth::ReadKeyPair(a.key_file);
  if (!server.ok() || !pair.ok()) {
    std::fprintf(stderr, "yilian-soak-load: %s\n",
                 (server.ok() ? pair.status() : server.status()).message().c_str());
    return 2;
  }
  options.server_public_key = server.value();
  options.public_key = pair.value().public_key;
  options.secret_key = pair.value().secret_key;
  struct sigaction sa = {};
  sa.sa_handler = bench::OnSignal;
  sigaction(SIGTERM, &sa, nullptr);
  sigaction(SIGINT, &sa, nullptr);
  bench::SoakLoad load(a, std::move(curve.value()), options);
  return load.Run();
}
