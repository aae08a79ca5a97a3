#!/usr/bin/env bash
# A/B of two dcos-upgrade binaries on benches/parallel.sh's testbed (1 master, 20 private
# agents, firewalled, fresh for every run): the agents phase's seconds at --max-unavailable N
# (from its `phase_started` event to the postcheck's) of OLD and NEW, alternating, so that the
# machine's noise hits both. Usage:
#   benches/ab_batches.sh OLD_BIN NEW_BIN [ROUNDS] [N] [ACTIVATION_MS]   (default 4, 5, 1000 ms)
# Env: CHECK_MS (the testbed's `dcos-check-runner` time beyond its reads, `dcos-sim up
# --check-ms`; default 0), MASTERS (1), AGENTS (20), DCOS_SIM, BENCH_KEEP.
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=benches/lib.sh
. "$here/lib.sh"
old=$1 new=$2 rounds=${3:-4} par=${4:-5} act=${5:-1000}
shape=(--masters "${MASTERS:-1}" --agents "${AGENTS:-20}" --public-agents 0 --version 2.2.0 --upgrade-to 2.2.1
  --activation-ms "$act" --check-ms "${CHECK_MS:-0}")
out=$BENCH_DIR/results.txt

# one BIN NAME: the agents phase's seconds of BIN on a fresh testbed, and the most agents down.
one() {
  local d=$BENCH_DIR/$2 s a p down
  sim_up "$2" "${shape[@]}"
  s=$d/state
  BENCH_BIN=$1 tool_run "$d" "$s" run --inventory "$d/inventory.toml" --to 2.2.1 --ack-release-notes 2.2.1 --yes --max-unavailable "$par"
  a=$(ts_of "$s/events.jsonl" '.event=="phase_started" and .phase=="agents"')
  p=$(ts_of "$s/events.jsonl" '.event=="phase_started" and .phase=="postcheck"')
  down=$("$BENCH_SIM" report --dir "$d" --json | jq .max_agents_down)
  sim_down "$d"
  echo "$(secs "$a" "$p") $down"
}

echo "# $(date -u +%FT%TZ) load: $(cut -d' ' -f1-3 /proc/loadavg) N: $par act: $act check_ms: ${CHECK_MS:-0} old: $old new: $new" | tee "$out"
for r in $(seq "$rounds"); do
  read -r o od < <(one "$old" "old-$r"); read -r n nd < <(one "$new" "new-$r")
  echo "round=$r old=$o new=$n old_max_down=$od new_max_down=$nd load=$(cut -d' ' -f1 /proc/loadavg)" | tee -a "$out"
done
echo "# medians (min max):"
for k in old new; do echo "$k $(stats_of "$out" round= "$k")"; done
