#include "cli/broker_flags.h"

#include "auth/keys.h"

namespace yilian::cli {

void AddBrokerFlags(CLI::App* cmd, BrokerFlags* flags) {
  cmd->add_option("--broker", flags->broker,
                  "broker endpoint, or several separated by commas (an active broker and its standbys: the "
                  "client follows the active one)")->envname("YILIAN_BROKER")->capture_default_str();
  cmd->add_option("--server-key", flags->server_key,
                  "the broker's CURVE public key (Z85 text or a .pub file); needs --key")
      ->envname("YILIAN_SERVER_KEY");
  cmd->add_option("--key", flags->key_file, "this client's CURVE key pair file (from yilian keygen)")
      ->envname("YILIAN_KEY");
}

Status ApplyBrokerFlags(const BrokerFlags& flags, client::ClientOptions* options) {
  options->endpoint = flags.broker;
  if (flags.server_key.empty() && flags.key_file.empty()) return Status::Ok();
  if (flags.server_key.empty() || flags.key_file.empty())
    return Status::InvalidArgument("CURVE needs both --server-key and --key");
  auto server = auth::ReadPublicKey(flags.server_key);
  if (!server.ok()) return server.status();
  auto pair = auth::ReadKeyPair(flags.key_file);
  if (!pair.ok()) return pair.status();
  options->server_public_key = server.value();
  options->public_key = pair.value().public_key;
  options->secret_key = pair.value().secret_key;
  return Status::Ok();
}

}  // namespace yilian::cli
