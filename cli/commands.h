// Subcommands of the `yilian` command-line tool. Each Add*Command registers
// its subcommand on the app; the callback runs it and stores its exit code in
// *exit_code (0 success, 1 the command's own failure, 2 usage or I/O error).
// Called from main() only.
#pragma once

#include <CLI/CLI.hpp>

namespace yilian::cli {

void AddValidateCommand(CLI::App& app, int* exit_code);
void AddPublishCommand(CLI::App& app, int* exit_code);
void AddConsumeCommand(CLI::App& app, int* exit_code);
void AddGenSampleCommand(CLI::App& app, int* exit_code);
void AddWatchCommand(CLI::App& app, int* exit_code);
void AddCaseCommands(CLI::App& app, int* exit_code);       // `case show`, `cases` (HTTP API)
void AddEnterpriseCommand(CLI::App& app, int* exit_code);  // `enterprise show` (HTTP API)
void AddStatsCommand(CLI::App& app, int* exit_code);       // `stats` (HTTP API)
void AddRekeyCommand(CLI::App& app, int* exit_code);       // `rekey` (HTTP API)
void AddArchiveCommand(CLI::App& app, int* exit_code);     // `archive` (HTTP API)
void AddAuditCommand(CLI::App& app, int* exit_code);       // `audit verify` (read-only store)
void AddKeygenCommand(CLI::App& app, int* exit_code);
void AddBackupCommands(CLI::App& app, int* exit_code);  // `backup`, `restore` (SQLite store files)

}  // namespace yilian::cli
