// CURVE key files for end-to-end tests of a secured broker: key pairs made
// with `yilian keygen`, the broker's keys file, and client options that use
// them. Header-only; used from the test thread.
#pragma once

#include <gtest/gtest.h>

#include <cstdio>
#include <string>
#include <vector>

#include "auth/keys.h"
#include "client/connection.h"
#include "testing/process.h"

namespace yilian::testing {

struct CurveKey {
  std::string name, public_key;  // the pair is in DIR/NAME.key
};

// `yilian keygen --dir DIR NAME`.
inline CurveKey Keygen(const std::string& dir, const std::string& name) {
  std::string out = dir + "/keygen-" + name + ".out";
  auto p = Process::Start({CliBinary(), "keygen", "--dir", dir, name}, out);
  int code = -1;
  EXPECT_TRUE(p->WaitExit(10000, &code));
  EXPECT_EQ(code, 0);
  auto lines = ReadLines(out);
  return CurveKey{name, lines.empty() ? "" : lines.back()};
}

struct KeyEntry {
  std::string identity, role;
  CurveKey key;
};

// Writes DIR/keys.yaml aside and renames it, so the broker never reads a
// half-written file.
inline void WriteKeysFile(const std::string& dir, const std::vector<KeyEntry>& entries) {
  std::string yaml = "keys:\n";
  for (const auto& e : entries)
    yaml +=
        "  - identity: " + e.identity + "\n    role: \"" + e.role + "\"\n    public: \"" + e.key.public_key + "\"\n";
  WriteFile(dir + "/keys.yaml.tmp", yaml);
  std::rename((dir + "/keys.yaml.tmp").c_str(), (dir + "/keys.yaml").c_str());
}

// Options of a client with `key`, talking to a broker whose pair is `server`.
inline client::ClientOptions CurveOptions(const std::string& dir, const std::string& endpoint, const CurveKey& server,
                                          const CurveKey& key) {
  client::ClientOptions o;
  o.endpoint = endpoint;
  o.server_public_key = server.public_key;
  auto pair = auth::ReadKeyPair(dir + "/" + key.name + ".key");
  EXPECT_TRUE(pair.ok()) << pair.status().message();
  if (pair.ok()) {
    o.public_key = pair.value().public_key;
    o.secret_key = pair.value().secret_key;
  }
  o.name = key.name;
  return o;
}

}  // namespace yilian::testing
