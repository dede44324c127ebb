// `yilian consume`: a test agency. Logs one JSON line per delivery and
// answers each with the chosen result.
#include <fcntl.h>
#include <unistd.h>

#include <atomic>
#include <csignal>
#include <cstring>
#include <iostream>
#include <regex>
#include <string>

#include "cli/broker_flags.h"
#include "cli/commands.h"
#include "cli/io.h"
#include "client/consumer.h"
#include "common/clock.h"
#include "yilian/v1/tools.pb.h"

namespace yilian::cli {
namespace {

std::atomic<bool> g_stop{false};
void OnSignal(int) { g_stop.store(true); }

struct ConsumeArgs {
  BrokerFlags flags;
  std::string agency;
  std::string result = "processed";
  std::string reject_pattern;
  std::string log_file;
  std::string name;
  std::uint32_t credit = 64;
  std::uint64_t count = 0;
  int idle_exit_s = 0;
};

int RunConsume(const ConsumeArgs& args) {
  std::optional<std::regex> reject;
  if (!args.reject_pattern.empty()) {
    try {
      reject.emplace(args.reject_pattern);
    } catch (const std::regex_error& e) {
      std::cerr << "yilian consume: --reject-pattern: " << e.what() << "\n";
      return 2;
    }
  }
  int log_fd = -1;
  if (!args.log_file.empty()) {
    log_fd = ::open(args.log_file.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (log_fd < 0) {
      std::cerr << "yilian consume: cannot open log '" << args.log_file << "': " << std::strerror(errno) << "\n";
      return 2;
    }
  }
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
  options.agency = args.agency;
  options.credit = args.credit;
  options.name = args.name.empty() ? "yilian-consume:" + args.agency : args.name;
  client::Consumer consumer(context, options);

  std::uint64_t received = 0;
  Millis last_activity = SystemClock::Default()->NowMillis();
  while (!g_stop.load()) {
    if (args.count > 0 && received >= args.count && consumer.unacknowledged() == 0) break;
    if (args.idle_exit_s > 0 &&
        SystemClock::Default()->NowMillis() - last_activity > static_cast<Millis>(args.idle_exit_s) * 1000 &&
        consumer.unacknowledged() == 0)
      break;
    auto d = consumer.Receive(100);
    if (!d) continue;
    last_activity = SystemClock::Default()->NowMillis();
    ++received;

    v1::Result result;
    result.set_event_id(d->event_id());
    result.set_agency(d->agency());
    result.set_attempt(d->attempt());
    result.set_sequence(d->sequence());
    std::string answered = args.result;
    if (reject && std::regex_search(d->event_id(), *reject)) answered = "rejected";
    if (answered == "processed") {
      result.set_outcome(v1::OUTCOME_PROCESSED);
      result.set_reference(d->agency() + "-" + std::to_string(d->sequence()));
    } else if (answered == "rejected") {
      result.set_outcome(v1::OUTCOME_REJECTED);
      result.set_reason("rejected by test agency " + d->agency());
    } else if (answered == "retry") {
      result.set_outcome(v1::OUTCOME_RETRY);
      result.set_reason("test agency asks to retry");
    } else if (answered == "accepted") {
      result.set_outcome(v1::OUTCOME_ACCEPTED);
    }

    v1::DeliveryReport report;
    report.set_event_id(d->event_id());
    report.set_uscc(d->uscc());
    report.set_agency(d->agency());
    report.set_attempt(d->attempt());
    report.set_sequence(d->sequence());
    report.set_received_at(NowRfc3339Utc());
    report.set_replay(d->replay());
    report.set_answered(answered);
    report.set_event_type(v1::EventType_Name(d->event().type()));
    std::string line = ToJsonLine(report) + "\n";
    if (log_fd >= 0) {
      // One write per line with O_APPEND: lines of several consumers sharing
      // the file never interleave.
      if (::write(log_fd, line.data(), line.size()) != static_cast<ssize_t>(line.size())) {
        std::cerr << "yilian consume: log write failed: " << std::strerror(errno) << "\n";
        return 2;
      }
    } else {
      std::cout << line << std::flush;
    }
    if (answered != "none") consumer.Answer(std::move(result));
  }
  // Give outstanding results a moment to be acknowledged before leaving.
  Millis until = SystemClock::Default()->NowMillis() + 2000;
  while (consumer.unacknowledged() > 0 && SystemClock::Default()->NowMillis() < until) consumer.Receive(50);
  consumer.connection().Close();
  if (log_fd >= 0) ::close(log_fd);
  return 0;
}

}  // namespace

void AddConsumeCommand(CLI::App& app, int* exit_code) {
  auto args = std::make_shared<ConsumeArgs>();
  CLI::App* cmd = app.add_subcommand("consume", "act as a test agency: log deliveries and answer them");
  AddBrokerFlags(cmd, &args->flags);
  cmd->add_option("--agency", args->agency, "agency id, e.g. tax or bank:ICBC")->required();
  cmd->add_option("--result", args->result, "answer to every delivery (none: never answer, to test redelivery)")
      ->capture_default_str()
      ->check(CLI::IsMember({"processed", "rejected", "retry", "accepted", "none"}));
  cmd->add_option("--reject-pattern", args->reject_pattern, "answer REJECTED when the event id matches this regex");
  cmd->add_option("--log", args->log_file, "append the JSON lines to this file instead of stdout");
  cmd->add_option("--credit", args->credit, "deliveries held at once")
      ->capture_default_str()
      ->check(CLI::Range(1, 100000));
  cmd->add_option("--count", args->count, "exit after this many deliveries (0: run until stopped)");
  cmd->add_option("--idle-exit", args->idle_exit_s, "exit after this many seconds without a delivery (0: never)");
  cmd->add_option("--name", args->name, "client name shown in the broker's log");
  cmd->footer(
      "Prints (or logs) one JSON line per delivery: event_id, uscc, agency, attempt, sequence, received_at.\n"
      "Stops cleanly on SIGTERM or SIGINT.");
  cmd->callback([args, exit_code] { *exit_code = RunConsume(*args); });
}

}  // namespace yilian::cli
