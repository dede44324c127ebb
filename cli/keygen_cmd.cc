// `yilian keygen NAME`: writes a CURVE key pair (NAME.key, mode 0600, and
// NAME.pub) and prints the public key.
#include <iostream>

#include "auth/keys.h"
#include "cli/commands.h"

namespace yilian::cli {

void AddKeygenCommand(CLI::App& app, int* exit_code) {
  auto name = std::make_shared<std::string>();
  auto dir = std::make_shared<std::string>(".");
  CLI::App* cmd = app.add_subcommand("keygen", "write a CURVE key pair NAME.key (secret, 0600) and NAME.pub");
  cmd->add_option("NAME", *name, "file name stem, e.g. broker or tax-adapter-1")->required();
  cmd->add_option("--dir", *dir, "directory to write to")->capture_default_str();
  cmd->footer("Prints the public key; list it in the broker's keys file with an identity and a role.");
  cmd->callback([name, dir, exit_code] {
    if (name->empty() || name->find('/') != std::string::npos) {
      std::cerr << "yilian keygen: NAME must be a plain file name\n";
      *exit_code = 2;
      return;
    }
    auto pair = auth::GenerateKeyPair();
    Status s = pair.ok() ? auth::WriteKeyPair(*dir, *name, pair.value()) : pair.status();
    if (!s.ok()) {
      std::cerr << "yilian keygen: " << s.message() << "\n";
      *exit_code = 2;
      return;
    }
    std::cout << pair.value().public_key << "\n";
    *exit_code = 0;
  });
}

}  // namespace yilian::cli
