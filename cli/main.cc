// yilian: command-line tool for the yilian broker.
#include <CLI/CLI.hpp>

#include "cli/commands.h"

int main(int argc, char** argv) {
  CLI::App app{"yilian: tools for the yilian enterprise-registration broker"};
  app.require_subcommand(1);
  int exit_code = 0;
  yilian::cli::AddValidateCommand(app, &exit_code);
  yilian::cli::AddPublishCommand(app, &exit_code);
  yilian::cli::AddConsumeCommand(app, &exit_code);
  yilian::cli::AddGenSampleCommand(app, &exit_code);
  yilian::cli::AddWatchCommand(app, &exit_code);
  yilian::cli::AddCaseCommands(app, &exit_code);
  yilian::cli::AddEnterpriseCommand(app, &exit_code);
  yilian::cli::AddStatsCommand(app, &exit_code);
  yilian::cli::AddRekeyCommand(app, &exit_code);
  yilian::cli::AddArchiveCommand(app, &exit_code);
  yilian::cli::AddAuditCommand(app, &exit_code);
  yilian::cli::AddKeygenCommand(app, &exit_code);
  yilian::cli::AddBackupCommands(app, &exit_code);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int rc = app.exit(e);
    return rc == 0 ? 0 : 2;
  }
  return exit_code;
}
