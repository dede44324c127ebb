// `yilian audit verify --data-dir DIR`: checks the store's SM3-chained audit
// trail (docs/storage.md) through a read-only CaseReader, so it may run
// beside a live broker or on a copy of its data directory.
#include <iostream>

#include "cli/commands.h"
#include "cli/io.h"
#include "store/case_reader.h"

namespace yilian::cli {
namespace {

struct AuditVerifyArgs {
  std::string data_dir;
};

int RunAuditVerify(const AuditVerifyArgs& args) {
  auto reader = store::CaseReader::Open(args.data_dir);
  if (!reader.ok()) {
    std::cerr << "yilian audit verify: " << reader.status().message() << "\n";
    return 2;
  }
  auto report = reader.value()->VerifyAudit();
  if (!report.ok()) {
    std::cerr << "yilian audit verify: " << report.status().message() << "\n";
    return 2;
  }
  std::cout << ToJsonLine(report.value(), /*all_fields=*/true) << std::endl;
  if (!std::cout) return 2;
  if (report.value().intact()) return 0;
  std::cerr << "yilian audit verify: the audit trail is NOT intact (" << report.value().problems_size()
            << " problem(s))\n";
  return 1;
}

}  // namespace

void AddAuditCommand(CLI::App& app, int* exit_code) {
  CLI::App* group = app.add_subcommand("audit", "the store's tamper-evident audit trail");
  group->require_subcommand(1);
  auto args = std::make_shared<AuditVerifyArgs>();
  CLI::App* verify = group->add_subcommand("verify", "check every record's SM3 hash chain and the recorded chain head");
  verify->add_option("--data-dir", args->data_dir, "the broker's data directory (holding yilian.db)")->required();
  verify->footer("Opens the store read-only and prints an AuditVerifyReport JSON line. Exit 0 if the trail is "
                 "intact, 1 if a record was edited, removed, reordered or added, 2 if the store cannot be read.");
  verify->callback([args, exit_code] { *exit_code = RunAuditVerify(*args); });
}

}  // namespace yilian::cli
