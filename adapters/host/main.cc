// yilian-adapter: the agency adapter host. Loads an agency plugin, opens a
// consumer session with the broker through the adapter SDK, and runs it
// until SIGTERM/SIGINT. Exit codes: host/exit_codes.h; contract:
// docs/plugins.md.
#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <atomic>
#include <csignal>
#include <cstring>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

#include "auth/keys.h"
#include "common/file_modes.h"
#include "common/log.h"
#include "host/exit_codes.h"
#include "host/host_config.h"
#include "host/plugin_instance.h"
#include "host/plugin_library.h"
#include "sdk/agency_session.h"

namespace {

std::atomic<bool> g_stop{false};
void OnSignal(int) { g_stop.store(true); }

struct Args {
  std::string broker;
  std::string agency;
  std::string plugin;
  std::string config;
  std::string plugin_dir;
  std::string state_dir;
  std::string name;
  std::string log_level = "info";
  std::string log_file;
  double log_max_mb = 64;
  std::size_t log_max_files = 10;
  std::string server_key;
  std::string key_file;
};

// Holds an exclusive lock on <state_dir>/lock for the life of the process,
// so that two adapters never share one journal. The directory is the
// adapter's user's alone (0700, whatever the umask; tightened if found
// open, with *notices for the log): the journal holds event ids, enterprise
// codes and the agencies' answers.
int LockStateDir(const std::string& dir, std::vector<std::string>* notices, std::string* error) {
  std::string notice;
  if (yilian::Status s = yilian::files::MakePrivateDir(dir, &notice); !s.ok()) {
    *error = "state directory: " + s.message();
    return -1;
  }
  if (!notice.empty()) notices->push_back("state directory " + notice);
  std::string path = dir + "/lock";
  if (yilian::Status s = yilian::files::TightenFileIfPresent(path, &notice); !s.ok()) {
    *error = s.message();
    return -1;
  }
  if (!notice.empty()) notices->push_back(notice);
  int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0) {
    *error = "cannot open '" + path + "': " + std::strerror(errno);
    return -1;
  }
  if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    *error = "state directory '" + dir + "' is in use by another adapter";
    ::close(fd);
    return -1;
  }
  return fd;
}

int Run(const Args& args) {
  using namespace yilian;
  auto log = GetLogger("adapter");

  host::HostConfig config;
  if (!args.config.empty()) {
    std::ifstream in(args.config);
    if (!in) {
      log->error("cannot read config file '{}'", args.config);
      return host::kExitUsage;
    }
    std::stringstream text;
    text << in.rdbuf();
    auto parsed = host::ParseHostConfig(text.str(), args.config);
    if (!parsed.ok()) {
      log->error("{}", parsed.status().message());
      return host::kExitUsage;
    }
    config = std::move(parsed.value());
  }
  if (!args.state_dir.empty()) config.state_dir = args.state_dir;
  if (!args.server_key.empty()) config.server_key = args.server_key;
  if (!args.key_file.empty()) config.key_file = args.key_file;
  if (config.server_key.empty() != config.key_file.empty()) {
    log->error("CURVE needs both the broker's public key (--server-key) and this adapter's key pair (--key)");
    return host::kExitUsage;
  }
  if (config.state_dir.empty()) {
    log->error("no state directory: give --state-dir or adapter.state_dir (answers not yet reported live there)");
    return host::kExitUsage;
  }

  auto path = host::ResolvePlugin(args.plugin, host::PluginSearchDirs(args.plugin_dir));
  if (!path.ok()) {
    log->error("{}", path.status().message());
    return host::kExitPluginNotFound;
  }
  auto library = host::PluginLibrary::Load(path.value());
  if (!library.ok()) {
    log->error("{}", library.status().message());
    return host::kExitPluginInvalid;
  }
  const yilian_plugin_api& api = library.value()->api();
  log->info("loaded plugin {} {} from {}", api.name ? api.name : "?", api.version ? api.version : "?", path.value());

  std::string lock_error;
  std::vector<std::string> notices;
  int lock_fd = LockStateDir(config.state_dir, &notices, &lock_error);
  for (const auto& notice : notices) log->warn("{}", notice);
  if (lock_fd < 0) {
    log->error("{}", lock_error);
    return host::kExitState;
  }

  auto instance = host::PluginInstance::Create(*library.value(), args.agency, config.plugin);
  if (!instance.ok()) {
    log->error("{}", instance.status().message());
    return host::kExitPluginRefused;
  }

  adapter::SessionOptions options;
  options.client.endpoint = args.broker;
  options.client.agency = args.agency;
  options.client.credit = static_cast<std::uint32_t>(config.credit);
  options.client.name = args.name.empty() ? "yilian-adapter:" + args.agency : args.name;
  if (!config.server_key.empty()) {
    auto server = auth::ReadPublicKey(config.server_key);
    auto pair = server.ok() ? auth::ReadKeyPair(config.key_file) : Result<auth::KeyPair>(server.status());
    if (!pair.ok()) {
      log->error("CURVE keys: {}", pair.status().message());
      return host::kExitUsage;
    }
    options.client.server_public_key = server.value();
    options.client.public_key = pair.value().public_key;
    options.client.secret_key = pair.value().secret_key;
  }
  options.journal_path = config.state_dir + "/results.db";
  options.check_interval_ms = config.check_interval_ms;
  options.check_max_interval_ms = config.check_max_interval_ms;
  options.retain_hours = config.retain_hours;
  options.result_timeout_ms = config.result_timeout_ms;

  zmq::context_t context(1);
  auto session = adapter::AgencySession::Open(context, options, instance.value().get());
  if (!session.ok()) {
    log->error("cannot open the state journal: {}", session.status().ToString());
    return host::kExitState;
  }
  log->info("adapter for {} connecting to {} (credit {}, state {}, {})", args.agency, args.broker, config.credit,
            config.state_dir, config.server_key.empty() ? "plain TCP" : "CURVE");
  Status s = session.value()->Run(g_stop);
  session.value().reset();
  instance.value().reset();
  ::close(lock_fd);
  if (!s.ok()) return host::kExitState;
  log->info("adapter for {} stopped", args.agency);
  return host::kExitOk;
}

}  // namespace

int main(int argc, char** argv) {
  Args args;
  bool help_config = false;
  CLI::App app{"yilian-adapter: runs an agency plugin against yilian-broker"};
  app.add_option("--broker", args.broker,
                 "broker endpoint, e.g. tcp://127.0.0.1:7700, or several separated by commas (an active broker "
                 "and its standbys: the adapter follows the active one)")->envname("YILIAN_BROKER");
  app.add_option("--server-key", args.server_key, "the broker's CURVE public key (Z85 or a .pub file); needs --key")
      ->envname("YILIAN_SERVER_KEY");
  app.add_option("--key", args.key_file, "this adapter's CURVE key pair file (yilian keygen)")->envname("YILIAN_KEY");
  app.add_option("--agency", args.agency, "agency id: tax, social_insurance, housing_fund, bank:<code>");
  app.add_option("--plugin", args.plugin, "plugin NAME (yilian_plugin_NAME.so, see --plugin-dir) or PATH");
  app.add_option("--config", args.config, "YAML config file with 'adapter:' and 'plugin:' sections");
  app.add_option("--plugin-dir", args.plugin_dir, "look here first for a plugin NAME");
  app.add_option("--state-dir", args.state_dir, "directory for the result journal (overrides adapter.state_dir)");
  app.add_option("--name", args.name, "client name shown in the broker's log");
  app.add_option("--log-level", args.log_level, "trace|debug|info|warn|error")->capture_default_str();
  app.add_option("--log-file", args.log_file, "also append the log to this file");
  app.add_option("--log-max-mb", args.log_max_mb, "rotate the log file (x.log to x.1.log, x.2.log, ...) past this many MiB")
      ->capture_default_str()
      ->check(CLI::Range(0.01, 65536.0));
  app.add_option("--log-max-files", args.log_max_files, "rotated log files kept (the oldest is deleted)")
      ->capture_default_str()
      ->check(CLI::Range(1, 1000));
  app.add_flag("--help-config", help_config, "print every adapter.* configuration key and exit");
  app.footer(
      "Exit codes: 0 stopped, 2 usage or config error, 3 plugin not found, 4 plugin not loadable\n"
      "(missing symbol, wrong ABI version), 5 plugin refused its configuration, 6 state directory unusable.");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int code = app.exit(e);
    return code == 0 ? 0 : yilian::host::kExitUsage;
  }
  if (help_config) {
    std::cout << yilian::host::DescribeHostConfig();
    return 0;
  }
  if (args.broker.empty() || args.agency.empty() || args.plugin.empty()) {
    std::cerr << "yilian-adapter: --broker, --agency and --plugin are required\n";
    return yilian::host::kExitUsage;
  }
  std::string error;
  if (!yilian::SetupLogging(yilian::LogOptions{args.log_level, args.log_file,
                                               static_cast<std::size_t>(args.log_max_mb * 1024 * 1024),
                                               args.log_max_files},
                            &error)) {
    std::cerr << "yilian-adapter: " << error << "\n";
    return yilian::host::kExitUsage;
  }
  struct sigaction sa = {};
  sa.sa_handler = OnSignal;
  sigaction(SIGTERM, &sa, nullptr);
  sigaction(SIGINT, &sa, nullptr);
  return Run(args);
}
