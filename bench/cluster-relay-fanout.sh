#!/usr/bin/env bash
# Issue 11: fan-out through a relay (publisher on n1, owner n3, 8 subscribers on n2) against one
# node, back to back, twice. Loopback only; every bench run is 3 s warm-up + 10 s measured.
# Run from the repository root after ./mvnw -DskipTests package: bash bench/cluster-relay-fanout.sh
# one-node vs relay fan-out, alternating; loopback only; every run bounded (10 s measured)
set -u
cd "$(dirname "$0")/.."
. bench/cluster-lib.sh
H=bin/herald
B=bin/herald-broker
out=${TMPDIR:-/tmp}/herald-relay-bench.txt
: > $out
# BENCH_ARGS: more `herald bench fanout` options for both runs (e.g. "--linger 1ms").
# CPU used by each process during 8 s of the measured window (from 1 s after the warm-up, WARMUP in
# whole seconds, default 3s), in cores; with the delivered rate this gives CPU per event
ticks() { awk '{print $14 + $15}' /proc/$1/stat 2>/dev/null || echo 0; }
cpu_window() { # cpu_window NAME=PID... ; prints "NAME cores" for each, after sleeping through the window
  local w hz a b t0 t1 pairs=("$@") n p
  w=${WARMUP:-3s}; hz=$(getconf CLK_TCK); sleep $(( ${w%s} + 1 )); declare -A a; for x in "${pairs[@]}"; do a[${x%%=*}]=$(ticks ${x#*=}); done; t0=$(date +%s.%N)
  sleep 8; t1=$(date +%s.%N)
  for x in "${pairs[@]}"; do n=${x%%=*}; p=${x#*=}; b=$(ticks $p)
    awk -v n=$n -v d=$((b - a[$n])) -v hz=$hz -v t0=$t0 -v t1=$t1 'BEGIN{printf "%s=%.2f ", n, d/hz/(t1-t0)}'; done; echo
}
stop() { for p in "$@"; do kill $p 2>/dev/null; done; for p in "$@"; do wait $p 2>/dev/null; done; }
for round in ${ROUNDS_LIST:-1 2}; do
  # one node (ONE_NODE=0: the relay runs only)
  if [ "${ONE_NODE:-1}" != 0 ]; then
  rm -rf ${TMPDIR:-/tmp}/herald-relay-bench-d1; $B --listen 127.0.0.1:7070 --http-listen off --data-dir ${TMPDIR:-/tmp}/herald-relay-bench-d1 > ${TMPDIR:-/tmp}/herald-relay-bench-one.log 2>&1 & P=$!
  for i in $(seq 1 60); do $H --server 127.0.0.1:7070 cluster status >/dev/null 2>&1 && break; sleep 0.5; done
  $H --server 127.0.0.1:7070 bench fanout --subscribers 8 --size 128 --warmup ${WARMUP:-3s} --duration 10s ${BENCH_ARGS:-} -o json > ${TMPDIR:-/tmp}/herald-relay-bench-run.txt 2>&1 & BP=$!
  c=$(cpu_window broker=$P bench=$BP); wait $BP
  r=$(tail -1 ${TMPDIR:-/tmp}/herald-relay-bench-run.txt)
  echo "one-node round $round: $r" >> $out
  echo "one-node round $round cpu cores: $c" >> $out
  stop $P
  fi
  # three nodes (bench/cluster-lib.sh): publisher on n1, owner n3 (rendezvous for bench-fanout-0), subscribers on n2
  cl_start || exit 1
  $H --server 127.0.0.1:7070 cluster status >> $out 2>&1
  $H --server 127.0.0.1:7070 bench fanout --publish-server 127.0.0.1:7070 --subscribe-server 127.0.0.1:7170 --keep --subscribers 8 --size 128 --warmup ${WARMUP:-3s} --duration 10s ${BENCH_ARGS:-} -o json > ${TMPDIR:-/tmp}/herald-relay-bench-run.txt 2>&1 & BP=$!
  c=$(cpu_window n1=$(cl_pid n1) n2=$(cl_pid n2) n3=$(cl_pid n3) bench=$BP); wait $BP
  r=$(tail -1 ${TMPDIR:-/tmp}/herald-relay-bench-run.txt)
  echo "relay round $round: $r" >> $out
  echo "relay round $round cpu cores: $c" >> $out
  $H --server 127.0.0.1:7070 topic describe bench-fanout-0 2>&1 | grep -E "owner|epoch" >> $out
  $H --server 127.0.0.1:7070 topic delete bench-fanout-0 --force >/dev/null 2>&1
  cl_stop
done
cat $out
