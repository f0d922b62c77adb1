#!/usr/bin/env bash
# Issue 11: fan-out through a relay (publisher on n1, owner n3, 8 subscribers on n2) against one
# node, back to back, twice. Loopback only; every bench run is 3 s warm-up + 10 s measured.
# Run from the repository root after ./mvnw -DskipTests package: bash bench/cluster-relay-fanout.sh
# one-node vs relay fan-out, alternating; loopback only; every run bounded (10 s measured)
set -u
cd "$(dirname "$0")/.."
H=bin/herald
B=bin/herald-broker
out=${TMPDIR:-/tmp}/herald-relay-bench.txt
: > $out
stop() { for p in "$@"; do kill $p 2>/dev/null; done; for p in "$@"; do wait $p 2>/dev/null; done; }
for round in 1 2; do
  # one node
  rm -rf ${TMPDIR:-/tmp}/herald-relay-bench-d1; $B --listen 127.0.0.1:7070 --http-listen off --data-dir ${TMPDIR:-/tmp}/herald-relay-bench-d1 > ${TMPDIR:-/tmp}/herald-relay-bench-one.log 2>&1 & P=$!
  for i in $(seq 1 60); do $H --server 127.0.0.1:7070 cluster status >/dev/null 2>&1 && break; sleep 0.5; done
  r=$($H --server 127.0.0.1:7070 bench fanout --subscribers 8 --size 128 --warmup 3s --duration 10s -o json 2>&1 | tail -1)
  echo "one-node round $round: $r" >> $out
  stop $P
  # three nodes: publisher on n1, owner n3 (rendezvous for bench-fanout-0), subscribers on n2
  rm -rf ${TMPDIR:-/tmp}/herald-relay-bench-c; PEERS=n1=127.0.0.1:7072,n2=127.0.0.1:7172,n3=127.0.0.1:7272
  $B --node-id n1 --listen 127.0.0.1:7070 --http-listen off --raft-listen 127.0.0.1:7072 --data-dir ${TMPDIR:-/tmp}/herald-relay-bench-c/n1 --peers $PEERS > ${TMPDIR:-/tmp}/herald-relay-bench-n1.log 2>&1 & P1=$!
  $B --node-id n2 --listen 127.0.0.1:7170 --http-listen off --raft-listen 127.0.0.1:7172 --data-dir ${TMPDIR:-/tmp}/herald-relay-bench-c/n2 --peers $PEERS > ${TMPDIR:-/tmp}/herald-relay-bench-n2.log 2>&1 & P2=$!
  $B --node-id n3 --listen 127.0.0.1:7270 --http-listen off --raft-listen 127.0.0.1:7272 --data-dir ${TMPDIR:-/tmp}/herald-relay-bench-c/n3 --peers $PEERS > ${TMPDIR:-/tmp}/herald-relay-bench-n3.log 2>&1 & P3=$!
  for i in $(seq 1 120); do
    n=$($H --server 127.0.0.1:7070 cluster status -o json 2>/dev/null | grep -c '"alive": true'); [ "$n" = "3" ] && break; sleep 0.5; done
  $H --server 127.0.0.1:7070 cluster status >> $out 2>&1
  r=$($H --server 127.0.0.1:7070 bench fanout --publish-server 127.0.0.1:7070 --subscribe-server 127.0.0.1:7170 --keep --subscribers 8 --size 128 --warmup 3s --duration 10s -o json 2>&1 | tail -1)
  echo "relay round $round: $r" >> $out
  $H --server 127.0.0.1:7070 topic describe bench-fanout-0 2>&1 | grep -E "owner|epoch" >> $out
  $H --server 127.0.0.1:7070 topic delete bench-fanout-0 >/dev/null 2>&1
  stop $P1 $P2 $P3
done
cat $out
