// A C++ plugin on the plugin SDK whose code throws: the glue must turn
// every exception into a result or a create error, never let it unwind
// into the host.
#include <stdexcept>

#include "plugin_sdk/plugin.h"

namespace {

class Throwing final : public yilian::plugin::Plugin {
 public:
  yilian::plugin::Answer Submit(const yilian::plugin::Delivery& d) override {
    if (d.event_id == "throw-std") throw std::runtime_error("agency client exploded");
    if (d.event_id == "throw-int") throw 7;
    return yilian::plugin::Answer::Processed("OK " + d.event->enterprise().name());
  }
  yilian::plugin::Answer Check(const yilian::plugin::Delivery&) override { throw std::logic_error("check is broken"); }
};

yilian::Result<std::unique_ptr<yilian::plugin::Plugin>> Create(const yilian::plugin::PluginContext& context) {
  for (const auto& [key, value] : context.config) {
    if (key == "throw") throw std::runtime_error("boom in create");
    if (key == "refuse") return yilian::Status::InvalidArgument("plugin.refuse: refused on purpose");
  }
  return std::unique_ptr<yilian::plugin::Plugin>(new Throwing());
}

}  // namespace

YILIAN_DEFINE_PLUGIN("throwing", "0.0.1", &Create)
