#!/usr/bin/env bash
# A 3-node Herald cluster on loopback for the bench scripts: nodes n1, n2, n3 with gRPC on
# 7070/7170/7270, HTTP on 7071/7171/7271 (or off), Raft on 7072/7172/7272; data dirs, logs and pid
# files under ${HERALD_CLUSTER_DIR:-${TMPDIR:-/tmp}/herald-cluster}.
#
# Source it (functions below) or run it:
#   bash bench/cluster-lib.sh start          # fresh data dirs; waits until every node is alive
#   bash bench/cluster-lib.sh start-node n2  # (re)start one node on its existing data dir
#   bash bench/cluster-lib.sh kill-node n2   # kill -9 (no hand-over)
#   bash bench/cluster-lib.sh stop           # SIGTERM to every node, waits (bounded), then kill -9
#   bash bench/cluster-lib.sh status
# Settings (environment): HERALD_CLUSTER_HTTP=on|off (default off), HERALD_CLUSTER_BROKER_FLAGS (extra
# broker flags, e.g. "--liveness-timeout 3s"), HERALD_CLUSTER_START_TIMEOUT (seconds, default 90).
# Run from anywhere after ./mvnw -DskipTests package (bin/herald-broker builds the jar if missing).

CL_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
CL_DIR=${HERALD_CLUSTER_DIR:-${TMPDIR:-/tmp}/herald-cluster}
CL_NODES="n1 n2 n3"
CL_PEERS=n1=127.0.0.1:7072,n2=127.0.0.1:7172,n3=127.0.0.1:7272
CL_SERVERS=127.0.0.1:7070,127.0.0.1:7170,127.0.0.1:7270
CL_H="$CL_ROOT/bin/herald"
CL_B="$CL_ROOT/bin/herald-broker"

cl_base() { case "$1" in n1) echo 7070 ;; n2) echo 7170 ;; n3) echo 7270 ;; *) echo "cluster-lib: unknown node '$1' (n1, n2, n3)" >&2; return 2 ;; esac; }
cl_grpc() { echo "127.0.0.1:$(cl_base "$1")"; }
cl_pid() { cat "$CL_DIR/$1.pid" 2>/dev/null; }
cl_running() { local p; p=$(cl_pid "$1"); [ -n "$p" ] && kill -0 "$p" 2>/dev/null; }

# start one node in the background on its data dir (kept across restarts)
cl_start_node() {
  local id=$1 base http
  base=$(cl_base "$id") || return 2
  if cl_running "$id"; then echo "cluster-lib: $id is running already (pid $(cl_pid "$id"))" >&2; return 1; fi
  if (exec 3<>"/dev/tcp/127.0.0.1/$base") 2>/dev/null; then
    echo "cluster-lib: port $base is in use by another process; not starting $id" >&2; return 1
  fi
  http=off
  [ "${HERALD_CLUSTER_HTTP:-off}" = on ] && http=127.0.0.1:$((base + 1))
  mkdir -p "$CL_DIR/$id"
  # shellcheck disable=SC2086
  nohup "$CL_B" --node-id "$id" --listen "127.0.0.1:$base" --http-listen "$http" --raft-listen "127.0.0.1:$((base + 2))" \
    --data-dir "$CL_DIR/$id" --peers "$CL_PEERS" ${HERALD_CLUSTER_BROKER_FLAGS:-} >> "$CL_DIR/$id.log" 2>&1 < /dev/null &
  echo $! > "$CL_DIR/$id.pid"
}

cl_kill_node() { local p; p=$(cl_pid "$1"); [ -n "$p" ] && kill -9 "$p" 2>/dev/null; return 0; }

# wait (bounded) until node $1 (default n1) sees every node alive and a leader
cl_wait_alive() {
  local via=${1:-n1} limit=${HERALD_CLUSTER_START_TIMEOUT:-90} t0 s n
  t0=$(date +%s)
  while [ $(($(date +%s) - t0)) -lt "$limit" ]; do
    s=$("$CL_H" --server "$(cl_grpc "$via")" --timeout 3s cluster status -o json 2>/dev/null)
    n=$(printf '%s' "$s" | grep -c '"alive": true')
    if [ "$n" = 3 ] && printf '%s' "$s" | grep -q '"leaderId": "n'; then return 0; fi
    sleep 0.5
  done
  echo "cluster-lib: the cluster did not come up within ${limit}s (logs: $CL_DIR/*.log)" >&2
  return 1
}

cl_start() {
  cl_stop >/dev/null 2>&1
  rm -rf "$CL_DIR"; mkdir -p "$CL_DIR"
  local id
  for id in $CL_NODES; do cl_start_node "$id" || return 1; done
  cl_wait_alive n1
}

# SIGTERM to every node at once (a graceful stop drains; bounded by the broker's drain timeout), then kill -9
cl_stop() {
  local id p pids="" i
  for id in $CL_NODES; do p=$(cl_pid "$id"); [ -n "$p" ] && kill "$p" 2>/dev/null && pids="$pids $p"; done
  for i in $(seq 1 60); do
    local alive=""
    for p in $pids; do kill -0 "$p" 2>/dev/null && alive="$alive $p"; done
    [ -z "$alive" ] && break
    sleep 0.5
  done
  for p in $pids; do kill -9 "$p" 2>/dev/null; done
  for id in $CL_NODES; do rm -f "$CL_DIR/$id.pid"; done
  return 0
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
  set -u
  case "${1:-}" in
    start) cl_start ;;
    stop) cl_stop ;;
    start-node) cl_start_node "${2:?node id}" ;;
    kill-node) cl_kill_node "${2:?node id}" ;;
    wait) cl_wait_alive "${2:-n1}" ;;
    status) "$CL_H" --server 127.0.0.1:7070 cluster status ;;
    *) echo "usage: $0 start|stop|start-node ID|kill-node ID|wait [ID]|status" >&2; exit 2 ;;
  esac
fi
