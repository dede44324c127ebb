// The bank plugin: BankRecord through the configured sink, for the bank of
// the agency id ("bank:ICBC" serves ICBC). Configuration: the sink.* keys,
// and bank_code (defaults to the code in the agency id; if set, it must
// agree with it).
#include "plugins/bank/bank_mapping.h"

namespace {

using yilian::Result;
using yilian::Status;

Result<std::unique_ptr<yilian::plugin::Plugin>> CreateBank(const yilian::plugin::PluginContext& context) {
  yilian::agencies::AgencyPluginSpec spec;
  spec.plugin_name = "bank";
  spec.agency_expected = "bank:<code>";
  spec.agency_ok = [](const std::string& agency) {
    return agency.rfind("bank:", 0) == 0 && agency.size() > 5 && agency.find('*') == std::string::npos;
  };
  spec.extra_keys.push_back(yilian::plugin::ConfigKey{
      "bank_code", "", false, "the code in the agency id",
      "this adapter's bank, e.g. ICBC (default: the code after 'bank:' in --agency)", nullptr});
  spec.make_mapper = [](const std::string& agency,
                        const yilian::plugin::ConfigValues& config) -> Result<yilian::agencies::Mapper> {
    std::string code = agency.substr(5);
    if (config.IsSet("bank_code") && config.Get("bank_code") != code)
      return Status::InvalidArgument("plugin.bank_code: '" + config.Get("bank_code") + "' does not match agency '" +
                                     agency + "'");
    return yilian::agencies::Mapper(
        [code](const yilian::plugin::Delivery& d) { return yilian::agencies::bank::Map(code, d); });
  };
  return yilian::agencies::MakeAgencyPlugin(spec, context);
}

}  // namespace

YILIAN_DEFINE_PLUGIN("bank", "1.0.0", &CreateBank)
