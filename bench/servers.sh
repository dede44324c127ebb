#!/usr/bin/env bash
# Starts and stops the peer brokers of the benchmark on 127.0.0.1, each with
# all of its state in one folder (no system-wide service is used or changed).
#
#   bench/servers.sh rabbitmq         DIR PORT start|stop|pid|kill-epmd
#   bench/servers.sh nats             DIR PORT start|stop|pid
#   bench/servers.sh rabbitmq-cluster DIR PORT start|stop|pid|kill-epmd
#   bench/servers.sh nats-cluster     DIR PORT start|stop|pid
#
# start returns once the client port accepts connections and the pid file is
# written; stop sends SIGTERM and waits for the process to exit; the data in
# DIR is kept, so stop + start is a restart with the stored history.
#
# RabbitMQ: node name ylbench<PORT>@localhost, AMQP on PORT, Erlang
# distribution on PORT+1, a private epmd on PORT+2 (so an epmd or node of
# a system-wide RabbitMQ is not touched), no plugins; logs, Mnesia and
# message store under DIR.
# NATS: nats-server -js with its store under DIR/jetstream, no monitoring
# port.
#
# The clusters have 3 nodes on 127.0.0.1, node K (0, 1, 2) with all of its
# state in DIR/nodeK and its pid in DIR/nodeK/server.pid; `pid` prints node
# 0's, start and stop start and stop all three (a restart of the cluster
# is not supported: the benchmark restarts only single servers).
# rabbitmq-cluster: node K is ylbench<PORT+3K>@localhost with AMQP on
# PORT+3K and Erlang distribution on PORT+3K+1; the nodes share a private
# epmd on PORT+9 and one Erlang cookie; nodes 1 and 2 join node 0 with
# rabbitmqctl join_cluster. Ports PORT to PORT+9.
# nats-cluster: node K (server name ylbench-nK, cluster ylbench) has its
# client port on PORT+2K and its cluster port on PORT+2K+1, with routes to
# all three; JetStream is clustered. Ports PORT to PORT+5. A stream made
# right after the start may have to wait for JetStream's leader election
# (bench-nats retries for up to a minute).
set -euo pipefail

system=${1:?system}
dir=${2:?state dir}
port=${3:?port}
action=${4:?action}
mkdir -p "$dir"
dir=$(cd "$dir" && pwd)

wait_port() {  # wait_port PORT SECONDS
  local deadline=$((SECONDS + $2))
  until (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; do
    if ((SECONDS > deadline)); then return 1; fi
    sleep 0.05
  done
}

stop_pid_file() {  # stop_pid_file FILE
  [[ -s "$1" ]] || return 0
  local pid
  pid=$(cat "$1")
  if kill -0 "$pid" 2>/dev/null; then
    kill -TERM "$pid"
    local deadline=$((SECONDS + 120))
    while kill -0 "$pid" 2>/dev/null; do
      if ((SECONDS > deadline)); then kill -KILL "$pid" 2>/dev/null || true; fi
      sleep 0.05
    done
  fi
  rm -f "$1"
}

# rabbitmq_env NODE_DIR AMQP_PORT EPMD_PORT: the environment of one node,
# and of rabbitmqctl talking to it.
rabbitmq_env() {
  export HOME="$1"  # the Erlang cookie lives here
  export RABBITMQ_NODENAME="ylbench$2@localhost"
  export RABBITMQ_NODE_IP_ADDRESS=127.0.0.1
  export RABBITMQ_NODE_PORT="$2"
  export RABBITMQ_DIST_PORT=$(($2 + 1))
  export ERL_EPMD_PORT="$3"
  export ERL_EPMD_ADDRESS=127.0.0.1
  export RABBITMQ_MNESIA_BASE="$1/mnesia"
  export RABBITMQ_LOG_BASE="$1/log"
  export RABBITMQ_PID_FILE="$1/server.pid"
  export RABBITMQ_CONFIG_FILE="$1/rabbitmq.conf"
  export RABBITMQ_ENABLED_PLUGINS_FILE="$1/enabled_plugins"
  export RABBITMQ_CONF_ENV_FILE="$1/rabbitmq-env.conf"
  export RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS="-kernel inet_dist_use_interface {127,0,0,1}"
}

# rabbitmq_start NODE_DIR AMQP_PORT EPMD_PORT: starts one node and returns
# once its AMQP port accepts connections and its pid file is written.
rabbitmq_start() (
  rabbitmq_env "$@"
  mkdir -p "$RABBITMQ_MNESIA_BASE" "$RABBITMQ_LOG_BASE"
  cat >"$RABBITMQ_CONFIG_FILE" <<EOF
listeners.tcp.default = 127.0.0.1:$2
log.console = false
log.file.level = warning
EOF
  echo "[]." >"$RABBITMQ_ENABLED_PLUGINS_FILE"
  : >"$RABBITMQ_CONF_ENV_FILE"
  rm -f "$RABBITMQ_PID_FILE"
  setsid /usr/lib/rabbitmq/bin/rabbitmq-server >>"$1/server.out" 2>&1 </dev/null &
  if ! wait_port "$2" 300; then
    echo "servers.sh: RabbitMQ did not open port $2; see $1/server.out and $RABBITMQ_LOG_BASE" >&2
    exit 1
  fi
  until [[ -s "$RABBITMQ_PID_FILE" ]]; do sleep 0.05; done
)

# rabbitmqctl_on NODE_DIR AMQP_PORT EPMD_PORT ARGS...: rabbitmqctl talking to
# that node (the one in /usr/lib: /usr/sbin's wrapper would switch to the
# rabbitmq user and its home, where the cookie is not).
rabbitmqctl_on() (
  rabbitmq_env "$1" "$2" "$3"
  shift 3
  /usr/lib/rabbitmq/bin/rabbitmqctl "$@"
)

# nats_start NODE_DIR CLIENT_PORT [MORE nats-server OPTIONS...]
nats_start() {
  local d="$1" p="$2"
  shift 2
  mkdir -p "$d"
  rm -f "$d/server.pid"
  setsid nats-server -js -sd "$d/jetstream" -a 127.0.0.1 -p "$p" -P "$d/server.pid" \
    -l "$d/server.log" "$@" >>"$d/server.out" 2>&1 </dev/null &
  if ! wait_port "$p" 300; then
    echo "servers.sh: nats-server did not open port $p; see $d/server.log" >&2
    return 1
  fi
  until [[ -s "$d/server.pid" ]]; do sleep 0.05; done
}

# Runs `start_one K` for the 3 nodes in parallel; fails if one failed.
start_nodes() {
  local k pids=() failed=0
  for k in 0 1 2; do
    "$1" "$k" &
    pids+=($!)
  done
  for k in "${pids[@]}"; do wait "$k" || failed=1; done
  return "$failed"
}

stop_nodes() {
  local k
  for k in 0 1 2; do stop_pid_file "$dir/node$k/server.pid" & done
  wait
}

rabbitmq_node() { rabbitmq_start "$dir/node$1" $((port + 3 * $1)) $((port + 9)); }
nats_node() {
  nats_start "$dir/node$1" $((port + 2 * $1)) -n "ylbench-n$1" --cluster_name ylbench \
    --cluster "nats://127.0.0.1:$((port + 2 * $1 + 1))" \
    --routes "nats://127.0.0.1:$((port + 1)),nats://127.0.0.1:$((port + 3)),nats://127.0.0.1:$((port + 5))"
}

case "$system:$action" in
  rabbitmq:start)
    rabbitmq_start "$dir" "$port" $((port + 2))
    ;;
  rabbitmq:stop)
    stop_pid_file "$dir/server.pid"
    ;;
  rabbitmq:kill-epmd)
    (rabbitmq_env "$dir" "$port" $((port + 2)) && epmd -kill >/dev/null 2>&1) || true
    ;;
  rabbitmq-cluster:start)
    # One cookie for the three nodes and rabbitmqctl: each node's HOME has
    # a copy.
    cookie="$(head -c 256 /dev/urandom | LC_ALL=C tr -dc '[:upper:]' | head -c 20)"
    for k in 0 1 2; do
      mkdir -p "$dir/node$k"
      rm -f "$dir/node$k/.erlang.cookie"
      printf '%s' "$cookie" >"$dir/node$k/.erlang.cookie"
      chmod 400 "$dir/node$k/.erlang.cookie"
    done
    start_nodes rabbitmq_node
    for k in 1 2; do
      node=("$dir/node$k" $((port + 3 * k)) $((port + 9)))
      if ! { rabbitmqctl_on "${node[@]}" stop_app &&
             rabbitmqctl_on "${node[@]}" join_cluster "ylbench${port}@localhost" &&
             rabbitmqctl_on "${node[@]}" start_app; } >>"$dir/node$k/cluster.out" 2>&1; then
        echo "servers.sh: RabbitMQ node $k did not join node 0; see $dir/node$k/cluster.out" >&2
        exit 1
      fi
    done
    if ! rabbitmqctl_on "$dir/node0" "$port" $((port + 9)) await_online_nodes 3 --timeout 120 \
         >>"$dir/node0/cluster.out" 2>&1; then
      echo "servers.sh: the RabbitMQ cluster does not have 3 running nodes; see $dir/node0/cluster.out" >&2
      exit 1
    fi
    for k in 0 1 2; do wait_port $((port + 3 * k)) 300; done
    ;;
  rabbitmq-cluster:stop|nats-cluster:stop)
    stop_nodes
    ;;
  rabbitmq-cluster:kill-epmd)
    (rabbitmq_env "$dir/node0" "$port" $((port + 9)) && epmd -kill >/dev/null 2>&1) || true
    ;;
  rabbitmq-cluster:pid|nats-cluster:pid)
    cat "$dir/node0/server.pid"
    ;;
  nats:start)
    nats_start "$dir" "$port"
    ;;
  nats:stop)
    stop_pid_file "$dir/server.pid"
    ;;
  nats-cluster:start)
    start_nodes nats_node
    ;;
  *:pid)
    cat "$dir/server.pid"
    ;;
  *)
    echo "usage: servers.sh rabbitmq|nats|rabbitmq-cluster|nats-cluster DIR PORT start|stop|pid|kill-epmd" >&2
    exit 2
    ;;
esac
