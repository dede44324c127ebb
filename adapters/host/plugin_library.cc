#include "host/plugin_library.h"

#include <dlfcn.h>
#include <limits.h>
#include <unistd.h>

#include <filesystem>

namespace yilian::host {
namespace {

bool IsPath(const std::string& s) {
  return s.find('/') != std::string::npos || (s.size() > 3 && s.compare(s.size() - 3, 3, ".so") == 0);
}

std::string OwnDirectory() {
  char buf[PATH_MAX];
  ssize_t n = ::readlink("/proc/self/exe", buf, sizeof buf - 1);
  if (n <= 0) return ".";
  buf[n] = '\0';
  return std::filesystem::path(buf).parent_path().string();
}

std::string DlError() {
  const char* e = dlerror();
  return e ? e : "unknown dynamic loader error";
}

}  // namespace

std::vector<std::string> PluginSearchDirs(const std::string& plugin_dir) {
  std::vector<std::string> dirs;
  if (!plugin_dir.empty()) dirs.push_back(plugin_dir);
  std::string own = OwnDirectory();
  dirs.push_back(own);
  // Installed: bin/yilian-adapter and <libdir>/yilian/plugins/ under one prefix.
  dirs.push_back((std::filesystem::path(own) / ".." / YILIAN_PLUGIN_INSTALL_RELDIR).lexically_normal().string());
  return dirs;
}

Result<std::string> ResolvePlugin(const std::string& name_or_path, const std::vector<std::string>& search_dirs) {
  std::error_code ec;
  if (IsPath(name_or_path)) {
    if (!std::filesystem::is_regular_file(name_or_path, ec))
      return Status::NotFound("plugin file '" + name_or_path + "' does not exist");
    return name_or_path;
  }
  std::string file = "yilian_plugin_" + name_or_path + ".so";
  std::string tried;
  for (const auto& dir : search_dirs) {
    auto candidate = std::filesystem::path(dir) / file;
    if (std::filesystem::is_regular_file(candidate, ec)) return candidate.string();
    tried += (tried.empty() ? "" : ", ") + dir;
  }
  return Status::NotFound("plugin '" + name_or_path + "' not found: no " + file + " in " + tried);
}

Result<std::unique_ptr<PluginLibrary>> PluginLibrary::Load(const std::string& path) {
  dlerror();
  // RTLD_NOW: an unresolved symbol fails here, not in the middle of a call.
  // RTLD_LOCAL: plugins do not see each other's symbols.
  // RTLD_NODELETE: never unmapped, because protobuf keeps pointers into the
  // descriptors a plugin's libraries registered until the process ends.
  void* handle = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL | RTLD_NODELETE);
  if (!handle) return Status::FailedPrecondition("plugin '" + path + "' cannot be loaded: " + DlError());
  auto fail = [&](const std::string& why) -> Result<std::unique_ptr<PluginLibrary>> {
    dlclose(handle);
    return Status::FailedPrecondition("plugin '" + path + "': " + why);
  };
  dlerror();
  auto version_fn = reinterpret_cast<yilian_plugin_abi_version_fn>(dlsym(handle, YILIAN_PLUGIN_ABI_VERSION_SYMBOL));
  if (!version_fn) return fail("missing symbol " YILIAN_PLUGIN_ABI_VERSION_SYMBOL " (not a yilian plugin?)");
  std::uint32_t version = version_fn();
  if (version != YILIAN_PLUGIN_ABI_VERSION)
    return fail("plugin ABI version " + std::to_string(version) + ", this host speaks version " +
                std::to_string(YILIAN_PLUGIN_ABI_VERSION) + " (rebuild the plugin against this host's header)");
  auto entry_fn = reinterpret_cast<yilian_plugin_entry_fn>(dlsym(handle, YILIAN_PLUGIN_ENTRY_SYMBOL));
  if (!entry_fn) return fail("missing symbol " YILIAN_PLUGIN_ENTRY_SYMBOL);
  const yilian_plugin_api* api = entry_fn();
  if (!api) return fail(YILIAN_PLUGIN_ENTRY_SYMBOL "() returned no API");
  if (api->abi_version != YILIAN_PLUGIN_ABI_VERSION)
    return fail("API table has ABI version " + std::to_string(api->abi_version) + ", expected " +
                std::to_string(YILIAN_PLUGIN_ABI_VERSION));
  if (api->struct_size < sizeof(yilian_plugin_api))
    return fail("API table is " + std::to_string(api->struct_size) + " bytes, expected at least " +
                std::to_string(sizeof(yilian_plugin_api)));
  if (!api->create || !api->destroy || !api->submit || !api->check)
    return fail("API table lacks a function (create, destroy, submit and check are all required)");
  return std::unique_ptr<PluginLibrary>(new PluginLibrary(handle, api, path));
}

PluginLibrary::~PluginLibrary() {
  if (handle_) dlclose(handle_);
}

}  // namespace yilian::host
