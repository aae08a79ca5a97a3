#!/usr/bin/env bash
# Issue 14, benchmark 2: dcos-upgrade against Ansible. For each round and activation delay, on
# fresh firewalled testbeds of the same shape, alternating: (a) benches/ansible/upgrade.yml
# (the dcos-ansible way: masters serial 1, leader last, the node script, uri/until health
# checks on the node, agents in batches of AGENT_BATCH), timed from the inventory's generation
# (which reads the leader over SSH) to the play's end; (b) `dcos-upgrade run` end to end with its
# prechecks, backups and postchecks, --max-unavailable AGENT_BATCH. Usage:
#   benches/ansible.sh [ROUNDS] [ACTIVATION_MS...]     (default: 3 rounds, 0 and 1000 ms)
# Env: MASTERS (3), AGENTS (3), PUBLIC (1), AGENT_BATCH (1), POLL_DELAY (uri/until delay, s, 1),
# ANSIBLE_VENV (default ${CARGO_TARGET_DIR:-target}/ansible-venv; benches/setup_ansible.sh
# makes it), DCOS_SIM, DCOS_UPGRADE, BENCH_KEEP.
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=benches/lib.sh
. "$here/lib.sh"
rounds=${1:-3}; shift || true
acts=("$@"); [ "${#acts[@]}" -gt 0 ] || acts=(0 1000)
venv=${ANSIBLE_VENV:-${CARGO_TARGET_DIR:-target}/ansible-venv}
"$here/setup_ansible.sh" "$venv" > /dev/null
export ANSIBLE_CONFIG=$here/ansible/ansible.cfg ANSIBLE_SSH_CONTROL_PATH_DIR=$BENCH_DIR/cp \
  ANSIBLE_LOCAL_TEMP=$BENCH_DIR/ansible-tmp ANSIBLE_HOME=$BENCH_DIR/ansible-home
batch=${AGENT_BATCH:-1}
shape=(--masters "${MASTERS:-3}" --agents "${AGENTS:-3}" --public-agents "${PUBLIC:-1}" --version 2.2.0 --upgrade-to 2.2.1)
out=$BENCH_DIR/results.txt

# ansible D: seconds from the inventory's generation to the play's end.
play() {
  local d=$1 t0 t1
  t0=$(now)
  "$here/ansible/inventory.sh" "$d" > "$d/hosts.ini"
  "$venv/bin/ansible-playbook" -i "$d/hosts.ini" "$here/ansible/upgrade.yml" \
    -e "poll_delay=${POLL_DELAY:-1} agent_batch=$batch" > "$d/play.log" 2>&1 \
    || { echo "ansible-playbook failed: $(tail -20 "$d/play.log")" >&2; return 1; }
  t1=$(now)
  "$BENCH_SIM" report --dir "$d" --json | jq -e '[.nodes[].version] | all(. == "2.2.1")' > /dev/null \
    || { echo "ansible: not every node at 2.2.1" >&2; return 1; }
  secs "$t0" "$t1"
}

# tool D: seconds of one whole `dcos-upgrade run`.
tool() {
  local d=$1 t0 t1
  t0=$(now)
  tool_run "$d" "$d/state" run --inventory "$d/inventory.toml" --to 2.2.1 --ack-release-notes 2.2.1 --yes --max-unavailable "$batch"
  t1=$(now)
  secs "$t0" "$t1"
}

echo "# $(date -u +%FT%TZ) load: $(cut -d' ' -f1-3 /proc/loadavg) shape: ${shape[*]} batch: $batch poll_delay: ${POLL_DELAY:-1} $("$venv/bin/ansible-playbook" --version | sed -n 1p)" | tee "$out"
for act in "${acts[@]}"; do
  for r in $(seq "$rounds"); do
    d=$BENCH_DIR/ansible-$act-$r; sim_up "ansible-$act-$r" "${shape[@]}" --activation-ms "$act"
    a=$(play "$d"); sim_down "$d"
    d=$BENCH_DIR/tool-$act-$r; sim_up "tool-$act-$r" "${shape[@]}" --activation-ms "$act"
    t=$(tool "$d"); sim_down "$d"
    echo "act=$act round=$r ansible=$a tool=$t speedup=$(printf '%.3f' "$(echo "$a / $t" | bc -l)") load=$(cut -d' ' -f1 /proc/loadavg)" | tee -a "$out"
  done
done
echo "# medians (min max):"
for act in "${acts[@]}"; do
  for k in ansible tool speedup; do
    echo "act=$act $k $(stats_of "$out" "act=$act " "$k")"
  done
done | tee -a "$out"
