#!/usr/bin/env bash
# Starts and stops the peer brokers of the benchmark on 127.0.0.1, each with
# all of its state in one folder (no system-wide service is used or changed).
#
#   bench/servers.sh rabbitmq DIR PORT start|stop|pid
#   bench/servers.sh nats     DIR PORT start|stop|pid
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

rabbitmq_env() {
  export HOME="$dir"  # the Erlang cookie lives here
  export RABBITMQ_NODENAME="ylbench${port}@localhost"
  export RABBITMQ_NODE_IP_ADDRESS=127.0.0.1
  export RABBITMQ_NODE_PORT="$port"
  export RABBITMQ_DIST_PORT=$((port + 1))
  export ERL_EPMD_PORT=$((port + 2))
  export ERL_EPMD_ADDRESS=127.0.0.1
  export RABBITMQ_MNESIA_BASE="$dir/mnesia"
  export RABBITMQ_LOG_BASE="$dir/log"
  export RABBITMQ_PID_FILE="$dir/server.pid"
  export RABBITMQ_CONFIG_FILE="$dir/rabbitmq.conf"
  export RABBITMQ_ENABLED_PLUGINS_FILE="$dir/enabled_plugins"
  export RABBITMQ_CONF_ENV_FILE="$dir/rabbitmq-env.conf"
  export RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS="-kernel inet_dist_use_interface {127,0,0,1}"
}

case "$system:$action" in
  rabbitmq:start)
    rabbitmq_env
    mkdir -p "$RABBITMQ_MNESIA_BASE" "$RABBITMQ_LOG_BASE"
    cat >"$RABBITMQ_CONFIG_FILE" <<EOF
listeners.tcp.default = 127.0.0.1:$port
log.console = false
log.file.level = warning
EOF
    echo "[]." >"$RABBITMQ_ENABLED_PLUGINS_FILE"
    : >"$RABBITMQ_CONF_ENV_FILE"
    rm -f "$RABBITMQ_PID_FILE"
    setsid /usr/lib/rabbitmq/bin/rabbitmq-server >>"$dir/server.out" 2>&1 </dev/null &
    if ! wait_port "$port" 300; then
      echo "servers.sh: RabbitMQ did not open port $port; see $dir/server.out and $RABBITMQ_LOG_BASE" >&2
      exit 1
    fi
    until [[ -s "$RABBITMQ_PID_FILE" ]]; do sleep 0.05; done
    ;;
  rabbitmq:stop)
    rabbitmq_env
    stop_pid_file "$RABBITMQ_PID_FILE"
    ;;
  rabbitmq:kill-epmd)
    rabbitmq_env
    epmd -kill >/dev/null 2>&1 || true
    ;;
  nats:start)
    rm -f "$dir/server.pid"
    setsid nats-server -js -sd "$dir/jetstream" -a 127.0.0.1 -p "$port" -P "$dir/server.pid" \
      -l "$dir/server.log" >>"$dir/server.out" 2>&1 </dev/null &
    if ! wait_port "$port" 300; then
      echo "servers.sh: nats-server did not open port $port; see $dir/server.log" >&2
      exit 1
    fi
    until [[ -s "$dir/server.pid" ]]; do sleep 0.05; done
    ;;
  nats:stop)
    stop_pid_file "$dir/server.pid"
    ;;
  *:pid)
    cat "$dir/server.pid"
    ;;
  *)
    echo "usage: servers.sh rabbitmq|nats DIR PORT start|stop|pid" >&2
    exit 2
    ;;
esac
