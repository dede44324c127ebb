/* A plugin built against a future ABI: the host must refuse it at load. */
#include "yilian/adapter_plugin.h"

YILIAN_PLUGIN_EXPORT uint32_t yilian_plugin_abi_version(void) { return 99u; }

YILIAN_PLUGIN_EXPORT const yilian_plugin_api* yilian_plugin_entry(void) { return 0; }
