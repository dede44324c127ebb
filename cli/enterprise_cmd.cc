// `yilian enterprise show USCC`: the CLI mirror of
// GET /api/v1/enterprises/{uscc} (docs/http-api.md).
#include "cli/commands.h"
#include "cli/http_api.h"

namespace yilian::cli {
namespace {

struct EnterpriseShowArgs {
  HttpFlags http;
  std::string uscc;
};

}  // namespace

void AddEnterpriseCommand(CLI::App& app, int* exit_code) {
  CLI::App* group = app.add_subcommand("enterprise", "an enterprise's events and agency references from the HTTP API");
  group->require_subcommand(1);
  auto args = std::make_shared<EnterpriseShowArgs>();
  CLI::App* show = group->add_subcommand(
      "show", "print the enterprise's timeline (every case, oldest first) as JSON (GET /api/v1/enterprises/{uscc})");
  show->add_option("USCC", args->uscc, "unified social credit code (18 characters)")->required();
  AddHttpFlags(show, &args->http);
  show->footer("Exit 0 with the timeline on one JSON line; 1 if the API answers an error (e.g. 404: no events for "
               "the enterprise); 2 on usage errors or when the broker cannot be reached.");
  show->callback([args, exit_code] {
    *exit_code = GetAndPrint("enterprise show", args->http, "/api/v1/enterprises/" + UrlEncode(args->uscc));
  });
}

}  // namespace yilian::cli
