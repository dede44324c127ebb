# shellcheck shell=bash disable=SC2154  # work and fail: the caller's
# Private PostgreSQL 15 servers for the scripts (scripts/demo --ha,
# scripts/bench --series replicated): initdb in a temporary directory of
# their own (owned by the postgres user when run as root: PostgreSQL refuses
# to run as root), free ports on 127.0.0.1, trust authentication from
# 127.0.0.1 only. Never the machine's own clusters (port 5432).
#
# Sourced, not run. The caller defines `fail MESSAGE` (reports and exits)
# and sets `work`, a folder for the tools' output and, when the servers are
# removed, their logs. Then:
#
#   pg_dir TEMPLATE          finds the binaries (pgbin) and makes the folder pg
#                            (mktemp -d TEMPLATE) with its socket directory
#   pg_init NAME [SETTINGS]  initdb into $pg/NAME, ready to be a primary; SETTINGS
#                            (postgresql.conf lines) are appended last
#   pg_start NAME PORT       starts it (log in $pg/NAME.log)
#   pg_add_standby PORT NAME a streaming standby of the server on PORT, in $pg/NAME
#                            (pg_basebackup -R), application_name NAME; start it
#                            with pg_start
#   pg_sync_standby PORT NAME  makes the server on PORT wait for its standby NAME
#                            at every commit (synchronous_standby_names,
#                            synchronous_commit = on)
#   pg_create_yilian PORT    the role and database yilian (owned by yilian)
#   pg_setup                 scripts/demo --ha's pair: a primary and its synchronous
#                            standby with the database yilian; sets pg_port,
#                            standby_port and conninfo
#   pg_remove [NAMES...]     stops the servers (default: standby primary), keeps their
#                            logs in $work, removes $pg
#   pg_kill DIR              a crash: SIGKILL to the postmaster and its children

now_ms() { date +%s%3N; }
# Polls `cmd...` every 50 ms for up to $1 seconds.
wait_for() {
  local deadline=$(($(now_ms) + $1 * 1000))
  shift
  until "$@"; do
    (($(now_ms) < deadline)) || return 1
    sleep 0.05
  done
}
as_pg() {
  if ((EUID == 0)); then (cd "$pg" && runuser -u postgres -- "$@"); else (cd "$pg" && "$@"); fi
}
pg_find_bin() {
  local d
  for d in "$(pg_config --bindir 2>/dev/null || true)" /usr/lib/postgresql/15/bin; do
    [[ -n $d && -x $d/initdb ]] && { echo "$d"; return 0; }
  done
  return 1
}
free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
# psql as the superuser on one server: pg_sql PORT SQL [DATABASE]
pg_sql() {
  timeout 30 "$pgbin/psql" -X -q -A -t -v ON_ERROR_STOP=1 \
    -d "host=127.0.0.1 port=$1 dbname=${3:-postgres} user=postgres connect_timeout=5" -c "$2"
}
pg_start() {  # pg_start NAME PORT
  as_pg "$pgbin/pg_ctl" start -D "$pg/$1" -l "$pg/$1.log" -w -t 60 -o "-p $2" >/dev/null 2>&1 ||
    fail "PostgreSQL ($1) did not start on port $2"
}
# The postmaster of a data directory, if it runs (a stale pid file's pid may
# belong to another process by now): its command line is pg_ctl's
# "postgres -D DIR ...". (Its working directory would say the same, but
# reading it needs CAP_SYS_PTRACE, which root lacks in a container.)
postmaster_of() {
  local dir="$1" pid cmdline
  pid="$(head -n 1 "$dir/postmaster.pid" 2>/dev/null)" || return 1
  [[ $pid =~ ^[0-9]+$ && -d /proc/$pid ]] || return 1
  cmdline="$(tr '\0' ' ' 2>/dev/null < "/proc/$pid/cmdline")" || return 1
  [[ $cmdline == *" -D $dir "* ]] || return 1
  echo "$pid"
}
children_of() {
  local f stat ppid
  for f in /proc/[0-9]*/stat; do
    { read -r stat < "$f"; } 2>/dev/null || continue
    read -r _ ppid _ <<<"${stat##*) }"
    [[ $ppid == "$1" ]] && echo "${f//[^0-9]/}"
  done
  return 0
}
gone() {  # exited (a zombie nobody reaped yet counts as gone)
  local state
  state="$(sed 's/^.*) //' "/proc/$1/stat" 2>/dev/null | cut -d' ' -f1)" || return 0
  [[ -z $state || $state == Z || $state == X ]]
}
# A crash: SIGKILL the postmaster and every process it started (stopped
# first, so that it starts no new one meanwhile), then remove what a killed
# server leaves behind (its lock files and its small shared memory segment).
pg_kill() {
  local dir="$1" pm shm victims pid
  pm="$(postmaster_of "$dir")" || return 1
  shm="$(sed -n 7p "$dir/postmaster.pid" | awk '{print $2}')"
  kill -STOP "$pm"
  mapfile -t victims < <(children_of "$pm")
  victims+=("$pm")
  kill -KILL "${victims[@]}" 2>/dev/null || true
  for pid in "${victims[@]}"; do wait_for 10 gone "$pid" || return 1; done
  rm -f "$dir/postmaster.pid" "$pg/socket/.s.PGSQL.$(sed -n 4p "$dir/postmaster.pid" 2>/dev/null).lock"
  [[ -n $shm ]] && ipcrm -m "$shm" 2>/dev/null || true
}
pg_remove() {
  local d names=("$@")
  ((${#names[@]})) || names=(standby primary)
  for d in "${names[@]}"; do
    if [[ -f $pg/$d/postmaster.pid ]]; then
      as_pg "$pgbin/pg_ctl" stop -D "$pg/$d" -m immediate -w -t 30 >/dev/null 2>&1 || pg_kill "$pg/$d" || true
    fi
    [[ -f $pg/$d.log ]] && cp "$pg/$d.log" "$work/postgresql-$d.log"
  done
  rm -rf "$pg"
}

pg_dir() {
  pgbin="$(pg_find_bin)" ||
    fail "this needs PostgreSQL 15's server (package postgresql-15; scripts/setup installs it)"
  if ((EUID == 0)) && ! id -u postgres >/dev/null 2>&1; then
    fail "as root, PostgreSQL runs as the user postgres, which does not exist (install postgresql-15)"
  fi
  pg="$(mktemp -d "$1")"
  mkdir "$pg/socket"
  if ((EUID == 0)); then chown -R postgres: "$pg"; fi
}

pg_init() {  # pg_init NAME [SETTINGS]
  as_pg "$pgbin/initdb" -D "$pg/$1" -U postgres -A trust -E UTF8 --no-locale --no-sync \
    > "$work/initdb-$1.out" 2>&1 || fail "initdb failed (see $work/initdb-$1.out)"
  # Later lines win; the files keep their owner.
  cat >> "$pg/$1/postgresql.conf" <<CONF

# A private server: on 127.0.0.1 only, its socket in its own directory,
# ready for a streaming standby.
listen_addresses = '127.0.0.1'
unix_socket_directories = '$pg/socket'
max_connections = 50
wal_level = replica
max_wal_senders = 5
wal_keep_size = '256MB'
hot_standby = on
${2:-}
CONF
  # Trust from this machine only; a real deployment uses scram-sha-256
  # with a password (in ~/.pgpass or the conninfo).
  cat > "$pg/$1/pg_hba.conf" <<HBA
local all all trust
host all all 127.0.0.1/32 trust
host replication all 127.0.0.1/32 trust
HBA
}

# The standby: a base backup with its recovery settings (-R), streaming from
# the primary under the name the primary waits for.
pg_add_standby() {  # pg_add_standby PRIMARY_PORT NAME
  as_pg "$pgbin/pg_basebackup" -h 127.0.0.1 -p "$1" -U postgres -D "$pg/$2" -R -X stream -c fast \
    --no-sync > "$work/basebackup-$2.out" 2>&1 || fail "pg_basebackup failed (see $work/basebackup-$2.out)"
  echo "primary_conninfo = 'host=127.0.0.1 port=$1 user=postgres application_name=$2'" \
    >> "$pg/$2/postgresql.auto.conf"
}

# A commit on the primary returns once the standby has it too (flushed).
pg_sync_standby() {  # pg_sync_standby PRIMARY_PORT NAME
  { pg_sql "$1" "ALTER SYSTEM SET synchronous_standby_names = '$2'" &&
    pg_sql "$1" "ALTER SYSTEM SET synchronous_commit = 'on'" &&
    pg_sql "$1" "SELECT pg_reload_conf()"; } >/dev/null || fail "cannot make the standby synchronous"
  # shellcheck disable=SC2317  # called through wait_for
  is_sync() {
    [[ "$(pg_sql "$1" "SELECT sync_state FROM pg_stat_replication
                       WHERE application_name = '$2' AND state = 'streaming'" 2>/dev/null)" == sync ]]
  }
  wait_for 60 is_sync "$1" "$2" || fail "the primary does not stream to the standby synchronously"
}

pg_create_yilian() {  # pg_create_yilian PORT
  pg_sql "$1" "CREATE ROLE yilian LOGIN" >/dev/null &&
    pg_sql "$1" "CREATE DATABASE yilian OWNER yilian" >/dev/null ||
    fail "cannot create the role and database yilian"
}

# scripts/demo --ha: a primary and its synchronous standby, the database
# yilian on them.
pg_setup() {
  pg_dir /tmp/yilian-demo-pg-XXXXXX
  pg_init primary "shared_buffers = 32MB"
  pg_port="$(free_port)"
  pg_start primary "$pg_port"
  pg_create_yilian "$pg_port"
  pg_add_standby "$pg_port" standby
  standby_port="$(free_port)"
  pg_start standby "$standby_port"
  pg_sync_standby "$pg_port" standby
  conninfo="host=127.0.0.1,127.0.0.1 port=$pg_port,$standby_port dbname=yilian user=yilian"
  conninfo+=" target_session_attrs=read-write connect_timeout=5"
}
