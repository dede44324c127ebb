// The tax plugin: TaxRecord through the configured sink. Configuration:
// the sink.* keys only (docs/plugins.md).
#include "plugins/tax/tax_mapping.h"

namespace {

yilian::Result<std::unique_ptr<yilian::plugin::Plugin>> CreateTax(const yilian::plugin::PluginContext& context) {
  yilian::agencies::AgencyPluginSpec spec;
  spec.plugin_name = "tax";
  spec.agency_expected = "tax";
  spec.agency_ok = [](const std::string& agency) { return agency == "tax"; };
  spec.make_mapper = [](const std::string&,
                        const yilian::plugin::ConfigValues&) -> yilian::Result<yilian::agencies::Mapper> {
    return yilian::agencies::Mapper(&yilian::agencies::tax::Map);
  };
  return yilian::agencies::MakeAgencyPlugin(spec, context);
}

}  // namespace

YILIAN_DEFINE_PLUGIN("tax", "1.0.0", &CreateTax)
