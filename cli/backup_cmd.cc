// `yilian backup --to FILE (--data-dir DIR | --config FILE)` and `yilian
// restore --from FILE --data-dir DIR`: a consistent copy of the SQLite store
// beside a running broker, and that copy put back as a new data directory's
// store (yilian/store/backup.h; docs/operations.md section 6). The
// PostgreSQL store is backed up with PostgreSQL's own tools; both commands
// refuse it with that advice.
#include <iostream>

#include "broker/config/config.h"
#include "cli/commands.h"
#include "yilian/store/backup.h"

namespace yilian::cli {
namespace {

struct BackupArgs {
  std::string to;
  std::string data_dir;
  std::string config;
};

struct RestoreArgs {
  std::string from;
  std::string data_dir;
};

// 2 for what the operator must fix (usage, a file in the way, a running
// broker), 1 when the store or the backup file is bad.
int ExitCode(const Status& s) {
  switch (s.code()) {
    case StatusCode::kCorruption:
    case StatusCode::kFailedPrecondition: return 1;
    default: return 2;
  }
}

void PrintSummary(const char* verb, const std::string& file, const store::StoreFileSummary& s) {
  std::cout << verb << " '" << file << "': schema_version=" << s.schema_version << " events=" << s.events
            << " deliveries=" << s.deliveries << " unsettled=" << s.unsettled
            << " audit_head_id=" << s.audit_head_id << " bytes=" << s.bytes << " integrity=ok" << std::endl;
}

int RunBackup(const BackupArgs& args) {
  std::string data_dir = args.data_dir;
  if (!args.config.empty()) {
    auto config = config::LoadConfigFile(args.config);
    if (!config.ok()) {
      std::cerr << "yilian backup: " << config.status().message() << "\n";
      return 2;
    }
    if (config.value().store_backend != "sqlite") {
      std::cerr << "yilian backup: '" << args.config << "' puts the store on PostgreSQL (store.backend "
                << config.value().store_backend
                << "): back it up with pg_dump or pg_basebackup (docs/operations.md, section 6)\n";
      return 2;
    }
    if (data_dir.empty()) data_dir = config.value().data_dir;
  }
  if (data_dir.empty()) {
    std::cerr << "yilian backup: give the store: --data-dir DIR or --config FILE (the broker's)\n";
    return 2;
  }
  auto summary = store::BackupSqlite(data_dir, args.to);
  if (!summary.ok()) {
    std::cerr << "yilian backup: " << summary.status().message() << "\n";
    return ExitCode(summary.status());
  }
  PrintSummary("backup written to", args.to, summary.value());
  return 0;
}

int RunRestore(const RestoreArgs& args) {
  auto summary = store::RestoreSqlite(args.from, args.data_dir);
  if (!summary.ok()) {
    std::cerr << "yilian restore: " << summary.status().message() << "\n";
    return ExitCode(summary.status());
  }
  PrintSummary("restored into", args.data_dir + "/yilian.db", summary.value());
  return 0;
}

}  // namespace

void AddBackupCommands(CLI::App& app, int* exit_code) {
  auto backup_args = std::make_shared<BackupArgs>();
  CLI::App* backup = app.add_subcommand("backup", "copy the SQLite store to a file, also while the broker runs");
  backup->add_option("--to", backup_args->to, "the backup file to write (must not exist)")->required();
  backup->add_option("--data-dir", backup_args->data_dir, "the broker's data directory (holding yilian.db)");
  backup->add_option("--config", backup_args->config,
                     "the broker's configuration file: its data_dir (--data-dir overrides it, as for yilian-broker)");
  backup->footer(
      "Copies the store as of one commit with SQLite's online backup API: the broker goes on accepting and "
      "delivering meanwhile. FILE is written mode 0600 under a temporary name beside it, checked "
      "(PRAGMA integrity_check, schema version), fsynced and then renamed; an existing FILE is never "
      "overwritten. Prints what was copied: schema version, events, deliveries, unsettled deliveries, the id of "
      "the last audit record. Only the store: copy the audit anchor file, keys and the archive directory as files "
      "(docs/operations.md section 6). Exit 0 on success, 1 if the copy does not check, 2 for anything the "
      "operator must fix (no store, FILE exists, PostgreSQL store).");
  backup->callback([backup_args, exit_code] { *exit_code = RunBackup(*backup_args); });

  auto restore_args = std::make_shared<RestoreArgs>();
  CLI::App* restore =
      app.add_subcommand("restore", "put a backup back as the store of a new data directory (broker stopped)");
  restore->add_option("--from", restore_args->from, "the backup file (from yilian backup)")->required();
  restore->add_option("--data-dir", restore_args->data_dir, "the data directory to create the store in")
      ->required();
  restore->footer(
      "Checks FILE (an SQLite database, intact, a yilian store of a schema version this yilian knows), then "
      "writes it as DIR/yilian.db (mode 0600; DIR is created 0700) and fsyncs it. Refuses a DIR that already "
      "holds a store and a DIR whose broker runs (its LOCK is held); holds that lock while it writes. The broker "
      "started on DIR migrates an older schema and redelivers what was unsettled. Exit 0 on success, 1 if FILE "
      "is damaged or too new, 2 for anything the operator must fix (no such file, not a yilian store, DIR in use "
      "or not empty).");
  restore->callback([restore_args, exit_code] { *exit_code = RunRestore(*restore_args); });
}

}  // namespace yilian::cli
