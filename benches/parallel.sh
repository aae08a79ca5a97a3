#!/usr/bin/env bash
# Issue 14, parallel agents: the agents phase of `dcos-upgrade run` on AGENTS private agents at
# --max-unavailable 1 against --max-unavailable N, fresh firewalled testbeds, alternating.
# The agents phase is timed from its phase_started event to the postcheck's. Usage:
#   benches/parallel.sh [ROUNDS] [N] [ACTIVATION_MS...]   (default: 3 rounds, N = 5, 1000 ms)
# Env: MASTERS (1), AGENTS (20), DCOS_SIM, DCOS_UPGRADE, BENCH_KEEP.
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=benches/lib.sh
. "$here/lib.sh"
rounds=${1:-3} par=${2:-5}; shift 2 || shift $#
acts=("$@"); [ "${#acts[@]}" -gt 0 ] || acts=(1000)
shape=(--masters "${MASTERS:-1}" --agents "${AGENTS:-20}" --public-agents 0 --version 2.2.0 --upgrade-to 2.2.1)
out=$BENCH_DIR/results.txt

# agents D N: seconds of the agents phase of one run at --max-unavailable N.
agents() {
  local d=$1 e
  tool_run "$d" "$d/state" run --inventory "$d/inventory.toml" --to 2.2.1 --ack-release-notes 2.2.1 --yes --max-unavailable "$2"
  e=$d/state/events.jsonl
  secs "$(ts_of "$e" '.event=="phase_started" and .phase=="agents"')" "$(ts_of "$e" '.event=="phase_started" and .phase=="postcheck"')"
}
# most_down D: the most agents the testbed saw down at once.
most_down() { "$BENCH_SIM" report --dir "$1" --json | jq .max_agents_down; }

echo "# $(date -u +%FT%TZ) load: $(cut -d' ' -f1-3 /proc/loadavg) shape: ${shape[*]} N: $par" | tee "$out"
for act in "${acts[@]}"; do
  for r in $(seq "$rounds"); do
    d=$BENCH_DIR/serial-$act-$r; sim_up "serial-$act-$r" "${shape[@]}" --activation-ms "$act"
    s=$(agents "$d" 1); sd=$(most_down "$d"); sim_down "$d"
    d=$BENCH_DIR/par-$act-$r; sim_up "par-$act-$r" "${shape[@]}" --activation-ms "$act"
    p=$(agents "$d" "$par"); pd=$(most_down "$d"); sim_down "$d"
    echo "act=$act round=$r serial=$s parallel=$p ratio=$(printf '%.3f' "$(echo "$p / $s" | bc -l)") serial_max_down=$sd parallel_max_down=$pd load=$(cut -d' ' -f1 /proc/loadavg)" | tee -a "$out"
  done
done
echo "# medians (min max):"
for act in "${acts[@]}"; do
  for k in serial parallel ratio; do
    echo "act=$act $k $(stats_of "$out" "act=$act " "$k")"
  done
done | tee -a "$out"
