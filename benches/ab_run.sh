#!/usr/bin/env bash
# A/B wall time of `dcos-upgrade run` on fresh testbeds of the same shape, the two binaries
# alternating so that the machine's load hits both alike. Usage:
#   benches/ab_run.sh OLD_BIN NEW_BIN [ROUNDS] [MASTERS] [AGENTS] [ACTIVATION_MS]
# Needs the dcos-sim binary ($DCOS_SIM, default ${CARGO_TARGET_DIR:-target}/debug/dcos-sim).
set -euo pipefail
old=$1 new=$2 rounds=${3:-3} masters=${4:-1} agents=${5:-2} act=${6:-400}
sim=${DCOS_SIM:-${CARGO_TARGET_DIR:-target}/debug/dcos-sim}
one() {
  local bin=$1 d s t0 t1
  d=$(mktemp -d /tmp/ab-sim.XXXXXX); s=$(mktemp -d /tmp/ab-state.XXXXXX)
  "$sim" up --dir "$d" --masters "$masters" --agents "$agents" --public-agents 0 \
    --version 2.1.3 --upgrade-to 2.2.1 --activation-ms "$act" > /dev/null
  printf '\n[timeouts]\nnode_script_secs = 120\nmaster_gate_secs = 60\nagent_gate_secs = 60\nbackup_secs = 60\npoll_ms = %s\n' "${POLL_MS:-200}" >> "$d/inventory.toml"
  t0=$(date +%s.%N)
  "$bin" --state-dir "$s" run --inventory "$d/inventory.toml" --to 2.2.1 --ack-release-notes 2.2.1 --yes > "$s/out.txt" 2>&1 || { echo "run failed: $(tail -5 "$s/out.txt")" >&2; }
  t1=$(date +%s.%N)
  "$sim" down --dir "$d" > /dev/null 2>&1 || true
  echo "$(echo "$t1 - $t0" | bc) $(grep -o 'Time: .*' "$s/out.txt" | head -1)"
  rm -rf "$d" "$s"
}
for _ in $(seq "$rounds"); do
  echo "old: $(one "$old")"
  echo "new: $(one "$new")"
done
