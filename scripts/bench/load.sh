#!/usr/bin/env bash
# ib-load's measurement overhead against ib-sim's deterministic mode and truth file, at 1, 100,
# 500 (ITL 10 ms) and 1000 streams (ITL 20 ms), TTFT 50 ms, 100 tokens per stream. Prints one
# line of figures per run (scripts/bench/load_bench.cc says how they are computed). Not a test.
# The machine's load average is printed too: on a shared 2-core box it dominates the figures.
set -euo pipefail
cd "$(dirname "$0")/../.."
bazel build -c opt //scripts/bench:load_bench //tools/ib-load //tools/ib-sim >&2
bin=$(bazel info -c opt bazel-bin 2>/dev/null)
dir=$(mktemp -d); trap 'rm -rf "$dir"' EXIT
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg), $(nproc) cores"
for spec in "1 10" "100 10" "500 10" "1000 20"; do
  set -- $spec
  "$bin/scripts/bench/load_bench" --ib-load "$bin/tools/ib-load/ib-load" --ib-sim "$bin/tools/ib-sim/ib-sim" \
    --streams "$1" --itl-ms "$2" --dir "$dir" 2>/dev/null
done
