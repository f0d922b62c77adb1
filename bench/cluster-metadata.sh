#!/usr/bin/env bash
# Metadata visibility on a 3-node loopback cluster: `herald bench metadata` creates, updates and
# deletes a topic through n1 and measures until all three nodes answer with the change. Idle first
# (twice: cold, then warmed up), then with a 5,000 ev/s background publisher (n2 -> owner, subscriber on n3). Each run at most
# ROUNDS rounds (default 200) and DURATION (default 60s); loopback only.
# Run from the repository root after ./mvnw -DskipTests package: bash bench/cluster-metadata.sh
set -u
cd "$(dirname "$0")/.."
. bench/cluster-lib.sh
ROUNDS=${ROUNDS:-200}
DURATION=${DURATION:-60s}
LOAD=${LOAD:-5000/s}
out=${TMPDIR:-/tmp}/herald-metadata-bench.txt
: > "$out"
trap cl_stop EXIT
cl_start || exit 1
"$CL_H" --server 127.0.0.1:7070 cluster status >> "$out" 2>&1
# the first idle run meets a cold JIT in the brokers (Ratis and gRPC paths run a few hundred times
# per run): it is printed, and the second idle run is the steady-state figure
for run in idle-cold idle loaded; do
  flags=""; [ $run = loaded ] && flags="--load $LOAD"
  echo "== $run" >> "$out"
  # shellcheck disable=SC2086
  "$CL_H" bench metadata --servers=$CL_SERVERS --rounds "$ROUNDS" --duration "$DURATION" $flags >> "$out" 2>&1
done
cat "$out"
