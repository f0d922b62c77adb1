#!/usr/bin/env bash
# Percentile plot (PNG) of latency distributions in HdrHistogram .hgrm files (microseconds), e.g.
# Herald's `herald bench latency --hgrm herald-10k.hgrm` beside ../shared/bench's
# `latency --hgrm nats-10k.hgrm`:
#   bash bench/plot-latency.sh -o docs/perf/w2-10k.png -t "W2 10k/s, 128 B" herald-10k.hgrm nats-10k.hgrm
# Each file is one line, named after the file (without .hgrm). x: percentile on the usual
# 1/(1-p) log scale; y: latency in milliseconds, log scale. Needs gnuplot (apt-get install -y gnuplot-nox).
set -euo pipefail
out=latency.png
title="latency from intended send"
while getopts "o:t:" o; do
  case $o in
    o) out=$OPTARG ;;
    t) title=$OPTARG ;;
    *) echo "usage: $0 [-o out.png] [-t title] FILE.hgrm..." >&2; exit 2 ;;
  esac
done
shift $((OPTIND - 1))
[ $# -ge 1 ] || { echo "usage: $0 [-o out.png] [-t title] FILE.hgrm..." >&2; exit 2; }
command -v gnuplot >/dev/null || { echo "plot-latency: gnuplot not found (apt-get install -y gnuplot-nox)" >&2; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
plots=()
i=0
for f in "$@"; do
  i=$((i + 1))
  # the data rows: value, percentile, count, 1/(1-percentile); the last (percentile 1) has no finite x
  awk 'NF == 4 && $1 ~ /^[0-9.]+$/ && $4 ~ /^[0-9.]+$/ { print $4, $1 / 1000 }' "$f" > "$tmp/$i.dat"
  name=$(basename "$f" .hgrm)
  plots+=("'$tmp/$i.dat' using 1:2 with lines linewidth 2 title '$name'")
done
joined=$(IFS=,; echo "${plots[*]}")
gnuplot <<GP
set terminal png size 900,520
set output '$out'
set title '$title'
set logscale x
set logscale y
set grid
set key top left
set xlabel 'percentile'
set ylabel 'latency (ms)'
set xtics ('50%%' 2, '90%%' 10, '99%%' 100, '99.9%%' 1000, '99.99%%' 10000, '99.999%%' 100000)
plot $joined
GP
echo "plot-latency: wrote $out"
