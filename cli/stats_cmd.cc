// `yilian stats [--window S]`: the CLI mirror of GET /api/v1/stats
// (docs/http-api.md).
#include "cli/commands.h"
#include "cli/http_api.h"

namespace yilian::cli {
namespace {

struct StatsArgs {
  HttpFlags http;
  std::int64_t window_s = 0;
};

}  // namespace

void AddStatsCommand(CLI::App& app, int* exit_code) {
  auto args = std::make_shared<StatsArgs>();
  CLI::App* cmd = app.add_subcommand("stats", "case counts, completion rate and per-agency times as JSON (GET /api/v1/stats)");
  cmd->add_option("--window", args->window_s,
                  "seconds the time-to-completion figures cover (default: the broker's tracking.stats_window_s)")
      ->check(CLI::Range(std::int64_t{60}, std::int64_t{31536000}));
  AddHttpFlags(cmd, &args->http);
  cmd->footer("Exit 0 with the Stats on one JSON line; 1 if the API answers an error; 2 on usage or connection errors.");
  cmd->callback([args, exit_code] {
    std::vector<std::pair<std::string, std::string>> query;
    if (args->window_s > 0) query.emplace_back("window", std::to_string(args->window_s));
    *exit_code = GetAndPrint("stats", args->http, "/api/v1/stats", query);
  });
}

}  // namespace yilian::cli
