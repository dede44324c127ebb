// `yilian rekey [--no-wait]`: the progress of the broker's data-key rotation
// (GET /api/v1/rekey, docs/security.md section 2). On a terminal a progress
// bar redrawn in place until the rotation is no longer running; otherwise
// one plain line whenever the progress changes, and the last state.
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <iostream>
#include <thread>

#include <google/protobuf/util/json_util.h>

#include "cli/commands.h"
#include "cli/http_api.h"
#include "yilian/v1/tracking.pb.h"

namespace yilian::cli {
namespace {

struct RekeyArgs {
  HttpFlags http;
  bool no_wait = false;
  int interval_ms = 500;
};

std::uint64_t Percent(const v1::RekeyStatus& s) {
  return s.total() == 0 ? 100 : s.done() * 100 / s.total();
}

std::string Bar(const v1::RekeyStatus& s) {
  constexpr int kWidth = 30;
  const int filled = static_cast<int>(Percent(s) * kWidth / 100);
  return "[" + std::string(filled, '#') + std::string(kWidth - filled, '.') + "]";
}

std::string Line(const v1::RekeyStatus& s) {
  return "rekey " + s.state() + " key=" + (s.current_key_id().empty() ? "(none)" : s.current_key_id()) +
         " done=" + std::to_string(s.done()) + " total=" + std::to_string(s.total()) +
         " remaining=" + std::to_string(s.remaining());
}

int Run(const RekeyArgs& args) {
  const bool tty = ::isatty(STDOUT_FILENO) == 1;
  std::string last_line;
  for (;;) {
    std::string body;
    if (int code = GetJson("rekey", args.http, "/api/v1/rekey", {}, &body); code != 0) {
      if (tty && !last_line.empty()) std::cout << "\n";
      return code;
    }
    v1::RekeyStatus status;
    google::protobuf::util::JsonParseOptions options;
    options.ignore_unknown_fields = true;
    if (!google::protobuf::util::JsonStringToMessage(body, &status, options).ok()) {
      std::cerr << "yilian rekey: the broker's answer is not a RekeyStatus: " << body.substr(0, 200) << "\n";
      return 1;
    }
    const bool running = status.state() == "running";
    const std::string line = Line(status);
    if (tty) {
      std::cout << "\r" << Bar(status) << " " << Percent(status) << "%  " << line << "\033[K" << std::flush;
      if (!running || args.no_wait) std::cout << "\n";
    } else if (line != last_line) {
      std::cout << line << "\n" << std::flush;
    }
    last_line = line;
    if (!running || args.no_wait) return std::cout ? 0 : 2;
    std::this_thread::sleep_for(std::chrono::milliseconds(args.interval_ms));
  }
}

}  // namespace

void AddRekeyCommand(CLI::App& app, int* exit_code) {
  auto args = std::make_shared<RekeyArgs>();
  CLI::App* cmd = app.add_subcommand(
      "rekey", "the progress of the data-key rotation (GET /api/v1/rekey), until it is no longer running");
  cmd->add_flag("--no-wait", args->no_wait, "print the progress once and exit");
  cmd->add_option("--interval-ms", args->interval_ms, "time between two readings while waiting")
      ->capture_default_str()
      ->check(CLI::Range(50, 60000));
  AddHttpFlags(cmd, &args->http);
  cmd->footer(
      "A rotation starts when the broker starts with a new security.data_key_file and the old key under "
      "security.retired_data_key_files (docs/security.md section 2). On a terminal: a progress bar; otherwise one "
      "line per change, e.g. \"rekey running key=1a2b3c4d done=640 total=10000 remaining=9360\". States: idle "
      "(nothing to re-encrypt), running, done. Exit 0 once the state is not running (at once with --no-wait); 1 if "
      "the API answers an error; 2 on usage or connection errors.");
  cmd->callback([args, exit_code] { *exit_code = Run(*args); });
}

}  // namespace yilian::cli
