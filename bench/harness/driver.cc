#include "harness/driver.h"

#include <cstdio>

#include "cli/sample.h"
#include "harness/report.h"

namespace yilian::bench {

void AddDriverOptions(CLI::App& app, DriverArgs* a, const std::vector<std::string>& modes) {
  app.add_option("--mode", a->mode, "settle: all agencies online; backlog: agencies offline, then drain")
      ->check(CLI::IsMember(modes))
      ->capture_default_str();
  app.add_option("--workload", a->workload, "workload file made by bench-workload (default: generate in memory)");
  app.add_option("--events", a->events, "events to publish (the first N of the workload)")
      ->check(CLI::Range(1, 100000000))
      ->capture_default_str();
  app.add_option("--rate", a->rate, "offered events per second (0: as fast as the publish window allows)")
      ->check(CLI::Range(0.0, 1e7))
      ->capture_default_str();
  app.add_option("--agencies", a->agencies, "consuming agencies, one consumer each (backlog mode: default 1)")
      ->check(CLI::Range(1, 64))
      ->capture_default_str();
  app.add_option("--consumer-window,--credit", a->consumer_window,
                 "unacknowledged deliveries per consumer (credit/prefetch)")
      ->check(CLI::Range(1, 100000))
      ->capture_default_str();
  app.add_option("--publish-window", a->publish_window, "unconfirmed publishes")
      ->check(CLI::Range(1, 100000))
      ->capture_default_str();
  app.add_option("--max-unsettled", a->max_unsettled,
                 "as-fast-as-possible runs: published events not yet settled at every agency, at most")
      ->check(CLI::Range(1, 10000000))
      ->capture_default_str();
  app.add_flag("--no-restart", a->no_restart, "backlog mode: drain without restarting the server first");
  app.add_option("--json", a->json, "append the result as one JSON line to this file");
  app.add_option("--label", a->label, "free text stored with the JSON result (which series this run belongs to)");
  app.add_option("--deployment", a->deployment,
                 "free text stored with the JSON result: how the servers are deployed (e.g. \"3-node cluster\"); "
                 "default: one server");
  app.add_option("--cpu-pid-file", a->cpu_pid_files,
                 "settle mode: the pid file of another server process whose CPU (with its descendants') counts in "
                 "the server CPU: a cluster's other nodes, the database servers of a broker (repeatable)");
  app.add_option("--run", a->run, "repetition number stored with the JSON result")->capture_default_str();
  app.add_option("--enterprises", a->generate.enterprises, "generated workload: distinct enterprises")
      ->check(CLI::Range(1, 10000000))
      ->capture_default_str();
  app.add_option("--target-bytes", a->generate.target_bytes, "generated workload: approximate encoded event size")
      ->check(CLI::Range(0, sample::kMaxTargetBytes))
      ->capture_default_str();
}

int RunDriver(System& system, const DriverArgs& a) {
  std::unique_ptr<Workload> workload;
  if (a.workload.empty()) {
    GenerateOptions g = a.generate;
    g.events = a.events;
    workload = Workload::Generate(g);
  } else {
    auto w = Workload::Load(a.workload, static_cast<std::size_t>(a.events));
    if (!w.ok()) {
      std::fprintf(stderr, "%s\n", w.status().ToString().c_str());
      return 2;
    }
    workload = std::move(w).value();
    if (workload->size() < static_cast<std::size_t>(a.events))
      std::fprintf(stderr, "note: the workload has only %zu events\n", workload->size());
  }
  RunInfo info;
  info.system = system.name();
  info.durability_class = system.durability_class();
  info.durability = system.durability();
  info.versions = system.versions();
  info.mode = a.mode;
  info.label = a.label;
  info.deployment = a.deployment;
  info.publish_path = system.publish_path();
  info.run = a.run;
  info.agencies = a.agencies;
  info.consumer_window = a.consumer_window;
  info.publish_window = a.publish_window;
  info.max_unsettled = a.rate > 0 || a.mode == "backlog" ? 0 : a.max_unsettled;
  info.offered_rate = a.rate;
  info.events = workload->size();
  info.mean_event_bytes = workload->mean_payload_bytes();
  Topology t;
  t.agencies = a.agencies;
  t.consumer_window = a.consumer_window;
  t.publish_window = a.publish_window;

  Status error;
  if (a.mode == "backlog") {
    BacklogOptions o;
    o.topology = t;
    o.restart = !a.no_restart;
    auto r = RunBacklog(system, *workload, o);
    info.versions = system.versions();
    if (r.ok()) {
      PrintBacklog(info, *r);
      if (!a.json.empty()) error = AppendJson(a.json, info, *r);
    } else {
      error = r.status();
    }
  } else {
    SettleOptions o;
    o.topology = t;
    o.rate = a.rate;
    o.max_unsettled = a.max_unsettled;
    o.cpu_pid_files = a.cpu_pid_files;
    auto r = RunSettle(system, *workload, o);
    info.versions = system.versions();  // a server's version may be learned only when connected
    if (r.ok()) {
      PrintSettle(info, *r);
      if (!a.json.empty()) error = AppendJson(a.json, info, *r);
    } else {
      error = r.status();
    }
  }
  system.Finish();
  if (!error.ok()) {
    std::fprintf(stderr, "%s %s run failed: %s\n", info.system.c_str(), info.mode.c_str(), error.ToString().c_str());
    if (!a.json.empty()) {
      if (Status s = AppendJsonError(a.json, info, error); !s.ok())
        std::fprintf(stderr, "cannot record the failure in %s: %s\n", a.json.c_str(), s.ToString().c_str());
    }
    return 1;
  }
  return 0;
}

}  // namespace yilian::bench
