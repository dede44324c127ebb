#include "testing/postgres.h"

#include <fcntl.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <sys/shm.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <vector>

#include "testing/process.h"

extern char** environ;

namespace yilian::testing {
namespace {

constexpr int kInitdbTimeoutMs = 180'000;
constexpr int kBaseBackupTimeoutMs = 180'000;
// pg_ctl's own wait (-t, seconds) and the deadline of the pg_ctl command.
constexpr int kPgCtlWaitSeconds = 60;
constexpr int kPgCtlTimeoutMs = 90'000;
constexpr int kPsqlTimeoutMs = 30'000;
constexpr int kReplicationTimeoutMs = 60'000;
constexpr int kKillTimeoutMs = 10'000;
constexpr int kPortAttempts = 5;
constexpr int kLogTailLines = 40;

struct CommandResult {
  int exit_code = -1;  // 128+signal if killed; -1 if it could not run
  bool timed_out = false;
  std::string out;
  std::string err;
};

std::string FindInPath(const std::string& name) {
  const char* path = std::getenv("PATH");
  std::string dirs = path ? path : "/usr/local/bin:/usr/bin:/bin";
  for (const char* extra : {"/usr/sbin", "/sbin"}) dirs += std::string(":") + extra;
  std::stringstream in(dirs);
  std::string dir;
  while (std::getline(in, dir, ':')) {
    if (dir.empty()) continue;
    std::string candidate = dir + "/" + name;
    if (access(candidate.c_str(), X_OK) == 0) return candidate;
  }
  return "";
}

void ReadAvailable(int fd, std::string* into, bool* eof) {
  char buf[4096];
  for (;;) {
    ssize_t n = read(fd, buf, sizeof buf);
    if (n > 0) {
      into->append(buf, static_cast<size_t>(n));
      continue;
    }
    if (n == 0) *eof = true;
    if (n < 0 && errno == EINTR) continue;
    return;  // EOF, or nothing more for now (EAGAIN)
  }
}

// Runs argv (argv[0] an absolute path) with stdin from /dev/null, in its own
// process group, in `cwd`, without the caller's PG* environment variables (so
// nothing but the arguments decides where a tool connects). Captures stdout
// and stderr. After timeout_ms the process group is SIGKILLed.
CommandResult RunCommand(const std::vector<std::string>& argv, int timeout_ms, const std::string& cwd) {
  CommandResult result;
  std::vector<std::string> env_strings;
  for (char** e = environ; *e; ++e) {
    std::string entry = *e;
    if (entry.rfind("PG", 0) == 0 || entry.rfind("LC_ALL=", 0) == 0) continue;
    env_strings.push_back(entry);
  }
  env_strings.push_back("LC_ALL=C");
  std::vector<char*> envp;
  for (auto& s : env_strings) envp.push_back(s.data());
  envp.push_back(nullptr);
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);

  int out_pipe[2];
  int err_pipe[2];
  if (pipe2(out_pipe, O_CLOEXEC) != 0) {
    result.err = std::string("pipe: ") + std::strerror(errno);
    return result;
  }
  if (pipe2(err_pipe, O_CLOEXEC) != 0) {
    result.err = std::string("pipe: ") + std::strerror(errno);
    close(out_pipe[0]);
    close(out_pipe[1]);
    return result;
  }
  pid_t pid = fork();
  if (pid < 0) {
    result.err = std::string("fork: ") + std::strerror(errno);
    for (int fd : {out_pipe[0], out_pipe[1], err_pipe[0], err_pipe[1]}) close(fd);
    return result;
  }
  if (pid == 0) {
    setpgid(0, 0);
    dup2(out_pipe[1], 1);
    dup2(err_pipe[1], 2);
    int devnull = ::open("/dev/null", O_RDONLY);
    if (devnull >= 0) dup2(devnull, 0);
    // Servers started from here must not hold the test's descriptors.
    close_range(3, ~0U, 0);
    if (!cwd.empty() && chdir(cwd.c_str()) != 0) {
      std::fprintf(stderr, "chdir %s: %s\n", cwd.c_str(), std::strerror(errno));
      _exit(127);
    }
    execve(args[0], args.data(), envp.data());
    std::fprintf(stderr, "exec %s: %s\n", args[0], std::strerror(errno));
    _exit(127);
  }
  close(out_pipe[1]);
  close(err_pipe[1]);
  fcntl(out_pipe[0], F_SETFL, O_NONBLOCK);
  fcntl(err_pipe[0], F_SETFL, O_NONBLOCK);

  bool out_eof = false;
  bool err_eof = false;
  int status = 0;
  bool exited = false;
  bool done = PollUntil(
      [&] {
        // Reads what the command wrote (up to 20 ms per call, so a chatty
        // command never blocks on a full pipe) and checks whether it exited.
        pollfd fds[2];
        int n = 0;
        if (!out_eof) fds[n++] = {out_pipe[0], POLLIN, 0};
        if (!err_eof) fds[n++] = {err_pipe[0], POLLIN, 0};
        if (n > 0) ::poll(fds, n, 20);
        if (!out_eof) ReadAvailable(out_pipe[0], &result.out, &out_eof);
        if (!err_eof) ReadAvailable(err_pipe[0], &result.err, &err_eof);
        if (waitpid(pid, &status, WNOHANG) == pid) exited = true;
        return exited;
      },
      timeout_ms);
  if (!done) {
    ::kill(-pid, SIGKILL);
    ::kill(pid, SIGKILL);
    waitpid(pid, &status, 0);
    result.timed_out = true;
  }
  // What is left in the pipes (a server the command started holds none of
  // them: its output goes to its log).
  if (!out_eof) ReadAvailable(out_pipe[0], &result.out, &out_eof);
  if (!err_eof) ReadAvailable(err_pipe[0], &result.err, &err_eof);
  close(out_pipe[0]);
  close(err_pipe[0]);
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return result;
}

std::string TrimRight(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r' || s.back() == ' ' || s.back() == '\t')) s.pop_back();
  return s;
}

std::string Join(const std::vector<std::string>& argv) {
  std::string line;
  for (const auto& a : argv) {
    if (!line.empty()) line += ' ';
    line += a.find(' ') == std::string::npos ? a : "'" + a + "'";
  }
  return line;
}

// "`cmd` exited with status 1 (or: timed out after N s); output: ..."
std::string Describe(const std::vector<std::string>& argv, const CommandResult& r, int timeout_ms) {
  std::string text = "`" + Join(argv) + "` ";
  if (r.timed_out) {
    text += "did not finish within " + std::to_string(timeout_ms / 1000) + " s";
  } else {
    text += "exited with status " + std::to_string(r.exit_code);
  }
  std::string output = TrimRight(r.out + (r.out.empty() || r.err.empty() ? "" : "\n") + r.err);
  text += output.empty() ? " and printed nothing" : "; its output:\n" + output;
  return text;
}

std::string LogTail(const std::string& path) {
  std::vector<std::string> lines;
  std::ifstream in(path);
  std::string line;
  while (std::getline(in, line)) lines.push_back(line);
  if (lines.empty()) return "\n(" + path + " is empty or missing)";
  size_t from = lines.size() > kLogTailLines ? lines.size() - kLogTailLines : 0;
  std::string text = "\nlast lines of " + path + ":";
  for (size_t i = from; i < lines.size(); ++i) text += "\n  " + lines[i];
  return text;
}

bool RunningAsRoot() { return geteuid() == 0; }

std::string RunuserPath() {
  for (const char* p : {"/usr/sbin/runuser", "/sbin/runuser", "/usr/bin/runuser"})
    if (access(p, X_OK) == 0) return p;
  return FindInPath("runuser");
}

// The command line of a server-side tool: as the postgres user when root.
std::vector<std::string> ServerTool(const std::string& bindir, const std::string& tool,
                                    const std::vector<std::string>& args) {
  std::vector<std::string> argv;
  if (RunningAsRoot()) argv = {RunuserPath(), "-u", "postgres", "--"};
  argv.push_back(bindir + "/" + tool);
  argv.insert(argv.end(), args.begin(), args.end());
  return argv;
}

// The bin directory with initdb, or "" if none.
std::string FindBinDir() {
  std::vector<std::string> candidates;
  std::string pg_config = FindInPath("pg_config");
  if (!pg_config.empty()) {
    CommandResult r = RunCommand({pg_config, "--bindir"}, 10'000, "");
    if (r.exit_code == 0) candidates.push_back(TrimRight(r.out));
  }
  candidates.push_back("/usr/lib/postgresql/15/bin");
  for (const auto& dir : candidates)
    if (!dir.empty() && access((dir + "/initdb").c_str(), X_OK) == 0) return dir;
  return "";
}

const std::string& BinDir() {
  static const std::string dir = FindBinDir();
  return dir;
}

// The fields of /proc/<pid>/stat after the command name: state, ppid, pgrp.
bool ReadStat(pid_t pid, char* state, pid_t* ppid, pid_t* pgrp) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  if (!std::getline(in, line)) return false;
  size_t close_paren = line.rfind(')');
  if (close_paren == std::string::npos) return false;
  std::istringstream rest(line.substr(close_paren + 1));
  long parent = 0;
  long group = 0;
  rest >> *state >> parent >> group;
  *ppid = static_cast<pid_t>(parent);
  *pgrp = static_cast<pid_t>(group);
  return static_cast<bool>(rest);
}

// Exited (a zombie that nobody reaped yet counts as gone).
bool Gone(pid_t pid) {
  char state = 0;
  pid_t ppid = 0;
  pid_t pgrp = 0;
  if (!ReadStat(pid, &state, &ppid, &pgrp)) return true;
  return state == 'Z' || state == 'X';
}

std::vector<std::string> PidFileLines(const std::string& data_dir) {
  std::vector<std::string> lines;
  std::ifstream in(data_dir + "/postmaster.pid");
  std::string line;
  while (std::getline(in, line)) lines.push_back(line);
  return lines;
}

// The postmaster of data_dir from its postmaster.pid, if that process still
// runs in data_dir (a stale file's pid may belong to another process by now).
pid_t LivePostmaster(const std::string& data_dir) {
  std::vector<std::string> lines = PidFileLines(data_dir);
  if (lines.empty()) return -1;
  pid_t pid = static_cast<pid_t>(std::atol(lines[0].c_str()));
  if (pid <= 0 || Gone(pid)) return -1;
  // The pid is this data directory's postmaster if its command line names
  // the directory (a stale pid file may name another process by now).
  // /proc/<pid>/cmdline is readable for any process; its cwd is not for
  // root without CAP_SYS_PTRACE, as in a container.
  std::string cmdline = ReadFile("/proc/" + std::to_string(pid) + "/cmdline");
  for (char& c : cmdline)
    if (c == '\0') c = ' ';
  std::error_code ec;
  const std::string dir = std::filesystem::weakly_canonical(data_dir, ec).string();
  if (cmdline.find(" " + data_dir + " ") == std::string::npos && cmdline.find(" " + data_dir) == std::string::npos &&
      (ec || cmdline.find(" " + dir) == std::string::npos))
    return -1;
  return pid;
}

// After a server was killed: its small System V segment, which stays until
// the next start finds it, when nothing is attached any more.
void RemoveStaleSharedMemory(const std::vector<std::string>& pid_file) {
  if (pid_file.size() < 7) return;
  std::istringstream in(pid_file[6]);
  long key = 0;
  long shmid = -1;
  if (!(in >> key >> shmid) || shmid < 0) return;
  shmid_ds ds{};
  if (shmctl(static_cast<int>(shmid), IPC_STAT, &ds) != 0) return;
  if (ds.shm_nattch == 0 && static_cast<long>(ds.shm_perm.__key) == key)
    shmctl(static_cast<int>(shmid), IPC_RMID, nullptr);
}

// SIGKILLs the postmaster of data_dir and every process it started, then
// waits until all are gone. The postmaster is stopped first, so it cannot
// start another child between the listing and the kill. Then removes what a
// crashed server leaves: its shared memory and its lock files (the parent of
// a killed postmaster may reap it late, and a server does not start while the
// pid in a lock file names a process, even a zombie).
bool KillServer(const std::string& data_dir, std::string* error) {
  pid_t postmaster = LivePostmaster(data_dir);
  if (postmaster <= 0) {
    *error = "no running postmaster for " + data_dir;
    return false;
  }
  std::vector<std::string> pid_file = PidFileLines(data_dir);
  ::kill(postmaster, SIGSTOP);
  std::vector<pid_t> victims;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator("/proc", ec)) {
    const std::string name = entry.path().filename().string();
    if (name.empty() || name.find_first_not_of("0123456789") != std::string::npos) continue;
    pid_t pid = static_cast<pid_t>(std::atol(name.c_str()));
    char state = 0;
    pid_t ppid = 0;
    pid_t pgrp = 0;
    if (pid != postmaster && ReadStat(pid, &state, &ppid, &pgrp) && (ppid == postmaster || pgrp == postmaster))
      victims.push_back(pid);
  }
  for (pid_t pid : victims) ::kill(pid, SIGKILL);
  if (getpgid(postmaster) == postmaster) ::kill(-postmaster, SIGKILL);
  ::kill(postmaster, SIGKILL);
  victims.push_back(postmaster);
  bool gone = PollUntil(
      [&] {
        for (pid_t pid : victims)
          if (!Gone(pid)) return false;
        return true;
      },
      kKillTimeoutMs);
  if (!gone) {
    *error = "the processes of the server in " + data_dir + " were still there after SIGKILL";
    return false;
  }
  RemoveStaleSharedMemory(pid_file);
  std::filesystem::remove(data_dir + "/postmaster.pid", ec);
  if (pid_file.size() >= 5 && !pid_file[4].empty())
    std::filesystem::remove(pid_file[4] + "/.s.PGSQL." + TrimRight(pid_file[3]) + ".lock", ec);
  return true;
}

std::string SuperuserConninfo(int port, const std::string& dbname) {
  return "host=127.0.0.1 port=" + std::to_string(port) + " dbname=" + dbname + " user=postgres connect_timeout=5";
}

// psql -At with each of `commands` as its own -c (so each is its own
// transaction). True on success, else *error.
bool RunPsql(const std::string& conninfo, const std::vector<std::string>& commands, std::string* out,
             std::string* error) {
  std::vector<std::string> argv = {BinDir() + "/psql", "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-d", conninfo};
  for (const auto& c : commands) {
    argv.push_back("-c");
    argv.push_back(c);
  }
  CommandResult r = RunCommand(argv, kPsqlTimeoutMs, "/");
  if (out) *out = TrimRight(r.out);
  if (r.exit_code == 0 && !r.timed_out) return true;
  if (error) *error = Describe(argv, r, kPsqlTimeoutMs);
  return false;
}

}  // namespace

bool PostgresInstalled() { return !BinDir().empty(); }

std::string Psql(const std::string& conninfo, const std::string& sql, std::string* error) {
  if (!PostgresInstalled()) {
    if (error) *error = "PostgreSQL 15 is not installed (no psql)";
    return "";
  }
  std::string out;
  if (!RunPsql(conninfo, {sql}, &out, error)) return "";
  if (error) error->clear();
  return out;
}

std::unique_ptr<TestPostgres> TestPostgres::Start(const Options& options, std::string* error) {
  std::string ignored;
  if (!error) error = &ignored;
  if (!PostgresInstalled()) {
    *error =
        "PostgreSQL 15's server binaries are not installed: no initdb in `pg_config --bindir` nor in "
        "/usr/lib/postgresql/15/bin (scripts/setup installs postgresql-15)";
    return nullptr;
  }
  uid_t uid = getuid();
  gid_t gid = getgid();
  if (RunningAsRoot()) {
    passwd* pw = getpwnam("postgres");
    if (!pw) {
      *error =
          "running as root, but there is no `postgres` user to run PostgreSQL as (scripts/setup installs "
          "postgresql-15, which creates it)";
      return nullptr;
    }
    if (RunuserPath().empty()) {
      *error = "running as root, but runuser is not installed (it is in util-linux)";
      return nullptr;
    }
    uid = pw->pw_uid;
    gid = pw->pw_gid;
  }

  std::unique_ptr<TestPostgres> pg(new TestPostgres());
  pg->dir_ = MakeTempDir("yilian-pg");
  pg->primary_dir_ = pg->dir_ + "/primary";
  pg->standby_dir_ = pg->dir_ + "/standby";
  pg->replication_ = options.synchronous_standby_ready;
  const std::string socket_dir = pg->dir_ + "/socket";
  if (::mkdir(socket_dir.c_str(), 0700) != 0 ||
      (RunningAsRoot() && (chown(pg->dir_.c_str(), uid, gid) != 0 || chown(socket_dir.c_str(), uid, gid) != 0))) {
    *error = "cannot prepare " + pg->dir_ + " for the postgres user: " + std::strerror(errno);
    return nullptr;
  }

  std::vector<std::string> initdb =
      ServerTool(BinDir(), "initdb",
                 {"-D", pg->primary_dir_, "-U", "postgres", "-A", "trust", "-E", "UTF8", "--no-locale", "--no-sync"});
  CommandResult r = RunCommand(initdb, kInitdbTimeoutMs, pg->dir_);
  if (r.exit_code != 0 || r.timed_out) {
    *error = "initdb failed: " + Describe(initdb, r, kInitdbTimeoutMs);
    return nullptr;
  }

  // Appended to what initdb wrote: later lines win. Files keep their owner.
  std::string conf = ReadFile(pg->primary_dir_ + "/postgresql.conf");
  conf += "\n# A private server for a test.\n";
  conf += "listen_addresses = '127.0.0.1'\n";
  conf += "unix_socket_directories = '" + socket_dir + "'\n";
  conf += "fsync = off\nshared_buffers = 32MB\nmax_connections = 50\n";
  conf += pg->replication_ ? "wal_level = replica\nmax_wal_senders = 5\nwal_keep_size = '256MB'\nhot_standby = on\n"
                           : "wal_level = minimal\nmax_wal_senders = 0\n";
  WriteFile(pg->primary_dir_ + "/postgresql.conf", conf);
  std::string hba =
      "local all all trust\n"
      "host all all 127.0.0.1/32 trust\n";
  if (pg->replication_) hba += "host replication all 127.0.0.1/32 trust\n";
  WriteFile(pg->primary_dir_ + "/pg_hba.conf", hba);

  if (!pg->StartServer(pg->primary_dir_, pg->primary_log_path(), &pg->port_, /*retry_port=*/true, error))
    return nullptr;
  std::string psql_error;
  if (!RunPsql(SuperuserConninfo(pg->port_, "postgres"),
               {"CREATE ROLE yilian LOGIN", "CREATE DATABASE yilian OWNER yilian"}, nullptr, &psql_error)) {
    *error = "creating the role and database yilian failed: " + psql_error + LogTail(pg->primary_log_path());
    return nullptr;
  }
  return pg;
}

bool TestPostgres::StartServer(const std::string& data_dir, const std::string& log_path, int* port, bool retry_port,
                               std::string* error) {
  for (int attempt = 1;; ++attempt) {
    if (retry_port) {
      do *port = FreeTcpPort();
      while (*port == 5432);
    }
    std::error_code ec;
    auto log_size_before = std::filesystem::file_size(log_path, ec);
    if (ec) log_size_before = 0;
    std::vector<std::string> argv =
        ServerTool(BinDir(), "pg_ctl",
                   {"start", "-D", data_dir, "-l", log_path, "-w", "-t", std::to_string(kPgCtlWaitSeconds), "-o",
                    "-p " + std::to_string(*port)});
    CommandResult r = RunCommand(argv, kPgCtlTimeoutMs, dir_);
    if (r.exit_code == 0 && !r.timed_out) return true;
    std::string log = ReadFile(log_path);
    log = log.size() > log_size_before ? log.substr(log_size_before) : "";
    bool port_taken = log.find("could not bind") != std::string::npos ||
                      log.find("could not create any TCP/IP sockets") != std::string::npos;
    if (retry_port && port_taken && attempt < kPortAttempts) {
      StopServer(data_dir);  // it failed to start, but leave nothing behind
      continue;
    }
    *error = "starting the server in " + data_dir + " on port " + std::to_string(*port) +
             " failed: " + Describe(argv, r, kPgCtlTimeoutMs) + LogTail(log_path);
    return false;
  }
}

void TestPostgres::StopServer(const std::string& data_dir) {
  if (LivePostmaster(data_dir) > 0) {
    std::vector<std::string> argv = ServerTool(
        BinDir(), "pg_ctl", {"stop", "-D", data_dir, "-m", "immediate", "-w", "-t", std::to_string(kPgCtlWaitSeconds)});
    RunCommand(argv, kPgCtlTimeoutMs, dir_);
  }
  std::string ignored;
  if (LivePostmaster(data_dir) > 0) KillServer(data_dir, &ignored);
}

TestPostgres::~TestPostgres() {
  if (dir_.empty()) return;
  if (has_standby_) StopServer(standby_dir_);
  StopServer(primary_dir_);
  RemoveTree(dir_);
}

std::string TestPostgres::conninfo() const {
  return "host=127.0.0.1 port=" + std::to_string(port_) + " dbname=yilian user=yilian connect_timeout=5";
}

std::string TestPostgres::multi_host_conninfo() const {
  return "host=127.0.0.1,127.0.0.1 port=" + std::to_string(port_) + "," + std::to_string(standby_port_) +
         " dbname=yilian user=yilian target_session_attrs=read-write connect_timeout=5";
}

bool TestPostgres::StartStandby(bool synchronous, std::string* error) {
  std::string ignored;
  if (!error) error = &ignored;
  if (!replication_) {
    *error = "StartStandby needs a primary started with Options::synchronous_standby_ready";
    return false;
  }
  if (has_standby_) {
    *error = "StartStandby: there is a standby already";
    return false;
  }
  std::vector<std::string> backup = ServerTool(BinDir(), "pg_basebackup",
                                               {"-h", "127.0.0.1", "-p", std::to_string(port_), "-U", "postgres", "-D",
                                                standby_dir_, "-R", "-X", "stream", "-c", "fast", "--no-sync"});
  CommandResult r = RunCommand(backup, kBaseBackupTimeoutMs, dir_);
  has_standby_ = true;  // from here on the destructor looks after it
  if (r.exit_code != 0 || r.timed_out) {
    *error = "pg_basebackup failed: " + Describe(backup, r, kBaseBackupTimeoutMs) + LogTail(primary_log_path());
    return false;
  }
  // -R wrote a primary_conninfo; this one (later, so it wins) names the standby.
  std::string auto_conf = ReadFile(standby_dir_ + "/postgresql.auto.conf");
  auto_conf +=
      "primary_conninfo = 'host=127.0.0.1 port=" + std::to_string(port_) + " user=postgres application_name=standby'\n";
  WriteFile(standby_dir_ + "/postgresql.auto.conf", auto_conf);
  if (!StartServer(standby_dir_, standby_log_path(), &standby_port_, /*retry_port=*/true, error)) return false;

  if (synchronous) {
    std::string psql_error;
    if (!RunPsql(SuperuserConninfo(port_, "yilian"),
                 {"ALTER SYSTEM SET synchronous_standby_names = 'standby'",
                  "ALTER SYSTEM SET synchronous_commit = 'on'", "SELECT pg_reload_conf()"},
                 nullptr, &psql_error)) {
      *error = "making the standby synchronous failed: " + psql_error;
      return false;
    }
  }
  const std::string want = synchronous ? "sync" : "async";
  std::string state;
  bool ready = PollUntil(
      [&] {
        state = psql(
            "SELECT sync_state FROM pg_stat_replication WHERE application_name = 'standby' AND state = "
            "'streaming'");
        return state == want;
      },
      kReplicationTimeoutMs);
  if (!ready) {
    *error = "the primary did not stream to the standby as " + want + " within " +
             std::to_string(kReplicationTimeoutMs / 1000) + " s (sync_state: '" + state + "')" +
             LogTail(primary_log_path()) + LogTail(standby_log_path());
    return false;
  }
  return true;
}

bool TestPostgres::KillPrimary(std::string* error) {
  std::string ignored;
  return KillServer(primary_dir_, error ? error : &ignored);
}

bool TestPostgres::PromoteStandby(std::string* error) {
  std::string ignored;
  if (!error) error = &ignored;
  if (!has_standby_) {
    *error = "PromoteStandby: there is no standby";
    return false;
  }
  std::vector<std::string> argv =
      ServerTool(BinDir(), "pg_ctl", {"promote", "-D", standby_dir_, "-w", "-t", std::to_string(kPgCtlWaitSeconds)});
  CommandResult r = RunCommand(argv, kPgCtlTimeoutMs, dir_);
  if (r.exit_code != 0 || r.timed_out) {
    *error = "promoting the standby failed: " + Describe(argv, r, kPgCtlTimeoutMs) + LogTail(standby_log_path());
    return false;
  }
  return true;
}

bool TestPostgres::StopPrimary(std::string* error) {
  std::string ignored;
  if (!error) error = &ignored;
  std::vector<std::string> argv = ServerTool(
      BinDir(), "pg_ctl", {"stop", "-D", primary_dir_, "-m", "fast", "-w", "-t", std::to_string(kPgCtlWaitSeconds)});
  CommandResult r = RunCommand(argv, kPgCtlTimeoutMs, dir_);
  if (r.exit_code != 0 || r.timed_out) {
    *error = "stopping the primary failed: " + Describe(argv, r, kPgCtlTimeoutMs) + LogTail(primary_log_path());
    return false;
  }
  return true;
}

bool TestPostgres::StartPrimary(std::string* error) {
  std::string ignored;
  return StartServer(primary_dir_, primary_log_path(), &port_, /*retry_port=*/false, error ? error : &ignored);
}

std::string TestPostgres::psql(const std::string& sql, int which, std::string* error) {
  return Psql(SuperuserConninfo(which == 0 ? port_ : standby_port_, "yilian"), sql, error);
}

}  // namespace yilian::testing
