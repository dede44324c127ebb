// `yilian watch`: prints case updates as JSON lines, acknowledging each only
// after it has been written (so nothing is lost if this process dies).
#include <atomic>
#include <csignal>
#include <iostream>

#include "cli/broker_flags.h"
#include "cli/commands.h"
#include "cli/io.h"
#include "client/watcher.h"
#include "common/clock.h"

namespace yilian::cli {
namespace {

std::atomic<bool> g_stop{false};
void OnSignal(int) { g_stop.store(true); }

struct WatchArgs {
  BrokerFlags flags;
  std::uint64_t count = 0;
  int idle_exit_s = 0;
  std::string name = "yilian-watch";
};

int RunWatch(const WatchArgs& args) {
  struct sigaction sa = {};
  sa.sa_handler = OnSignal;
  sigaction(SIGTERM, &sa, nullptr);
  sigaction(SIGINT, &sa, nullptr);
  zmq::context_t context(1);
  client::ClientOptions options;
  if (Status s = ApplyBrokerFlags(args.flags, &options); !s.ok()) {
    std::cerr << "yilian: " << s.message() << "\n";
    return 2;
  }
  options.name = args.name;
  options.credit = 64;
  client::Watcher watcher(context, options);
  std::uint64_t seen = 0;
  Millis last = SystemClock::Default()->NowMillis();
  while (!g_stop.load()) {
    if (args.count > 0 && seen >= args.count) break;
    if (args.idle_exit_s > 0 && SystemClock::Default()->NowMillis() - last > args.idle_exit_s * 1000LL) break;
    auto update = watcher.Receive(100);
    if (!update) continue;
    last = SystemClock::Default()->NowMillis();
    std::cout << ToJsonLine(*update) << std::endl;
    if (!std::cout) return 2;
    watcher.Acknowledge(update->update_id());
    ++seen;
  }
  // Let the last acknowledgements leave before closing.
  watcher.Receive(200);
  watcher.connection().Close();
  return 0;
}

}  // namespace

void AddWatchCommand(CLI::App& app, int* exit_code) {
  auto args = std::make_shared<WatchArgs>();
  CLI::App* cmd = app.add_subcommand("watch", "print case updates (completed, needs attention, overdue) as JSON lines");
  AddBrokerFlags(cmd, &args->flags);
  cmd->add_option("--count", args->count, "exit after this many updates (0: run until stopped)");
  cmd->add_option("--idle-exit", args->idle_exit_s, "exit after this many seconds without an update (0: never)");
  cmd->add_option("--name", args->name, "client name shown in the broker's log")->capture_default_str();
  cmd->footer("Each update is acknowledged after it is printed; unacknowledged updates are sent again.");
  cmd->callback([args, exit_code] { *exit_code = RunWatch(*args); });
}

}  // namespace yilian::cli
