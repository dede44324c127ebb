// yilian-agency-sim: simulates an agency's own system on its exchange
// database (and optionally an HTTP endpoint): processing delay, rejections
// with realistic reasons, outage windows, realistic references.
// Deterministic for a seed. See docs/agencies.md#the-agency-simulator.
#include <CLI/CLI.hpp>
#include <atomic>
#include <csignal>
#include <iostream>
#include <thread>

#include "common/log.h"
#include "sim/agency_sim.h"
#include "sim/http_front.h"

namespace {

std::atomic<bool> g_stop{false};
void OnSignal(int) { g_stop.store(true); }

bool ParseRange(const std::string& text, int* lo, int* hi) {
  std::size_t dash = text.find('-');
  try {
    if (dash == std::string::npos) {
      *lo = *hi = std::stoi(text);
    } else {
      *lo = std::stoi(text.substr(0, dash));
      *hi = std::stoi(text.substr(dash + 1));
    }
  } catch (const std::exception&) {
    return false;
  }
  return *lo >= 0 && *hi >= *lo;
}

}  // namespace

int main(int argc, char** argv) {
  using namespace yilian;
  sim::SimOptions o;
  std::string delay = "200-2000";
  std::vector<std::string> outages;
  std::string http;
  std::string http_base;
  std::string log_level = "info";
  std::string log_file;
  double log_max_mb = 64;
  std::size_t log_max_files = 10;
  int poll_ms = 50;

  CLI::App app{"yilian-agency-sim: a simulated agency system on its exchange database"};
  app.add_option("--agency", o.agency, "agency id, for logs (tax, social_insurance, housing_fund, bank:<code>)")
      ->required();
  app.add_option("--db", o.db_path, "the agency's exchange database (SQLite file, created if missing)")->required();
  app.add_option("--push-table", o.tables.push, "table the platform writes into")->capture_default_str();
  app.add_option("--receipt-table", o.tables.receipt, "table the agency answers in")->capture_default_str();
  app.add_option("--seed", o.spec.seed, "seed: same seed, same decisions and references")->capture_default_str();
  app.add_option("--delay-ms", delay, "processing delay MIN-MAX (or one value), milliseconds")->capture_default_str();
  app.add_option("--reject-rate", o.spec.reject_rate, "fraction refused for one of the agency's reasons")
      ->capture_default_str()
      ->check(CLI::Range(0.0, 1.0));
  app.add_option("--outage", outages, "outage window START-END in seconds after start (repeatable)");
  app.add_option("--hold-file", o.hold_file, "process nothing while this file exists");
  app.add_option("--http", http, "also serve the agency's HTTP interface on HOST:PORT (PORT 0: any)");
  app.add_option("--http-base", http_base, "path prefix of the HTTP interface, e.g. /agency/tax");
  app.add_flag("--http-sync", o.http_sync, "answer HTTP submissions at once instead of PENDING");
  app.add_option("--poll-ms", poll_ms, "how often the agency looks at its tables")
      ->capture_default_str()
      ->check(CLI::Range(1, 60000));
  app.add_option("--log-level", log_level, "trace|debug|info|warn|error")->capture_default_str();
  app.add_option("--log-file", log_file, "also append the log to this file");
  app.add_option("--log-max-mb", log_max_mb, "rotate the log file (x.log to x.1.log, x.2.log, ...) past this many MiB")
      ->capture_default_str()
      ->check(CLI::Range(0.01, 65536.0));
  app.add_option("--log-max-files", log_max_files, "rotated log files kept (the oldest is deleted)")
      ->capture_default_str()
      ->check(CLI::Range(1, 1000));
  CLI11_PARSE(app, argc, argv);

  if (!ParseRange(delay, &o.spec.delay_min_ms, &o.spec.delay_max_ms)) {
    std::cerr << "yilian-agency-sim: --delay-ms: expected MIN-MAX, got '" << delay << "'\n";
    return 2;
  }
  for (const auto& w : outages) {
    int start = 0, end = 0;
    if (!ParseRange(w, &start, &end) || end == start) {
      std::cerr << "yilian-agency-sim: --outage: expected START-END seconds, got '" << w << "'\n";
      return 2;
    }
    o.outages.emplace_back(start, end);
  }
  std::string error;
  if (!SetupLogging(LogOptions{log_level, log_file, static_cast<std::size_t>(log_max_mb * 1024 * 1024), log_max_files},
                    &error)) {
    std::cerr << "yilian-agency-sim: " << error << "\n";
    return 2;
  }
  auto log = GetLogger("sim");
  auto sim = sim::AgencySim::Open(o, SystemClock::Default());
  if (!sim.ok()) {
    log->error("{}: {}", o.agency, sim.status().ToString());
    return 1;
  }
  struct sigaction sa = {};
  sa.sa_handler = OnSignal;
  sigaction(SIGTERM, &sa, nullptr);
  sigaction(SIGINT, &sa, nullptr);

  std::unique_ptr<sim::HttpFront> front;
  if (!http.empty()) {
    std::size_t colon = http.rfind(':');
    int port = -1;
    try {
      port = colon == std::string::npos ? -1 : std::stoi(http.substr(colon + 1));
    } catch (const std::exception&) {
    }
    if (port < 0 || port > 65535) {
      std::cerr << "yilian-agency-sim: --http: expected HOST:PORT, got '" << http << "'\n";
      return 2;
    }
    front = std::make_unique<sim::HttpFront>(sim.value().get(), http_base);
    auto bound = front->Start(http.substr(0, colon), port);
    if (!bound.ok()) {
      log->error("{}: {}", o.agency, bound.status().message());
      return 1;
    }
    log->info("{}: HTTP interface listening on http://{}:{}{}", o.agency, http.substr(0, colon), bound.value(),
              http_base);
  }
  log->info("{}: agency simulator ready on {} (seed {}, delay {}-{} ms, reject rate {})", o.agency, o.db_path,
            o.spec.seed, o.spec.delay_min_ms, o.spec.delay_max_ms, o.spec.reject_rate);
  bool was_down = false;
  while (!g_stop.load()) {
    bool down = sim.value()->Down();
    if (down != was_down) log->info("{}: {}", o.agency, down ? "down (outage or hold): processing stopped" : "back up");
    was_down = down;
    auto done = sim.value()->Step();
    if (!done.ok()) log->warn("{}: {}", o.agency, done.status().ToString());
    std::this_thread::sleep_for(std::chrono::milliseconds(poll_ms));
  }
  if (front) front->Stop();
  log->info("{}: agency simulator stopped", o.agency);
  return 0;
}
