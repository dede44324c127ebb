// `yilian case show EVENT_ID` and `yilian cases [filters]`: the CLI mirrors
// of GET /api/v1/cases/{event_id} and GET /api/v1/cases (docs/http-api.md).
#include <google/protobuf/timestamp.pb.h>
#include <google/protobuf/util/time_util.h>

#include "cli/commands.h"
#include "cli/http_api.h"

namespace yilian::cli {
namespace {

struct CaseShowArgs {
  HttpFlags http;
  std::string event_id;
};

struct CasesArgs {
  HttpFlags http;
  std::string uscc, status, agency, since, cursor;
  bool overdue = false;
  int limit = 0;
};

int RunCases(const CasesArgs& args) {
  std::vector<std::pair<std::string, std::string>> query;
  if (!args.uscc.empty()) query.emplace_back("uscc", args.uscc);
  if (!args.status.empty()) query.emplace_back("status", args.status);
  if (!args.agency.empty()) query.emplace_back("agency", args.agency);
  if (args.overdue) query.emplace_back("overdue", "true");
  if (!args.since.empty()) query.emplace_back("since", args.since);
  if (args.limit > 0) query.emplace_back("limit", std::to_string(args.limit));
  if (!args.cursor.empty()) query.emplace_back("cursor", args.cursor);
  return GetAndPrint("cases", args.http, "/api/v1/cases", query);
}

}  // namespace

void AddCaseCommands(CLI::App& app, int* exit_code) {
  CLI::App* group = app.add_subcommand("case", "one case (an event and every agency's outcome) from the HTTP API");
  group->require_subcommand(1);
  auto show_args = std::make_shared<CaseShowArgs>();
  CLI::App* show = group->add_subcommand("show", "print the case of EVENT_ID as JSON (GET /api/v1/cases/{event_id})");
  show->add_option("EVENT_ID", show_args->event_id, "the event id the platform published")->required();
  AddHttpFlags(show, &show_args->http);
  show->footer("Exit 0 with the case on one JSON line; 1 if the API answers an error (e.g. 404: no such case); "
               "2 on usage errors or when the broker cannot be reached.");
  show->callback([show_args, exit_code] {
    *exit_code = GetAndPrint("case show", show_args->http, "/api/v1/cases/" + UrlEncode(show_args->event_id));
  });

  auto args = std::make_shared<CasesArgs>();
  CLI::App* cases = app.add_subcommand("cases", "list cases, newest first, as JSON (GET /api/v1/cases)");
  cases->add_option("--uscc", args->uscc, "only this enterprise");
  cases->add_option("--status", args->status, "only cases in this state")
      ->check(CLI::IsMember({"IN_PROGRESS", "COMPLETED", "ATTENTION"}));
  cases->add_option("--agency", args->agency, "only cases that need this agency, e.g. tax or bank:ICBC");
  cases->add_flag("--overdue", args->overdue, "only overdue cases");
  cases->add_option("--since", args->since, "only cases published at or after this RFC 3339 time")
      ->check(
          [](const std::string& v) {
            google::protobuf::Timestamp ts;
            return google::protobuf::util::TimeUtil::FromString(v, &ts)
                       ? std::string()
                       : "not an RFC 3339 time, e.g. 2026-11-27T08:00:00Z";
          },
          "RFC3339");
  cases->add_option("--limit", args->limit, "cases per page (the API's default: 50)")->check(CLI::Range(1, 1000));
  cases->add_option("--cursor", args->cursor, "next_cursor of the previous page");
  AddHttpFlags(cases, &args->http);
  cases->footer("Prints one CaseList JSON line; pass its next_cursor as --cursor for the next page. "
                "Exit 0 on success, 1 if the API answers an error, 2 on usage or connection errors.");
  cases->callback([args, exit_code] { *exit_code = RunCases(*args); });
}

}  // namespace yilian::cli
