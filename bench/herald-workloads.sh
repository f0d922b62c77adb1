#!/usr/bin/env bash
# Runs the DESIGN.md section 7 workloads with `herald bench` against a fresh local broker, one after
# the other, printing one JSON line per run (and the human summary on stderr with -v).
# Run it right after ../shared/bench/run-peers.sh so that the figures are comparable.
#   bench/herald-workloads.sh            # W1 (4 variants), W2 (10k/s, 50k/s), W5
#   REPS=3 bench/herald-workloads.sh
#   HGRM_DIR=DIR ...                      # also the W2 latency distributions, DIR/herald-RATE-repN.hgrm (bench/plot-latency.sh)
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
REPS=${REPS:-1}
PORT=${PORT:-17170}
[ -f broker-server/target/herald-broker.jar ] && [ -f admin-cli/target/herald.jar ] || ./mvnw -q -B -DskipTests package
HERALD_JAVA_OPTS="-Xms1g -Xmx2g" bin/herald-broker --listen 127.0.0.1:$PORT --http-listen off > /tmp/herald-bench-broker.log 2>&1 &
broker=$!
trap 'kill $broker 2>/dev/null; wait $broker 2>/dev/null || true' EXIT
for _ in $(seq 1 50); do bin/herald broker health -s 127.0.0.1:$PORT >/dev/null 2>&1 && break; sleep 0.2; done
run() { echo "# herald bench $*" >&2; bin/herald bench "$@" -s 127.0.0.1:$PORT -o json; }
# warm the broker's JIT first (a fresh JVM runs its first seconds interpreted); this run is not reported
echo "# warm-up run (not reported)" >&2
bin/herald bench fanout --subscribers 8 --size 128 --warmup 0s --duration 10s -s 127.0.0.1:$PORT -o json > /dev/null
[ -z "${HGRM_DIR:-}" ] || mkdir -p "$HGRM_DIR"
for rep in $(seq 1 "$REPS"); do
  run fanout --subscribers 8 --size 128 --warmup 3s --duration 10s
  run fanout --subscribers 1 --size 128 --warmup 3s --duration 10s
  run fanout --subscribers 8 --size 64 --warmup 3s --duration 10s
  run fanout --subscribers 8 --size 1024 --warmup 3s --duration 10s
  run latency --rate 10000/s --size 128 --warmup 3s --duration 15s ${HGRM_DIR:+--hgrm "$HGRM_DIR/herald-10000-rep$rep.hgrm"}
  run latency --rate 50000/s --size 128 --warmup 3s --duration 15s ${HGRM_DIR:+--hgrm "$HGRM_DIR/herald-50000-rep$rep.hgrm"}
  run fanout --subscribers 1 --slow-subscribers 1 --slow-delay 1ms --policy DROP_OLDEST --size 128 --warmup 3s --duration 10s
done
