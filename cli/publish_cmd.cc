// `yilian publish`: publishes JSON Lines events with confirms.
#include <iostream>
#include <map>
#include <string>

#include "cli/broker_flags.h"
#include "cli/commands.h"
#include "cli/io.h"
#include "client/publisher.h"
#include "common/clock.h"
#include "common/log.h"
#include "validation/json.h"
#include "yilian/v1/tools.pb.h"

namespace yilian::cli {
namespace {

struct PublishArgs {
  BrokerFlags flags;
  std::string file;
  int timeout_s = 300;
  int resend_ms = 10000;
  double rate = 0;
  std::string name = "yilian-publish";
};

std::string StatusName(v1::PublishStatus s) {
  switch (s) {
    case v1::ACCEPTED: return "accepted";
    case v1::DUPLICATE: return "duplicate";
    default: return "refused";
  }
}

int RunPublish(const PublishArgs& args) {
  std::string error;
  auto in = OpenInput(args.file, &error);
  if (!in) {
    std::cerr << "yilian publish: " << error << "\n";
    return 2;
  }
  zmq::context_t context(1);
  client::ClientOptions options;
  if (Status s = ApplyBrokerFlags(args.flags, &options); !s.ok()) {
    std::cerr << "yilian: " << s.message() << "\n";
    return 2;
  }
  options.name = args.name;
  client::Publisher publisher(context, options, args.resend_ms);

  bool all_ok = true;
  std::map<std::uint64_t, std::uint32_t> line_of;
  std::vector<std::pair<std::uint32_t, v1::EnterpriseEvent>> queued;
  std::string text;
  std::uint32_t line = 0;
  while (std::getline(*in, text)) {
    ++line;
    if (text.find_first_not_of(" \t\r") == std::string::npos) continue;
    v1::EnterpriseEvent event;
    Status parsed = json::Parse(text, &event);
    if (!parsed.ok()) {
      v1::PublishReport report;
      report.set_line(line);
      report.set_status("refused");
      report.set_error("PARSE_ERROR");
      report.set_message(parsed.message());
      std::cout << ToJsonLine(report) << "\n";
      all_ok = false;
      continue;
    }
    queued.emplace_back(line, std::move(event));
  }

  // With --rate, events are handed to the publisher on a schedule; the
  // deadline counts from the last one.
  const Millis start = SystemClock::Default()->NowMillis();
  std::size_t next = 0;
  Millis deadline = start + static_cast<Millis>(args.timeout_s) * 1000;
  while ((next < queued.size() || publisher.outstanding() > 0) && SystemClock::Default()->NowMillis() < deadline) {
    Millis now = SystemClock::Default()->NowMillis();
    while (next < queued.size() && (args.rate <= 0 || static_cast<double>(next) <= (now - start) * args.rate / 1000.0)) {
      line_of[publisher.Publish(std::move(queued[next].second))] = queued[next].first;
      ++next;
      deadline = now + static_cast<Millis>(args.timeout_s) * 1000;
    }
    publisher.Poll(args.rate > 0 ? 5 : 200, [&](std::uint64_t id, const v1::PublishAck& ack) {
      v1::PublishReport report;
      report.set_line(line_of[id]);
      report.set_event_id(ack.event_id());
      report.set_status(StatusName(ack.status()));
      if (ack.status() == v1::REFUSED) {
        all_ok = false;
        report.set_error(v1::ErrorCode_Name(ack.error()));
        report.set_message(ack.message());
        *report.mutable_errors() = ack.errors();
        report.set_current_revision(ack.current_revision());
      } else {
        *report.mutable_agencies() = ack.agencies();
        report.set_sequence(ack.sequence());
      }
      std::cout << ToJsonLine(report) << std::endl;
    });
  }
  if (publisher.outstanding() > 0 || next < queued.size()) {
    std::cerr << "yilian publish: " << publisher.outstanding() + (queued.size() - next) << " event(s) not confirmed within " << args.timeout_s
              << " s (broker " << args.flags.broker << ")\n";
    return 1;
  }
  publisher.connection().Close();
  return all_ok ? 0 : 1;
}

}  // namespace

void AddPublishCommand(CLI::App& app, int* exit_code) {
  auto args = std::make_shared<PublishArgs>();
  CLI::App* cmd = app.add_subcommand("publish", "publish JSON Lines events to the broker, with confirms");
  AddBrokerFlags(cmd, &args->flags);
  cmd->add_option("FILE", args->file, "JSON Lines file, one EnterpriseEvent per line; - for stdin")->required();
  cmd->add_option("--timeout", args->timeout_s, "give up after this many seconds without all confirms")
      ->capture_default_str()
      ->check(CLI::Range(1, 86400));
  cmd->add_option("--resend-ms", args->resend_ms, "resend an unconfirmed event after this long")
      ->capture_default_str()
      ->check(CLI::Range(100, 600000));
  cmd->add_option("--rate", args->rate, "offer at most this many events per second (0: as fast as confirms allow)")
      ->capture_default_str()
      ->check(CLI::Range(0.0, 1e7));
  cmd->add_option("--name", args->name, "client name shown in the broker's log")->capture_default_str();
  cmd->footer(
      "Prints one JSON line per event: line, event_id, status (accepted|duplicate|refused), errors.\n"
      "Exit 0 if every event was confirmed (accepted or duplicate), 1 otherwise, 2 on usage or I/O errors.");
  cmd->callback([args, exit_code] { *exit_code = RunPublish(*args); });
}

}  // namespace yilian::cli
