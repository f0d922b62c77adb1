#!/usr/bin/env bash
# JMH benchmarks of the broker's hot path (issue 12): the subscribe frame encoder, a subscription's
# buffer under each policy, and a topic's dispatch loop end to end without the network.
#   bash bench/jmh.sh                      # all of them, with the GC profiler (allocation per op)
#   bash bench/jmh.sh DispatchLoopBench    # one class (any JMH options after it, e.g. -p subscribers=8)
# Builds benchmarks/target/benchmarks.jar (tests skipped) if it is missing or older than the
# sources; results also go to ${TMPDIR:-/tmp}/herald-jmh.json. Run on a quiet machine: JMH figures
# are throughput per op on this machine, meaningful beside each other, not across machines.
set -euo pipefail
cd "$(dirname "$0")/.."
. bin/find-java.sh
find_java
jar=benchmarks/target/benchmarks.jar
if [ ! -f "$jar" ] || [ -n "$(find benchmarks/src broker-server/src/main -newer "$jar" -name '*.java' | head -1)" ]; then
  ./mvnw -q -B -DskipTests -pl benchmarks -am package >&2
fi
# shellcheck disable=SC2046
exec "$JAVA" $(jvm_flags) -jar "$jar" -prof gc -rf json -rff "${TMPDIR:-/tmp}/herald-jmh.json" "$@"
