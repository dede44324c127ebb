// Exit codes of yilian-adapter, part of its contract (docs/plugins.md):
// a supervisor can tell a configuration mistake from a crash.
#pragma once

namespace yilian::host {

inline constexpr int kExitOk = 0;
inline constexpr int kExitUsage = 2;           // bad flags or config file
inline constexpr int kExitPluginNotFound = 3;  // no plugin file by that name or path
inline constexpr int kExitPluginInvalid = 4;   // not loadable, missing symbol, wrong ABI version
inline constexpr int kExitPluginRefused = 5;   // the plugin's create failed (its configuration, its agency)
inline constexpr int kExitState = 6;           // state directory or journal unusable

}  // namespace yilian::host
