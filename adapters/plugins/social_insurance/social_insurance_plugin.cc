// The social insurance plugin: SocialInsuranceRecord through the configured
// sink. Configuration: the sink.* keys only (docs/plugins.md).
#include "plugins/social_insurance/social_insurance_mapping.h"

namespace {

yilian::Result<std::unique_ptr<yilian::plugin::Plugin>> CreateSocialInsurance(
    const yilian::plugin::PluginContext& context) {
  yilian::agencies::AgencyPluginSpec spec;
  spec.plugin_name = "social_insurance";
  spec.agency_expected = "social_insurance";
  spec.agency_ok = [](const std::string& agency) { return agency == "social_insurance"; };
  spec.make_mapper = [](const std::string&,
                        const yilian::plugin::ConfigValues&) -> yilian::Result<yilian::agencies::Mapper> {
    return yilian::agencies::Mapper(&yilian::agencies::social_insurance::Map);
  };
  return yilian::agencies::MakeAgencyPlugin(spec, context);
}

}  // namespace

YILIAN_DEFINE_PLUGIN("social_insurance", "1.0.0", &CreateSocialInsurance)
