// yilian-broker: the daemon. Parses flags and the config file, opens the
// store, and runs the broker loop until SIGTERM or SIGINT.
#include <sys/stat.h>

#include <csignal>
#include <cstdio>
#include <iostream>

#include <CLI/CLI.hpp>

#include "common/log.h"
#include "config/config.h"
#include "server/broker.h"

namespace {

yilian::server::Broker* g_broker = nullptr;

void OnSignal(int) {
  if (g_broker) g_broker->Stop();
}

}  // namespace

int main(int argc, char** argv) {
  // Whatever the broker creates is its user's alone. The data directory,
  // the store and the log file are made private explicitly
  // (common/file_modes.h); the umask covers whatever else gets created
  // (an ipc:// endpoint's socket, a file added later).
  ::umask(077);
  CLI::App app{"yilian-broker: durable broker for enterprise-registration events"};
  std::string config_path, data_dir, listen, log_level, log_file, http;
  bool http_set = false;
  bool help_config = false, insecure_dev = false;
  app.add_option("--config", config_path, "YAML configuration file (see --help-config)");
  app.add_option("--data-dir", data_dir, "directory of the store (default ./data; overrides data_dir)");
  app.add_option("--listen", listen, "ZeroMQ endpoint to bind (default tcp://127.0.0.1:7700; overrides listen)");
  app.add_option("--http", http, "HTTP API and dashboard HOST:PORT (default 127.0.0.1:7780; \"\" turns it off)")
      ->each([&](const std::string&) { http_set = true; });
  app.add_option("--log-level", log_level, "trace|debug|info|warn|error|critical|off (overrides log.level)");
  app.add_option("--log-file", log_file, "also append logs to this file (overrides log.file)");
  app.add_flag("--insecure-dev", insecure_dev,
               "no CURVE, no authentication: local development only (loopback endpoints only)");
  app.add_flag("--help-config", help_config, "print every configuration key with default, bounds and description");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int rc = app.exit(e);
    return rc == 0 ? 0 : 2;
  }
  if (help_config) {
    std::cout << yilian::config::DescribeKeys();
    return 0;
  }

  yilian::config::BrokerConfig config = yilian::config::DefaultConfig();
  if (!config_path.empty()) {
    auto loaded = yilian::config::LoadConfigFile(config_path);
    if (!loaded.ok()) {
      std::cerr << "yilian-broker: " << loaded.status().message() << "\n";
      return 2;
    }
    config = loaded.value();
  }
  if (!data_dir.empty()) config.data_dir = data_dir;
  if (!listen.empty()) config.listen = listen;
  if (http_set) config.http_listen = http;
  config.insecure_dev = insecure_dev;
  if (!log_level.empty()) config.log_level = log_level;
  if (!log_file.empty()) config.log_file = log_file;

  std::string error;
  if (!yilian::SetupLogging({config.log_level, config.log_file,
                             static_cast<std::size_t>(config.log_max_file_mb * 1024 * 1024), config.log_max_files},
                            &error)) {
    std::cerr << "yilian-broker: " << error << "\n";
    return 2;
  }
  auto log = yilian::GetLogger("broker");
  // The conninfo is not logged: it may hold a password.
  log->info("starting: data dir {}, {} agencies configured, store.backend={}, store.synchronous={}", config.data_dir,
            config.agencies.size(), config.store_backend, config.store_synchronous);

  auto broker = yilian::server::Broker::Create(config);
  if (!broker.ok()) {
    log->critical("cannot start: {}", broker.status().ToString());
    return 1;
  }
  g_broker = broker.value().get();
  struct sigaction sa = {};
  sa.sa_handler = OnSignal;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGTERM, &sa, nullptr);
  sigaction(SIGINT, &sa, nullptr);
  std::signal(SIGPIPE, SIG_IGN);

  yilian::Status status = broker.value()->Run();
  g_broker = nullptr;
  if (!status.ok()) {
    log->critical("stopped with error: {}", status.ToString());
    return 1;
  }
  log->info("stopped cleanly");
  return 0;
}
