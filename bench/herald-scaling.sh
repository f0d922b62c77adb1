#!/usr/bin/env bash
# Issue 12 scaling table, Herald side: one broker on loopback, `herald bench fanout` for
#   1 topic, 1 publisher, N subscribers, N = 1 8 64 256            (SUBS_LIST)
#   T topics, each with its own publisher and subscriber, T = 1 100 1000   (TOPICS_LIST)
# 128 B events, BLOCK. Each line: delivered/s, published/s, the broker's CPU over 8 s of the measured
# window (cores) and broker CPU microseconds per delivered event; nothing may be unaccounted.
# The topic runs use --buffer ${BUFFER:-1000} (subscriber buffer and inbox per topic) so that BLOCK
# paces the publishers within the warm-up and the window measures a steady state (with the bench's
# default 100,000 per topic, 100 topics hold 20 M events of room and never push back in 10 s).
# Run from the repository root after ./mvnw -DskipTests package; loopback only, every run bounded
# (each bench run at most RUN_LIMIT seconds, default 180; WARMUP whole seconds, default 10s; PORT
# default 17070). The broker's CPU is sampled over 8 s of the bench's measured window. NATS for the same shapes:
# ../shared/bench (W1 with --subs N), run close to this in the same sitting.
set -u
cd "$(dirname "$0")/.."
H=bin/herald
B=bin/herald-broker
W=${WARMUP:-10s}
PORT=${PORT:-17070}
[[ $W =~ ^[0-9]+s$ ]] || { echo "herald-scaling: WARMUP must be whole seconds, e.g. 10s (was $W)" >&2; exit 2; }
dir=${TMPDIR:-/tmp}/herald-scaling
rm -rf "$dir"; mkdir -p "$dir"
ticks() { awk '{print $14 + $15}' /proc/$1/stat 2>/dev/null || echo 0; }
$B --listen 127.0.0.1:$PORT --http-listen off --data-dir "$dir/data" > "$dir/broker.log" 2>&1 & P=$!
bp=
trap 'kill $bp $P 2>/dev/null; wait $P 2>/dev/null' EXIT
for i in $(seq 1 60); do kill -0 $P 2>/dev/null && $H --server 127.0.0.1:$PORT cluster status >/dev/null 2>&1 && break; sleep 0.5; done
kill -0 $P 2>/dev/null || { echo "herald-scaling: the broker did not start (port $PORT taken?): $dir/broker.log" >&2; exit 1; }
run() { # run LABEL bench-args...
  local label=$1; shift
  # bounded: RUN_LIMIT seconds (default 180) per run, then the bench is killed
  timeout -k 5 "${RUN_LIMIT:-180}" $H --server 127.0.0.1:$PORT bench fanout --size 128 --warmup "$W" --duration 10s -o json "$@" > "$dir/run.json" 2>"$dir/run.err" & bp=$!
  # the broker's CPU over 8 s from 1 s after the bench says it measures (setup of many topics and
  # clients can take longer than the warm-up itself); bounded wait
  local waited=0
  until grep -q 'measuring for' "$dir/run.err" 2>/dev/null || ! kill -0 $bp 2>/dev/null || [ $waited -ge 600 ]; do sleep 0.5; waited=$((waited + 1)); done
  sleep 1; local a t0 b t1 hz
  hz=$(getconf CLK_TCK); a=$(ticks $P); t0=$(date +%s.%N); sleep 8; b=$(ticks $P); t1=$(date +%s.%N)
  wait $bp
  local json; json=$(tail -1 "$dir/run.json")
  python3 - "$label" "$json" "$a" "$b" "$t0" "$t1" "$hz" <<'PY'
import json, sys
label, raw, a, b, t0, t1, hz = sys.argv[1:]
try:
    r = json.loads(raw)
except ValueError:
    print(f"{label}: run failed: {raw[:200]}"); sys.exit(0)
cores = (int(b) - int(a)) / int(hz) / (float(t1) - float(t0))
d = r["deliver_rate"]
us = cores * 1e6 / d if d else float("nan")
print(f"{label:18s} delivered/s {d:>12,.0f}  published/s {r['publish_rate']:>10,.0f}  broker {cores:4.2f} cores  "
      f"{us:6.2f} us/delivery  unaccounted {r['unaccounted']}  p50 {r['latency_us']['p50']/1000:,.0f} ms")
PY
}
for n in ${SUBS_LIST:-1 8 64 256}; do
  run "1 topic x $n sub" --topics 1 --subscribers "$n"
done
for t in ${TOPICS_LIST:-1 100 1000}; do
  run "$t topic(s) x 1:1" --topics "$t" --subscribers 1 --buffer "${BUFFER:-1000}"
done
