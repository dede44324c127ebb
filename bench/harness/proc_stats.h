// ProcStats: what the benchmark reads about a server process from /proc
// (Linux only): CPU seconds used (user + system, all threads), resident and
// peak resident memory, and a reset of the peak so that one long-running
// server can be measured run by run.
//
// Pure functions over /proc; safe from any thread. A pid that does not exist
// (or cannot be read) gives -1.
#pragma once

#include <sys/types.h>

namespace yilian::bench {

// utime + stime of the process, in seconds.
double ProcessCpuSeconds(pid_t pid);
// CPU seconds of the process and all its descendants: utime + stime of each
// live one, plus cutime + cstime of each (its children that exited and were
// waited for), so that a worker that exits between two readings still
// counts. For a server made of several processes (PostgreSQL's postmaster
// and its backends).
double TreeCpuSeconds(pid_t pid);
// CPU seconds of the calling process (all its threads).
double SelfCpuSeconds();
// VmRSS and VmHWM, in MiB.
double ResidentMb(pid_t pid);
double PeakResidentMb(pid_t pid);
// Resets VmHWM to the current RSS (writes 5 to /proc/<pid>/clear_refs);
// false if the kernel or permissions do not allow it.
bool ResetPeakResident(pid_t pid);

}  // namespace yilian::bench
