#!/usr/bin/env bash
# The Slurm launcher for real (docs/ib-load.md "Sharding"): brings up a single-node Slurm
# cluster from Debian's slurm-wlm and munge (munged, slurmctld and slurmd started here with
# tests/slurm/slurm.conf.in; as root, proctrack/linuxproc, task/none), runs tests/slurm/one.yaml
# (one ib-load) and four.yaml (the same run in 4 srun tasks collected by the ib-load ib-run
# starts) against ib-sim, and checks that the two results agree: the same requests, each index
# once, 15 per shard, the same scheduled instants, the same counts. Stops everything it started.
#   tests/slurm/slurm_test.sh            (needs root and scripts/setup's slurm-wlm and munge)
# Prints "slurm_test: ok" and exits 0, or says what failed and exits 1.
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$PWD

fail() { echo "slurm_test: FAIL: $*" >&2; exit 1; }
[[ $(id -u) == 0 ]] || fail "needs root (slurmd runs tasks as root here)"
for tool in munged slurmctld slurmd srun sinfo jq; do
  command -v "$tool" >/dev/null || fail "$tool not found: run scripts/setup (installs slurm-wlm and munge)"
done
[[ -r /etc/munge/munge.key ]] || fail "/etc/munge/munge.key missing: reinstall munge (scripts/setup)"

# IB_BIN_DIR as scripts/test passes it (bazel-bin), or bin/ of scripts/build.
bin=${IB_BIN_DIR:-}
if [[ -z $bin ]]; then
  bazel build //tools/ib-run //tools/ib-load //tools/ib-sim //tools/ib-aggregate //tools/ib-scrape >/dev/null 2>&1
  bin=$(bazel info bazel-bin 2>/dev/null)
fi
export IB_BIN_DIR=$bin
ib_run=$bin/tools/ib-run/ib-run
[[ -x $ib_run ]] || ib_run=$bin/ib-run
[[ -x $ib_run ]] || fail "ib-run not found under $bin"

dir=$(mktemp -d /tmp/ib-slurm-test.XXXXXX)
sock=/run/munge/ib-slurm-test-$$.socket
pids=()
cleanup() {
  # Only what this script started, by pid.
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$pid" 2>/dev/null || true
  done
  rm -f "$sock" "$sock.lock" "/run/munge/ib-slurm-test-$$.pid" "/run/munge/ib-slurm-test-$$.seed" \
        "/run/munge/ib-slurm-test-$$.log"
  rm -rf "$dir"
}
trap cleanup EXIT

# munge: its socket directory belongs to the munge user.
mkdir -p /run/munge && chown munge:munge /run/munge && chmod 755 /run/munge
runuser -u munge -- munged -F -S "$sock" --pid-file="/run/munge/ib-slurm-test-$$.pid" \
  --log-file="/run/munge/ib-slurm-test-$$.log" --seed-file="/run/munge/ib-slurm-test-$$.seed" \
  >"$dir/munged.out" 2>&1 &
pids+=($!)

port=$((20000 + RANDOM % 20000))
mkdir -p "$dir/state" "$dir/spool"
sed -e "s#@HOST@#$(hostname -s)#g" -e "s#@DIR@#$dir#g" -e "s#@PORT@#$port#" -e "s#@PORT2@#$((port + 1))#" \
    -e "s#^AuthInfo=.*#AuthInfo=socket=$sock#" tests/slurm/slurm.conf.in >"$dir/slurm.conf"
export SLURM_CONF=$dir/slurm.conf
for _ in $(seq 50); do [[ -S $sock ]] && break; sleep 0.1; done
[[ -S $sock ]] || fail "munged did not start: $(cat "$dir/munged.out")"
slurmctld -D -f "$SLURM_CONF" >"$dir/slurmctld.out" 2>&1 &
pids+=($!)
slurmd -D -f "$SLURM_CONF" >"$dir/slurmd.out" 2>&1 &
pids+=($!)
for _ in $(seq 100); do
  [[ $(sinfo -h -o %t 2>/dev/null) == idle ]] && break
  sleep 0.2
done
[[ $(sinfo -h -o %t 2>/dev/null) == idle ]] || fail "the node is not idle: $(sinfo 2>&1; tail -5 "$dir/slurmctld.log" "$dir/slurmd.log" 2>&1)"

for config in one four; do
  mkdir -p "$dir/results-$config"
  "$ib_run" "tests/slurm/$config.yaml" --output-dir "$dir/results-$config" >"$dir/$config.ndjson" 2>"$dir/$config.err" ||
    fail "ib-run $config.yaml: $(tail -5 "$dir/$config.err")"
done
one=$(ls "$dir"/results-one/*.json)
four=$(ls "$dir"/results-four/*.json)

check() {  # check DESCRIPTION JQ-EXPRESSION (true when it holds), over both files
  jq -e -n --slurpfile one "$one" --slurpfile four "$four" "$2" >/dev/null || fail "$1"
}
check "both runs completed" '$one[0].status == "completed" and $four[0].status == "completed"'
check "four.yaml ran 4 shards, none lost" '$four[0].metadata.shards.count == 4 and $four[0].metadata.shards.lost == []'
check "one.yaml is not sharded" '$one[0].metadata.shards == null and ([$one[0].requests[].shard] | unique) == [null]'
check "every index 0..59 exactly once" '[$four[0].requests[].request_index] | sort == [range(60)]'
check "15 requests per shard, shard = index mod 4" \
  '[$four[0].requests[] | select(.shard == .request_index % 4)] | length == 60'
check "the same counts" '[$one[0].summary, $four[0].summary] | map({total_requests, successful_requests,
  failed_requests, total_completion_tokens, total_prompt_tokens}) | .[0] == .[1] and .[0].successful_requests == 60'
# The same schedule: instants relative to the first arrival. The Slurm tasks learn the start as a
# wall-clock instant and map it to their own CLOCK_MONOTONIC: the reading differs by microseconds.
check "the same scheduled instants (within 0.05 ms)" '
  def rel: [.requests[] | {(.request_index|tostring): .scheduled_ms}] | add as $m | $m | map_values(. - $m["0"]);
  ($one[0] | rel) as $a | ($four[0] | rel) as $b | [range(60) | tostring | ($a[.] - $b[.]) | fabs] | max < 0.05'
check "the worst clock offset is recorded" '$four[0].metadata.shards.clock_offset_max_ms | type == "number"'
echo "slurm_test: ok (4 srun tasks = 1 process: 60 requests, same schedule and counts; worst clock offset $(jq .metadata.shards.clock_offset_max_ms "$four") ms)"
