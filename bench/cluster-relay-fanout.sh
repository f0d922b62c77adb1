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
stop() { for p in "$@"; do kill $p 2>/dev/null; done; for p in "$@"; do wait $p 2>/dev/null; done; }
for round in ${ROUNDS_LIST:-1 2}; do
  # one node
  rm -rf ${TMPDIR:-/tmp}/herald-relay-bench-d1; $B --listen 127.0.0.1:7070 --http-listen off --data-dir ${TMPDIR:-/tmp}/herald-relay-bench-d1 > ${TMPDIR:-/tmp}/herald-relay-bench-one.log 2>&1 & P=$!
  for i in $(seq 1 60); do $H --server 127.0.0.1:7070 cluster status >/dev/null 2>&1 && break; sleep 0.5; done
  r=$($H --server 127.0.0.1:7070 bench fanout --subscribers 8 --size 128 --warmup 3s --duration 10s -o json 2>&1 | tail -1)
  echo "one-node round $round: $r" >> $out
  stop $P
  # three nodes (bench/cluster-lib.sh): publisher on n1, owner n3 (rendezvous for bench-fanout-0), subscribers on n2
  cl_start || exit 1
  $H --server 127.0.0.1:7070 cluster status >> $out 2>&1
  r=$($H --server 127.0.0.1:7070 bench fanout --publish-server 127.0.0.1:7070 --subscribe-server 127.0.0.1:7170 --keep --subscribers 8 --size 128 --warmup 3s --duration 10s -o json 2>&1 | tail -1)
  echo "relay round $round: $r" >> $out
  $H --server 127.0.0.1:7070 topic describe bench-fanout-0 2>&1 | grep -E "owner|epoch" >> $out
  $H --server 127.0.0.1:7070 topic delete bench-fanout-0 --force >/dev/null 2>&1
  cl_stop
done
cat $out
