#include "harness/proc_stats.h"

#include <dirent.h>
#include <sys/resource.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <iterator>
#include <map>
#include <sstream>
#include <string>
#include <vector>

namespace yilian::bench {
namespace {

double StatusKb(pid_t pid, const std::string& key) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(in, line))
    if (line.rfind(key + ":", 0) == 0) return std::stod(line.substr(key.size() + 1));
  return -1;
}

// Fields 3 (state) to 17 (cstime) of /proc/<pid>/stat, or none if the
// process does not exist. Field n is at index n - 3: ppid 4, utime 14,
// stime 15, cutime 16, cstime 17.
std::vector<std::string> StatFields(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string s((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  auto close = s.rfind(')');
  if (close == std::string::npos || close + 2 > s.size()) return {};
  std::istringstream rest(s.substr(close + 2));
  std::vector<std::string> fields;
  std::string field;
  for (int i = 3; i <= 17 && rest >> field; ++i) fields.push_back(field);
  if (fields.size() != 15) return {};
  return fields;
}

double Field(const std::vector<std::string>& f, int n) { return std::strtod(f[n - 3].c_str(), nullptr); }

}  // namespace

double ProcessCpuSeconds(pid_t pid) {
  auto f = StatFields(pid);
  if (f.empty()) return -1;
  return (Field(f, 14) + Field(f, 15)) / static_cast<double>(sysconf(_SC_CLK_TCK));
}

double TreeCpuSeconds(pid_t root) {
  // Every process's parent, from one pass over /proc.
  std::multimap<pid_t, pid_t> children;
  std::map<pid_t, std::vector<std::string>> stats;
  if (DIR* d = opendir("/proc")) {
    while (dirent* e = readdir(d)) {
      char* end = nullptr;
      long pid = std::strtol(e->d_name, &end, 10);
      if (pid <= 0 || *end != '\0') continue;
      auto f = StatFields(static_cast<pid_t>(pid));
      if (f.empty()) continue;
      children.emplace(static_cast<pid_t>(Field(f, 4)), static_cast<pid_t>(pid));
      stats.emplace(static_cast<pid_t>(pid), std::move(f));
    }
    closedir(d);
  }
  if (stats.find(root) == stats.end()) return -1;
  double ticks = 0;
  std::vector<pid_t> todo = {root};
  while (!todo.empty()) {
    pid_t p = todo.back();
    todo.pop_back();
    const auto& f = stats[p];
    ticks += Field(f, 14) + Field(f, 15) + Field(f, 16) + Field(f, 17);
    auto [lo, hi] = children.equal_range(p);
    for (auto it = lo; it != hi; ++it)
      if (stats.count(it->second)) todo.push_back(it->second);
  }
  return ticks / static_cast<double>(sysconf(_SC_CLK_TCK));
}

double SelfCpuSeconds() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  auto secs = [](const timeval& t) { return static_cast<double>(t.tv_sec) + t.tv_usec / 1e6; };
  return secs(u.ru_utime) + secs(u.ru_stime);
}

double ResidentMb(pid_t pid) {
  double kb = StatusKb(pid, "VmRSS");
  return kb < 0 ? -1 : kb / 1024.0;
}

double PeakResidentMb(pid_t pid) {
  double kb = StatusKb(pid, "VmHWM");
  return kb < 0 ? -1 : kb / 1024.0;
}

bool ResetPeakResident(pid_t pid) {
  std::ofstream out("/proc/" + std::to_string(pid) + "/clear_refs");
  out << "5";
  out.flush();
  return static_cast<bool>(out);
}

}  // namespace yilian::bench
