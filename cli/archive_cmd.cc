// `yilian archive [--no-wait]`: runs the broker's archive job now (POST
// /api/v1/archive, docs/storage.md section 14) and waits until the run is
// over, printing what it moved (GET /api/v1/archive). The broker writes the
// archive files itself; this command only asks for the run.
#include <chrono>
#include <iostream>
#include <thread>

#include <google/protobuf/util/json_util.h>
#include <google/protobuf/util/time_util.h>

#include "cli/commands.h"
#include "cli/http_api.h"
#include "yilian/v1/tracking.pb.h"

namespace yilian::cli {
namespace {

struct ArchiveArgs {
  HttpFlags http;
  bool no_wait = false;
  int timeout_s = 3600;
};

bool Parse(const std::string& body, v1::ArchiveStatus* status) {
  google::protobuf::util::JsonParseOptions options;
  options.ignore_unknown_fields = true;
  if (google::protobuf::util::JsonStringToMessage(body, status, options).ok()) return true;
  std::cerr << "yilian archive: the broker's answer is not an ArchiveStatus: " << body.substr(0, 200) << "\n";
  return false;
}

std::string Line(const v1::ArchiveStatus& s) {
  using google::protobuf::util::TimeUtil;
  std::string line = "archive " + s.state() + " events_archived=" + std::to_string(s.events_archived()) +
                     " audit_records_archived=" + std::to_string(s.audit_records_archived()) +
                     " files_written=" + std::to_string(s.files_written());
  if (s.has_last_run_at()) line += " last_run_at=" + TimeUtil::ToString(s.last_run_at());
  if (!s.last_error().empty()) line += " last_error=\"" + s.last_error() + "\"";
  return line;
}

int Run(const ArchiveArgs& args) {
  std::string body;
  if (int code = GetJson("archive", args.http, "/api/v1/archive", {}, &body); code != 0) return code;
  v1::ArchiveStatus before;
  if (!Parse(body, &before)) return 1;
  if (int code = PostJson("archive", args.http, "/api/v1/archive", "{}", &body); code != 0) return code;
  v1::ArchiveStatus status;
  if (!Parse(body, &status)) return 1;
  if (args.no_wait) {
    std::cout << Line(status) << "\n";
    return std::cout ? 0 : 2;
  }
  // Over once a run newer than the one before the request has finished.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(args.timeout_s);
  for (;;) {
    const bool newer = status.has_last_run_at() &&
                       (!before.has_last_run_at() || status.last_run_at().seconds() > before.last_run_at().seconds() ||
                        (status.last_run_at().seconds() == before.last_run_at().seconds() &&
                         status.last_run_at().nanos() > before.last_run_at().nanos()));
    if (status.state() == "idle" && newer) break;
    if (std::chrono::steady_clock::now() >= deadline) {
      std::cerr << "yilian archive: the run did not end within " << args.timeout_s << " s\n";
      return 1;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    if (int code = GetJson("archive", args.http, "/api/v1/archive", {}, &body); code != 0) return code;
    if (!Parse(body, &status)) return 1;
  }
  std::cout << Line(status) << "\n";
  if (!std::cout) return 2;
  if (!status.last_error().empty()) {
    std::cerr << "yilian archive: the run failed: " << status.last_error() << "\n";
    return 1;
  }
  return 0;
}

}  // namespace

void AddArchiveCommand(CLI::App& app, int* exit_code) {
  auto args = std::make_shared<ArchiveArgs>();
  CLI::App* cmd = app.add_subcommand(
      "archive", "run the broker's archive job now (POST /api/v1/archive) and wait until the run is over");
  cmd->add_flag("--no-wait", args->no_wait, "ask for the run and exit");
  cmd->add_option("--timeout", args->timeout_s, "seconds to wait for the run")
      ->capture_default_str()
      ->check(CLI::Range(1, 86400));
  AddHttpFlags(cmd, &args->http);
  cmd->footer(
      "Settled cases older than store.retention_days, their deliveries and case updates, and the audit records "
      "before that time move from the live store into archive files in store.archive_dir (docs/storage.md "
      "section 14). The broker does this daily at store.archive_time by itself. Needs an admin token. Prints one "
      "line, e.g. \"archive idle events_archived=1200 audit_records_archived=4100 files_written=1 last_run_at=...\" "
      "(counts since the broker started). Exit 0 when the run is over without error; 1 if the API answers an error "
      "(409 NOT_ARCHIVING: retention is 0, or the store is PostgreSQL) or the run failed; 2 on usage or "
      "connection errors.");
  cmd->callback([args, exit_code] { *exit_code = Run(*args); });
}

}  // namespace yilian::cli
