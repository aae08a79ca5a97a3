#!/usr/bin/env bash
# A/B of two dcos-upgrade binaries on the floor benchmark's testbed (benches/floor.sh's shape,
# firewalled, fresh for every run): the masters+agents seconds (from the masters phase's
# `phase_started` event to the postcheck's) of OLD and NEW, alternating, so that the machine's
# noise hits both. For a change whose gain is smaller than one round's noise. Usage:
#   benches/ab_phases.sh OLD_BIN NEW_BIN [ROUNDS] [ACTIVATION_MS]     (default 8 rounds, 0 ms)
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=benches/lib.sh
. "$here/lib.sh"
old=$1 new=$2 rounds=${3:-8} act=${4:-0}
shape=(--masters "${MASTERS:-3}" --agents "${AGENTS:-3}" --public-agents "${PUBLIC:-1}" --version 2.2.0 --upgrade-to 2.2.1)
out=$BENCH_DIR/results.txt

# one BIN NAME: masters+agents seconds of BIN on a fresh testbed.
one() {
  local d=$BENCH_DIR/$2 s ma pa
  sim_up "$2" "${shape[@]}" --activation-ms "$act"
  s=$d/state
  BENCH_BIN=$1 tool_run "$d" "$s" run --inventory "$d/inventory.toml" --to 2.2.1 --ack-release-notes 2.2.1 --yes
  ma=$(ts_of "$s/events.jsonl" '.event=="phase_started" and .phase=="masters"')
  pa=$(ts_of "$s/events.jsonl" '.event=="phase_started" and .phase=="postcheck"')
  sim_down "$d"
  secs "$ma" "$pa"
}

echo "# $(date -u +%FT%TZ) load: $(cut -d' ' -f1-3 /proc/loadavg) act: $act old: $old new: $new" | tee "$out"
for r in $(seq "$rounds"); do
  o=$(one "$old" "old-$r"); n=$(one "$new" "new-$r")
  echo "round=$r old=$o new=$n load=$(cut -d' ' -f1 /proc/loadavg)" | tee -a "$out"
done
echo "# medians (min max):"
for k in old new; do echo "$k $(stats_of "$out" round= "$k")"; done
