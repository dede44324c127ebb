// The flags every broker-connecting command shares: the endpoint and the
// CURVE keys (also from YILIAN_BROKER, YILIAN_SERVER_KEY, YILIAN_KEY).
// Called from main() only.
#pragma once

#include <string>

#include <CLI/CLI.hpp>

#include "client/connection.h"
#include "common/status.h"

namespace yilian::cli {

struct BrokerFlags {
  std::string broker = "tcp://127.0.0.1:7700";
  std::string server_key;  // Z85 public key or a file with "public: ..."
  std::string key_file;    // this client's key pair file (yilian keygen)
};

void AddBrokerFlags(CLI::App* cmd, BrokerFlags* flags);

// Fills the endpoint and CURVE keys of `options`; a clear error if a key
// file is missing, malformed or too open.
Status ApplyBrokerFlags(const BrokerFlags& flags, client::ClientOptions* options);

}  // namespace yilian::cli
