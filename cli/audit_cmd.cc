// `yilian audit verify (--data-dir DIR | --postgresql CONNINFO) [--audit-key
// KEY [--anchor-file F]]`: checks the store's SM3-chained audit trail and
// compares every delivery's and case's state with the state the trail says
// it reached (docs/storage.md section 6), through a read-only CaseReader on
// the SQLite store of the data directory or on the PostgreSQL store, so it
// may run beside a live broker or on a copy of its store. With the audit
// key it also checks the signed chain heads of the anchor file
// (yilian/audit/anchor.h), which a rewrite of the database cannot forge.
#include <sys/stat.h>

#include <fstream>
#include <iostream>

#include "cli/commands.h"
#include "cli/io.h"
#include "common/clock.h"
#include "yilian/audit/anchor.h"
#include "yilian/store/case_reader.h"

namespace yilian::cli {
namespace {

constexpr int kMaxProblems = 100;

struct AuditVerifyArgs {
  std::string data_dir;
  std::string postgresql;  // libpq connection string, instead of data_dir
  std::string audit_key;
  std::string anchor_file;
  std::string archive_dir;  // "": data_dir/archive if it exists
};

// The anchors of `path` whose signature verifies, as points the chain must
// hold; `problems` gets every line that is not one. False (with *error) if
// the file cannot be read.
bool ReadAnchors(const std::string& path, const audit::AnchorKey& key, std::vector<store::AuditAnchorPoint>* anchors,
                 std::vector<std::string>* problems, std::string* error) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    *error = "cannot read the anchor file '" + path + "'";
    return false;
  }
  std::string line;
  for (std::size_t number = 1; std::getline(in, line); ++number) {
    const std::string where = "anchor file line " + std::to_string(number);
    if (in.eof()) {
      // No line end: cut short by a crash while it was written. It vouches
      // for nothing either way.
      std::cerr << "yilian audit verify: note: " << where << " is incomplete (no line end); ignored\n";
      break;
    }
    auto anchor = audit::ParseAnchorLine(line);
    if (!anchor.ok()) {
      problems->push_back(where + ": not an anchor line: " + anchor.status().message());
      continue;
    }
    if (!key.Verifies(anchor.value())) {
      problems->push_back(where + ": its signature does not verify (forged, altered, or signed with another key)");
      continue;
    }
    anchors->push_back({anchor->id, anchor->hash, where + " (" + FormatRfc3339Utc(anchor->at) + ")"});
  }
  if (in.bad()) {
    *error = "cannot read the anchor file '" + path + "'";
    return false;
  }
  return true;
}

int RunAuditVerify(const AuditVerifyArgs& args) {
  if (args.data_dir.empty() == args.postgresql.empty()) {
    std::cerr << "yilian audit verify: give the store: --data-dir (SQLite) or --postgresql (a libpq connection "
                 "string), one of them\n";
    return 2;
  }
  if (!args.postgresql.empty() && !args.audit_key.empty() && args.anchor_file.empty()) {
    std::cerr << "yilian audit verify: --audit-key with --postgresql needs --anchor-file (the broker's "
                 "audit.anchor_file, by default audit-anchors.log in the parent of its data_dir)\n";
    return 2;
  }
  if (!args.anchor_file.empty() && args.audit_key.empty()) {
    std::cerr << "yilian audit verify: --anchor-file needs --audit-key (the key the anchors are signed with)\n";
    return 2;
  }
  std::vector<store::AuditAnchorPoint> anchors;
  std::vector<std::string> anchor_problems;
  const bool anchored = !args.audit_key.empty();
  if (anchored) {
    auto key = audit::AnchorKey::LoadKeyFile(args.audit_key);
    if (!key.ok()) {
      std::cerr << "yilian audit verify: " << key.status().message() << "\n";
      return 2;
    }
    const std::string path = args.anchor_file.empty() ? audit::DefaultAnchorFile(args.data_dir) : args.anchor_file;
    std::string error;
    if (!ReadAnchors(path, key.value(), &anchors, &anchor_problems, &error)) {
      std::cerr << "yilian audit verify: " << error << "\n";
      return 2;
    }
  }
  auto reader = args.postgresql.empty() ? store::CaseReader::Open(args.data_dir)
                                        : store::CaseReader::OpenPostgres(args.postgresql);
  if (!reader.ok()) {
    std::cerr << "yilian audit verify: " << reader.status().message() << "\n";
    return 2;
  }
  // The archive files: --archive-dir, or data_dir/archive when it exists.
  std::string archive_dir = args.archive_dir;
  if (archive_dir.empty() && !args.data_dir.empty()) {
    struct stat st {};
    if (::stat((args.data_dir + "/archive").c_str(), &st) == 0 && S_ISDIR(st.st_mode))
      archive_dir = args.data_dir + "/archive";
  }
  auto verified = reader.value()->VerifyAudit(anchors, archive_dir);
  if (!verified.ok()) {
    std::cerr << "yilian audit verify: " << verified.status().message() << "\n";
    return 2;
  }
  v1::AuditVerifyReport report = std::move(verified).value();
  if (anchored) {
    report.set_anchors_checked(true);
    report.set_anchors(anchors.size());
    if (anchors.empty() && report.records() > 0)
      anchor_problems.push_back(
          "the anchor file holds no valid anchor: nothing outside the database vouches for the chain");
    for (auto& p : anchor_problems)
      if (report.problems_size() < kMaxProblems) report.add_problems(std::move(p));
    report.set_intact(report.problems_size() == 0 && report.mismatches_size() == 0);
  }
  std::cout << ToJsonLine(report, /*all_fields=*/true) << std::endl;
  if (!std::cout) return 2;
  if (!report.archives_checked() && report.archived_records() > 0) {
    std::cerr << "yilian audit verify: note: records 1 to " << report.archived_records()
              << " are in archive files, which were not read (--archive-dir): the chain was checked from the "
                 "archived head on\n";
  }
  if (!anchored) {
    std::cerr << "yilian audit verify: note: no anchors checked (--audit-key): the chain alone cannot detect a "
                 "consistent rewrite of the database (records edited or removed and every hash recomputed)\n";
  } else if (report.unanchored_records() > 0) {
    std::cerr << "yilian audit verify: note: the last " << report.unanchored_records()
              << " record(s) come after the newest anchor (record " << report.anchored_id()
              << "): no anchor vouches for them yet\n";
  }
  if (report.intact()) return 0;
  std::cerr << "yilian audit verify: the audit trail is NOT intact (" << report.problems_size() << " problem(s)"
            << (report.problems_size() >= kMaxProblems ? ", the first " + std::to_string(kMaxProblems) + " listed" : "")
            << ", " << report.mismatches_size() << " state mismatch(es))\n";
  return 1;
}

}  // namespace

void AddAuditCommand(CLI::App& app, int* exit_code) {
  CLI::App* group = app.add_subcommand("audit", "the store's tamper-evident audit trail");
  group->require_subcommand(1);
  auto args = std::make_shared<AuditVerifyArgs>();
  CLI::App* verify = group->add_subcommand(
      "verify", "check the SM3 hash chain, the recorded head, the signed anchors and every row's state");
  CLI::Option* data_dir =
      verify->add_option("--data-dir", args->data_dir, "the broker's data directory (holding yilian.db)");
  CLI::Option* postgresql = verify->add_option(
      "--postgresql", args->postgresql,
      "instead of --data-dir: the PostgreSQL store (store.backend postgresql), as a libpq connection string "
      "(store.postgresql.conninfo)");
  data_dir->excludes(postgresql);
  postgresql->excludes(data_dir);
  verify->add_option("--audit-key", args->audit_key,
                     "the broker's security.audit_key_file: check the chain against the signed anchors");
  verify->add_option("--archive-dir", args->archive_dir,
                     "the broker's archive files (store.archive_dir; default: archive in --data-dir, if it exists): "
                     "checked as one chain with the live store");
  verify->add_option("--anchor-file", args->anchor_file,
                     "the anchors to check (default: audit-anchors.log in the parent of --data-dir)");
  verify->footer(
      "Opens the store read-only (--data-dir or --postgresql, one of them) and prints an AuditVerifyReport JSON "
      "line. Exit 0 if the trail is intact and "
      "every delivery and case is in the state the trail says; 1 if a record was edited, removed, reordered or "
      "added, an anchor is forged or no longer in the chain, or a row's state differs; 2 if the store, the key or "
      "the anchor file cannot be read. An archive file the store registered that is missing or changed is a problem. Without --audit-key a consistent rewrite of the whole chain is not "
      "detected.");
  verify->callback([args, exit_code] { *exit_code = RunAuditVerify(*args); });
}

}  // namespace yilian::cli
