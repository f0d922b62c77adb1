#!/usr/bin/env bash
# Owner failover on a 3-node loopback cluster (default election 1 s and liveness 5 s timeouts):
# `herald bench failover` creates a topic per round, publishes through one non-owner at RATE and
# subscribes through the other, kills the owner with kill -9 (pid file of cluster-lib.sh) and
# measures kill -> first new-epoch delivery and kill -> first new-epoch ack; the killed node is
# started again after each round (broker logs kept in ${TMPDIR:-/tmp}/herald-failover-logs).
# At most ROUNDS rounds (default 6) and 15 minutes; loopback only.
# Run from the repository root after ./mvnw -DskipTests package: bash bench/cluster-failover.sh
set -u
cd "$(dirname "$0")/.."
. bench/cluster-lib.sh
ROUNDS=${ROUNDS:-6}
RATE=${RATE:-200/s}
out=${TMPDIR:-/tmp}/herald-failover-bench.txt
: > "$out"
logs=${TMPDIR:-/tmp}/herald-failover-logs
trap 'cl_stop; rm -rf "$logs"; mkdir -p "$logs"; cp "$CL_DIR"/*.log "$logs"/ 2>/dev/null' EXIT
cl_start || exit 1
"$CL_H" --server 127.0.0.1:7070 cluster status >> "$out" 2>&1
"$CL_H" bench failover --servers=$CL_SERVERS --rounds "$ROUNDS" --rate "$RATE" --duration 15m \
  --kill-command "kill -9 \$(cat $CL_DIR/{node}.pid)" \
  --restart-command "bash $CL_ROOT/bench/cluster-lib.sh start-node {node}" >> "$out" 2>&1
rc=$?
echo "exit $rc" >> "$out"
cat "$out"
