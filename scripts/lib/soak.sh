# The machinery of scripts/soak, sourced by it: starting and stopping the
# broker, the adapters and the agency simulators (each in its own session,
# so that a CTRL-C reaches only the script, which stops them in order), the
# trouble schedule, the per-interval records and the final report. Uses the
# script's variables: root, bin paths, work, keys, data, logs, out,
# agencies, endpoint, http, day_s, load_s, trouble, interval_s.

declare -A sim_pid=() adapter_pid=()
broker_pid="" load_pid=""
pending_notes=""

# A free TCP port on 127.0.0.1.
free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# A data key (security.data_key_file), made as scripts/demo makes it: 32
# random bytes as 64 hex characters, mode 0600. (yilian keygen makes CURVE
# key pairs only.)
new_data_key() {
  head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' > "$1"
  chmod 600 "$1"
}

# Something done to the system: logged with the time, shown, and written
# into the notes column of the next record.
note() {
  local t=$((SECONDS - ${load_started:-$SECONDS}))
  echo "$(date -u +%FT%TZ) t=${t}s $*" >> "$logs/trouble.log"
  echo "soak: [t=${t}s] $*"
  pending_notes="${pending_notes:+$pending_notes; }$*"
}

# Sends SIG to PID and waits for it to exit (SIGKILL after 60 s).
stop_pid() {
  local pid="$1" sig="$2" i
  [[ -n $pid ]] || return 0
  kill "-$sig" "$pid" 2>/dev/null || true
  for ((i = 0; i < 600; i++)); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  if kill -0 "$pid" 2>/dev/null; then
    echo "soak: pid $pid did not stop within 60 s of SIG$sig; SIGKILL" >&2
    kill -KILL "$pid" 2>/dev/null || true
  fi
  # Braces: bash reports a killed job on the shell's own stderr.
  { wait "$pid"; } 2>/dev/null || true
}

# --- the broker ---------------------------------------------------------
# Whether this broker build declares a configuration key (--help-config
# lists each key alone on a line).
# grep reads the whole list (-q would close the pipe early, and under
# pipefail the writer's SIGPIPE would fail the test).
broker_supports() { "$broker_bin" --help-config 2>/dev/null | grep -x "$1" > /dev/null; }
# Whether the yilian tool has a subcommand (its --help lists them).
yilian_has() { "$yilian" --help 2>/dev/null | grep -E "^  $1 " > /dev/null; }

# The operator's admin token (for `yilian archive`), made once.
write_tokens() {
  [[ -f $keys/tokens.yaml ]] && return 0
  od -An -tx1 -N24 /dev/urandom | tr -d ' \n' > "$keys/admin.token"
  chmod 600 "$keys/admin.token"
  printf 'tokens:\n  - {identity: soak-operator, role: admin, token: "%s"}\n' "$(cat "$keys/admin.token")" \
    > "$keys/tokens.yaml"
  chmod 600 "$keys/tokens.yaml"
}

write_broker_config() {
  write_tokens
  {
    echo "listen: $endpoint"
    echo "http:"
    echo "  listen: $http"
    echo "security:"
    echo "  server_key_file: $keys/broker.key"
    echo "  keys_file: $keys/keys.yaml"
    echo "  data_key_file: $data_key"
    echo "  tokens_file: $keys/tokens.yaml"
    if ((${#retired_keys[@]})); then
      echo "  retired_data_key_files: [$(IFS=,; echo "${retired_keys[*]}")]"
    fi
    soak_archive_config
  } > "$work/broker.yaml"
}

broker_start() {
  write_broker_config
  setsid "$broker_bin" --config "$work/broker.yaml" --data-dir "$data" --log-file "$logs/broker.log" \
    2>> "$logs/broker.err" &
  broker_pid=$!
  # Ready when the HTTP API says so; recovery after a SIGKILL reads the
  # whole history, so allow it time.
  local i
  for ((i = 0; i < 1200; i++)); do
    curl -sf -o /dev/null --max-time 2 "http://$http/readyz" && return 0
    kill -0 "$broker_pid" 2>/dev/null || break
    sleep 0.1
  done
  echo "soak: the broker did not become ready within 120 s; see $logs/broker.log, broker.err" >&2
  tail -n 5 "$logs/broker.err" "$logs/broker.log" >&2 || true
  return 1
}

# broker_restart TERM|KILL
broker_restart() {
  local t0
  t0=$(date +%s%3N)
  stop_pid "$broker_pid" "$1"
  broker_pid=""
  broker_start || exit 1
  note "broker SIG$1 and restarted (ready again after $(($(date +%s%3N) - t0)) ms)"
}

# --- the agencies: simulator (the agency's system) and adapter -------------
# The simulators stand for the agencies' own systems, which run on other
# machines; here they share the cores with the broker, and each looks
# through its whole exchange table every --poll-ms, a cost that grows with
# the run. So they run at the lowest priority: they take what the broker,
# the adapters and the platform leave, and cannot slow the broker down.
sim_start() {  # sim_start AGENCY normal|slow
  local a="$1" name="${1/:/-}" delay=100-800 reject=0.05
  [[ $a == bank:* ]] && reject=0.02
  [[ $2 == slow ]] && delay=3000-8000
  setsid nice -n 19 "$sim_bin" --agency "$a" --db "$work/exchange-$name.db" --seed "${#name}" --delay-ms "$delay" \
    --reject-rate "$reject" --hold-file "$work/hold-$name" --log-file "$logs/sim-$name.log" \
    2>> "$logs/sim-$name.err" &
  sim_pid[$a]=$!
}

adapter_start() {
  local a="$1" name="${1/:/-}" plugin="$1"
  [[ $a == bank:* ]] && plugin=bank
  cat > "$work/adapter-$name.yaml" <<YAML
adapter:
  state_dir: $work/state-$name
  server_key: $keys/broker.pub
  key_file: $keys/$name.key
plugin:
  sink:
    type: exchange-db
    path: $work/exchange-$name.db
YAML
  setsid "$adapter_bin" --broker "$endpoint" --agency "$a" --plugin "$plugin" --config "$work/adapter-$name.yaml" \
    --log-file "$logs/adapter-$name.log" 2>> "$logs/adapter-$name.err" &
  adapter_pid[$a]=$!
}

# One trouble step: ACTION [AGENCY].
trouble_step() {
  local a="${2:-}" name
  name="${a/:/-}"
  case "$1" in
    offline) touch "$work/hold-$name"; note "$a: agency system offline (processes nothing)" ;;
    online) rm -f "$work/hold-$name"; note "$a: agency system back" ;;
    slow) stop_pid "${sim_pid[$a]}" TERM; sim_start "$a" slow; note "$a: agency answers slowly (3-8 s)" ;;
    normal) stop_pid "${sim_pid[$a]}" TERM; sim_start "$a" normal; note "$a: agency answers normally again" ;;
    adapter-stop) stop_pid "${adapter_pid[$a]}" TERM; adapter_pid[$a]=""; note "$a: adapter stopped (SIGTERM)" ;;
    adapter-start) adapter_start "$a"; note "$a: adapter started" ;;
    adapter-kill) stop_pid "${adapter_pid[$a]}" KILL; adapter_start "$a"; note "$a: adapter SIGKILLed and restarted" ;;
    broker-term) broker_restart TERM ;;
    broker-kill) broker_restart KILL ;;
    archive) soak_archive ;;
    rekey) soak_rekey ;;
    *) echo "soak: unknown trouble step $1" >&2 ;;
  esac
}

# Every agency up, answering normally, with its adapter running: before
# the drain.
restore_all() {
  local a
  for a in "${agencies[@]}"; do
    rm -f "$work/hold-${a/:/-}"
    [[ -n ${adapter_pid[$a]} ]] || adapter_start "$a"
  done
  if [[ -n ${slow_agency:-} ]]; then trouble_step normal "$slow_agency"; slow_agency=""; fi
}

stop_all() {
  local a
  stop_pid "$load_pid" TERM
  for a in "${agencies[@]}"; do stop_pid "${adapter_pid[$a]:-}" TERM; done
  stop_pid "$broker_pid" TERM
  for a in "${agencies[@]}"; do stop_pid "${sim_pid[$a]:-}" TERM; done
}

# --- archive and rekey -------------------------------------------------------
# The retention is one simulated day, so the live store should hold about a
# day of cases; the archive runs each simulated night at 02:24 (the broker's
# own daily run follows the wall clock, so the soak asks for it). Emitted
# into broker.yaml only when the broker declares the keys.
soak_archive_config() {
  if broker_supports store.retention_days; then
    echo "store:"
    awk -v s="$day_s" 'BEGIN { printf "  retention_days: %.6f\n", s / 86400 }'
  fi
}

# Archive now, on demand, if the tool can.
soak_archive() {
  if ! broker_supports store.retention_days; then
    note "archive: not available in this build (the broker has no store.retention_days)"
  elif ! yilian_has archive; then
    note "archive: the broker archives on its own (store.retention_days); no yilian archive command in this build"
  elif "$yilian" archive --http "$http" --token-file "$keys/admin.token" >> "$logs/archive.log" 2>&1; then
    note "archive: done (logs/archive.log)"
  else
    note "archive: yilian archive failed (logs/archive.log)"
  fi
}

# A new data key; the broker restarted on it with the old one retired,
# re-encrypting in the background; yilian rekey --no-wait shows progress.
soak_rekey() {
  if ! broker_supports security.retired_data_key_files; then
    note "rekey: not available in this build (the broker has no security.retired_data_key_files)"
    return 0
  fi
  local n=$((${#retired_keys[@]} + 2))
  new_data_key "$keys/data-$n.key"
  retired_keys+=("$data_key")
  data_key="$keys/data-$n.key"
  broker_restart TERM
  note "rekey: broker restarted on data-$n.key, ${#retired_keys[@]} key(s) retired"
  if yilian_has rekey; then
    "$yilian" rekey --no-wait --http "$http" >> "$logs/rekey.log" 2>&1 || note "rekey: yilian rekey failed (logs/rekey.log)"
  else
    note "rekey: no yilian rekey command in this build"
  fi
}

# --- the load -------------------------------------------------------------
# A working day, as fractions of the peak rate (yilian-soak-load
# interpolates linearly): a quiet night, the 9:00 opening, the late-morning
# peak, the lunch dip, the afternoon peak and the evening tail.
write_day_curve() {
  cat > "$1" <<'CURVE'
# HH:MM  fraction of --peak-rate
00:00  0.02
06:00  0.02
07:30  0.06
08:30  0.15
09:00  0.60
09:30  0.80
10:30  0.95
11:00  1.00
11:45  0.90
12:00  0.45
13:30  0.35
14:00  0.75
15:00  0.95
16:00  0.85
17:00  0.55
17:30  0.30
18:30  0.15
21:00  0.06
23:00  0.03
CURVE
}

# --- the trouble schedule ---------------------------------------------------
# Each simulated day, rotating over the agencies (A = day's first agency,
# B, C, D the next ones), at fractions of the day (0.375 = 9:00):
#   0.40-0.48  A's system offline (the late-morning peak)
#   0.42       broker restarted with SIGTERM
#   0.50-0.54  C's adapter stopped
#   0.56-0.70  B answers slowly (3-8 s)
#   0.62       D's adapter SIGKILLed and restarted at once
#   0.75       broker restarted: SIGKILL every other day, SIGTERM otherwise
# and once in the run: archive at 40 % of it, rekey at 60 %.
# Prints "at_s<TAB>step<TAB>agency" lines after a header, by time.
plan_trouble() {
  echo -e "at_s\tstep\tagency"
  {
    if ((trouble)); then
      local d n=${#agencies[@]} A B C D
      for ((d = 0; d * day_s < load_s; d++)); do
        A="${agencies[d % n]}" B="${agencies[(d + 1) % n]}" C="${agencies[(d + 2) % n]}" D="${agencies[(d + 3) % n]}"
        awk -v base=$((d * day_s)) -v day="$day_s" -v A="$A" -v B="$B" -v C="$C" -v D="$D" -v odd=$((d % 2)) 'BEGIN {
          at(0.40, "offline", A); at(0.48, "online", A)
          at(0.42, "broker-term", "")
          at(0.50, "adapter-stop", C); at(0.54, "adapter-start", C)
          at(0.56, "slow", B); at(0.70, "normal", B)
          at(0.62, "adapter-kill", D)
          at(0.75, odd ? "broker-kill" : "broker-term", "")
          at(0.10, "archive", "")
        }
        function at(f, step, agency) { printf "%d\t%s\t%s\n", base + f * day, step, agency }'
      done
    fi
    echo -e "$((load_s * 3 / 5))\trekey\t"
  } | awk -F'\t' -v end="$load_s" '$1 < end' | sort -t$'\t' -k1,1n -s
}

plan_next=0
run_due_trouble() {
  local elapsed="$1" at step agency
  while true; do
    IFS=$'\t' read -r at step agency < <(sed -n "$((plan_next + 2))p" "$out/schedule.tsv") || return 0
    [[ -n ${at:-} ]] && ((at <= elapsed)) || return 0
    plan_next=$((plan_next + 1))
    case "$step" in
      slow) slow_agency="$agency" ;;
      normal) slow_agency="" ;;
    esac
    trouble_step "$step" "$agency"
  done
}

# --- records ------------------------------------------------------------
# VmRSS in kB of PID, or NaN.
rss_kb() { awk '/^VmRSS:/ { print $2; found = 1 } END { if (!found) print "NaN" }' "/proc/$1/status" 2>/dev/null || echo NaN; }
size_of() { if [[ -e $1 ]]; then du -sb "$1" | cut -f1; else echo 0; fi; }

# The process and store columns, taken now: sample sets sample_row (not
# printed, so that it runs in this shell and the notes it took are cleared).
sample_header() {
  local a h="broker_rss_kb\tbroker_fds\tdb_bytes\twal_bytes\tarchive_bytes"
  for a in "${agencies[@]}"; do h+="\tbacklog_${a/:/_}"; done
  for a in "${agencies[@]}"; do h+="\tadapter_rss_kb_${a/:/_}"; done
  echo -e "$h\tnotes"
}
sample() {
  local a fds=NaN rss=NaN metrics row
  if [[ -n $broker_pid ]] && kill -0 "$broker_pid" 2>/dev/null; then
    rss="$(rss_kb "$broker_pid")"
    fds="$(find "/proc/$broker_pid/fd" -mindepth 1 -maxdepth 1 2>/dev/null | wc -l)"
  fi
  row="$rss\t$fds\t$(size_of "$data/yilian.db")\t$(size_of "$data/yilian.db-wal")\t$(size_of "$archive_dir")"
  metrics="$(curl -s --max-time 5 "http://$http/metrics" 2>/dev/null || true)"
  for a in "${agencies[@]}"; do
    row+="\t$(awk -v m="yilian_queue_depth{agency=\"$a\"}" '$1 == m { v = $2 } END { print (v == "" ? "NaN" : v) }' \
      <<<"$metrics")"
  done
  for a in "${agencies[@]}"; do
    if [[ -n ${adapter_pid[$a]} ]]; then row+="\t$(rss_kb "${adapter_pid[$a]}")"; else row+="\tNaN"; fi
  done
  sample_row="$row\t${pending_notes:--}"
  pending_notes=""
}

# For each line yilian-soak-load added to intervals.tsv since the last call,
# one line of soak.tsv: its columns and the sample taken now.
intervals_done=0
record_new_intervals() {
  local total line
  [[ -f $out/intervals.tsv ]] || return 0
  total=$(wc -l < "$out/intervals.tsv")
  ((total > 1)) || return 0
  if ((intervals_done == 0)); then
    echo -e "$(head -n 1 "$out/intervals.tsv")\t$(sample_header)" > "$out/soak.tsv"
    intervals_done=1
  fi
  while ((intervals_done < total)); do
    intervals_done=$((intervals_done + 1))
    line="$(sed -n "${intervals_done}p" "$out/intervals.tsv")"
    sample
    echo -e "$line\t$sample_row" >> "$out/soak.tsv"
  done
}

# The plot, the summary and the no-loss check. PARTIAL=1 when cut short.
check_rc=1
finish_report() {
  local partial="$1"
  if [[ -n $load_pid ]]; then stop_pid "$load_pid" TERM; load_pid=""; fi
  record_new_intervals
  [[ -f $out/soak.tsv ]] || { echo "soak: no interval was recorded; no report"; return 0; }
  if command -v gnuplot >/dev/null; then
    gnuplot -e "out='$out'; ivs=$interval_s; agencies='$(echo "${agencies[@]}" | tr ':' '_')'" "$root/scripts/lib/soak.gp" \
      2> "$logs/gnuplot.err" || echo "soak: gnuplot failed (see $logs/gnuplot.err)" >&2
  fi
  check_rc=0
  python3 "$root/scripts/lib/soak_report.py" --out "$out" --http "$http" --load-s "$load_s" \
    --command "scripts/soak --hours $hours --day-minutes $day_minutes --peak-rate $peak_rate --interval-s $interval_s --drain-s $drain_s$( ((trouble)) || echo ' --no-trouble')" \
    $( ((partial)) && echo --partial) || check_rc=$?
  echo "soak: summary $out/soak.md, plot $out/soak.png, records $out/soak.tsv"
}
