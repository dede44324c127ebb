#!/usr/bin/env bash
# Makes one fixture store for the upgrade tests (tests/server/upgrade_test.cc)
# by running the broker and the `yilian` tool of an older commit: a real
# store written by that code, not one shaped by hand.
#
#   tests/data/stores/make-fixture.sh COMMIT OUT_DIR [BUILD_DIR]
#
#   COMMIT     the commit whose code writes the store (e.g. e39b566^ for
#              schema version 1, 851873e for version 2)
#   OUT_DIR    where yilian.db and manifest.json go (tests/data/stores/vN)
#   BUILD_DIR  a build of COMMIT that has broker/server/yilian-broker and
#              cli/yilian; without it the script checks COMMIT out in a
#              temporary worktree and builds those two targets (slow)
#
# The run, with the old binaries, an --insecure-dev broker and no data key
# (payloads in clear: the sample's numbers are synthetic, test data only):
#   1. 6 enterprises x 3 events (gen-sample --seed 7: ESTABLISHED, CHANGED,
#      some DEREGISTERED; bank ICBC) published with four test agencies
#      connected: tax answers PROCESSED but REJECTED for the events whose
#      id ends in 2; social_insurance PROCESSED; housing_fund RETRY, which
#      with retry.max_attempts 2 makes each delivery DEAD; bank:ICBC
#      ACCEPTED (so the bank's later events of an enterprise stay PENDING
#      behind the accepted one). Waits until nothing is DELIVERED.
#   2. The consumers stop; 3 enterprises x 2 more events (--seed 8, other
#      enterprises) are published with no agency connected: PENDING.
#   3. SIGTERM to the broker (a clean shutdown: no -wal is left); the file
#      is checked (integrity_check) and copied with its counts in
#      manifest.json.
set -euo pipefail

commit=${1:?usage: make-fixture.sh COMMIT OUT_DIR [BUILD_DIR]}
out=${2:?usage: make-fixture.sh COMMIT OUT_DIR [BUILD_DIR]}
build=${3:-}
repo=$(git -C "$(dirname "$0")" rev-parse --show-toplevel)
full_commit=$(git -C "$repo" rev-parse --verify "$commit^{commit}")
work=$(mktemp -d /tmp/yilian-fixture.XXXXXX)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  if [[ -n ${worktree:-} ]]; then git -C "$repo" worktree remove --force "$worktree" || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

if [[ -z $build ]]; then
  worktree=$work/src
  git -C "$repo" worktree add --detach "$worktree" "$full_commit"
  cmake -S "$worktree" -B "$worktree/build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DYILIAN_BUILD_TESTS=OFF -DYILIAN_BUILD_BENCH=OFF
  nice -n 19 ninja -C "$worktree/build" -j1 yilian-broker yilian
  build=$worktree/build
fi
broker_bin=$build/broker/server/yilian-broker
cli=$build/cli/yilian
[[ -x $broker_bin && -x $cli ]] || { echo "no yilian-broker or yilian in $build" >&2; exit 2; }

port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
endpoint=tcp://127.0.0.1:$port
data=$work/data
db=$data/yilian.db
cat >"$work/broker.yaml" <<'EOF'
heartbeat:
  interval_ms: 200
  liveness: 3
retry:
  initial_backoff_ms: 50
  max_backoff_ms: 100
  max_attempts: 2
EOF

q() { sqlite3 -readonly "$db" "$1"; }
# Polls `sql` until it prints `want`, for at most 60 s.
wait_for() {
  local sql=$1 want=$2
  for _ in $(seq 600); do
    [[ $(q "$sql" 2>/dev/null || true) == "$want" ]] && return 0
    sleep 0.1
  done
  echo "timed out waiting for [$sql] = $want (got $(q "$sql" || true))" >&2
  exit 1
}

"$broker_bin" --config "$work/broker.yaml" --data-dir "$data" --listen "$endpoint" --http "" \
  --insecure-dev --log-file "$work/broker.log" 2>/dev/null &
broker_pid=$!
pids+=("$broker_pid")
for _ in $(seq 200); do grep -q "listening on" "$work/broker.log" 2>/dev/null && break; sleep 0.1; done

"$cli" gen-sample --seed 7 --enterprises 6 --events-per-enterprise 3 --deregister-fraction 0.34 \
  --banks ICBC --id-prefix fx-a- >"$work/a.jsonl"
"$cli" gen-sample --seed 8 --enterprises 3 --events-per-enterprise 2 --deregister-fraction 0 \
  --banks ICBC --id-prefix fx-b- >"$work/b.jsonl"

consumers=()
start_consumer() {
  "$cli" consume --broker "$endpoint" "$@" --log "$work/consume.log" 2>>"$work/consume.err" &
  consumers+=($!)
  pids+=($!)
}
start_consumer --agency tax --result processed --reject-pattern '2$'
start_consumer --agency social_insurance --result processed
start_consumer --agency housing_fund --result retry
start_consumer --agency bank:ICBC --result accepted
"$cli" publish --broker "$endpoint" --timeout 60 "$work/a.jsonl" >"$work/publish-a.out"
# Settled at the three agencies that answer finally; the bank holds its
# accepted rows and nothing is out with an adapter unanswered.
wait_for "SELECT COUNT(*) FROM deliveries WHERE agency <> 'bank:ICBC' AND state < 3" 0
wait_for "SELECT COUNT(*) FROM deliveries WHERE state = 1" 0
for c in "${consumers[@]}"; do kill -TERM "$c"; wait "$c" || true; done

"$cli" publish --broker "$endpoint" --timeout 60 "$work/b.jsonl" >"$work/publish-b.out"
kill -TERM "$broker_pid"
wait "$broker_pid"
[[ ! -e $db-wal ]] || { echo "the broker left $db-wal behind" >&2; exit 1; }
[[ $(q "PRAGMA integrity_check") == ok ]]

mkdir -p "$out"
cp "$db" "$out/yilian.db"
chmod 0644 "$out/yilian.db"
state() { q "SELECT COUNT(*) FROM deliveries WHERE state = $1"; }
cat >"$out/manifest.json" <<EOF
{
  "commit": "$full_commit",
  "schema_version": $(q "SELECT value FROM meta WHERE key = 'schema_version'"),
  "events": $(q "SELECT COUNT(*) FROM events"),
  "enterprises": $(q "SELECT COUNT(*) FROM enterprises"),
  "deliveries": $(q "SELECT COUNT(*) FROM deliveries"),
  "pending": $(state 0),
  "delivered": $(state 1),
  "accepted": $(state 2),
  "processed": $(state 3),
  "rejected": $(state 4),
  "dead": $(state 5),
  "case_updates": $(q "SELECT COUNT(*) FROM case_updates"),
  "audit_records": $(q "SELECT COUNT(*) FROM audit")
}
EOF
cat "$out/manifest.json"
