#include "client/watcher.h"

namespace yilian::client {

Watcher::Watcher(zmq::context_t& context, ClientOptions options)
    : connection_(context, [&] {
        options.role = v1::WATCHER;
        return options;
      }()) {}

std::optional<v1::CaseUpdate> Watcher::Receive(int timeout_ms) {
  auto env = connection_.Poll(timeout_ms);
  while (env && !env->has_case_update()) env = connection_.Poll(0);
  if (!env) return std::nullopt;
  return std::move(*env->mutable_case_update());
}

bool Watcher::Acknowledge(std::uint64_t update_id) {
  v1::Envelope env;
  env.mutable_update_ack()->set_update_id(update_id);
  return connection_.Send(env);
}

}  // namespace yilian::client
