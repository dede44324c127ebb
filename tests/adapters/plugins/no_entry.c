/* A plugin that forgot its entry symbol: the host must refuse it at load. */
#include "yilian/adapter_plugin.h"

YILIAN_PLUGIN_EXPORT uint32_t yilian_plugin_abi_version(void) { return YILIAN_PLUGIN_ABI_VERSION; }
