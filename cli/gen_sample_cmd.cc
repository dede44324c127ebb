// `yilian gen-sample`: prints realistic sample events as JSON Lines.
#include <iostream>
#include <sstream>

#include "cli/commands.h"
#include "cli/io.h"
#include "cli/sample.h"

namespace yilian::cli {

void AddGenSampleCommand(CLI::App& app, int* exit_code) {
  auto o = std::make_shared<sample::SampleOptions>();
  auto banks = std::make_shared<std::string>("ICBC,CCB");
  CLI::App* cmd = app.add_subcommand("gen-sample", "print realistic sample events (JSON Lines) for demos and tests");
  cmd->add_option("--seed", o->seed, "random seed; the same seed gives the same events")->capture_default_str();
  cmd->add_option("--enterprises", o->enterprises, "number of enterprises")
      ->capture_default_str()
      ->check(CLI::Range(1, 10'000'000));
  cmd->add_option("--events-per-enterprise", o->events_per_enterprise, "events per enterprise (first: ESTABLISHED)")
      ->capture_default_str()
      ->check(CLI::Range(1, 1000));
  cmd->add_option("--deregister-fraction", o->deregister_fraction, "fraction of enterprises deregistered at the end")
      ->capture_default_str()
      ->check(CLI::Range(0.0, 1.0));
  cmd->add_option("--banks", *banks, "comma-separated bank codes for account reservations")->capture_default_str();
  cmd->add_option("--id-prefix", o->id_prefix, "prefix of event ids")->capture_default_str();
  cmd->add_option("--target-bytes", o->target_bytes,
                  "pad each event's business scope to about this encoded size (0: no padding; at most " +
                      std::to_string(sample::kMaxTargetBytes) + ", as the scope is limited to 4096 bytes)")
      ->capture_default_str()
      ->check(CLI::Range(0, sample::kMaxTargetBytes));
  cmd->callback([o, banks, exit_code] {
    o->banks.clear();
    std::stringstream ss(*banks);
    std::string code;
    while (std::getline(ss, code, ','))
      if (!code.empty()) o->banks.push_back(code);
    for (const auto& e : sample::Generate(*o)) std::cout << ToJsonLine(e) << "\n";
    std::cout.flush();
    *exit_code = std::cout ? 0 : 2;
  });
}

}  // namespace yilian::cli
