// PluginLibrary: finds and loads an agency plugin (a shared object) and
// checks it against the ABI before anything else of it runs: the file must
// exist, export both symbols, and report the host's ABI version. Each
// failure is a Status with a clear message, never a crash:
//   kNotFound            no file by that name or path
//   kFailedPrecondition  not loadable, a missing symbol, a wrong ABI version
//
// Ownership: the library stays loaded while the PluginLibrary lives; every
// instance created from api() must be destroyed first.
// Threads: Load and the destructor from one thread.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "common/status.h"
#include "yilian/adapter_plugin.h"

namespace yilian::host {

// The file for --plugin: a PATH (contains '/' or ends in ".so") is taken as
// is; a NAME is looked for as yilian_plugin_<NAME>.so in `search_dirs`, in order.
Result<std::string> ResolvePlugin(const std::string& name_or_path, const std::vector<std::string>& search_dirs);

// The directories searched for a plugin NAME: --plugin-dir (if given), the
// host's own directory, and <libdir>/yilian/plugins of its install prefix.
std::vector<std::string> PluginSearchDirs(const std::string& plugin_dir);

class PluginLibrary {
 public:
  static Result<std::unique_ptr<PluginLibrary>> Load(const std::string& path);
  ~PluginLibrary();
  PluginLibrary(const PluginLibrary&) = delete;
  PluginLibrary& operator=(const PluginLibrary&) = delete;

  const yilian_plugin_api& api() const { return *api_; }
  const std::string& path() const { return path_; }

 private:
  PluginLibrary(void* handle, const yilian_plugin_api* api, std::string path)
      : handle_(handle), api_(api), path_(std::move(path)) {}
  void* handle_;
  const yilian_plugin_api* api_;
  std::string path_;
};

}  // namespace yilian::host
