// The housing fund plugin: HousingFundRecord through the configured sink.
// Configuration: the sink.* keys only (docs/plugins.md).
#include "plugins/housing_fund/housing_fund_mapping.h"

namespace {

yilian::Result<std::unique_ptr<yilian::plugin::Plugin>> CreateHousingFund(
    const yilian::plugin::PluginContext& context) {
  yilian::agencies::AgencyPluginSpec spec;
  spec.plugin_name = "housing_fund";
  spec.agency_expected = "housing_fund";
  spec.agency_ok = [](const std::string& agency) { return agency == "housing_fund"; };
  spec.make_mapper = [](const std::string&,
                        const yilian::plugin::ConfigValues&) -> yilian::Result<yilian::agencies::Mapper> {
    return yilian::agencies::Mapper(&yilian::agencies::housing_fund::Map);
  };
  return yilian::agencies::MakeAgencyPlugin(spec, context);
}

}  // namespace

YILIAN_DEFINE_PLUGIN("housing_fund", "1.0.0", &CreateHousingFund)
