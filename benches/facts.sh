#!/usr/bin/env bash
# Issue 14, benchmark 3: fact gathering on one firewalled testbed of NODES nodes (3 masters,
# the rest private agents, activation 0), each round alternating: (a) Ansible
# (benches/ansible/facts.yml, forks 50, no fact gathering), (b) the floor: one plain
# `ssh NODE 'cat version file; ls roles; curl metrics'` per node, all at once (xargs -P 50), each
# on a new connection, (c) `dcos-upgrade plan`, (d) `dcos-upgrade check`. Read-only, so one
# testbed serves every side. Usage:
#   benches/facts.sh [ROUNDS] [NODES]          (default: 3 rounds, 50 nodes)
# Env: ANSIBLE_VENV, DCOS_SIM, DCOS_UPGRADE, BENCH_KEEP (as benches/ansible.sh).
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=benches/lib.sh
. "$here/lib.sh"
rounds=${1:-3} total=${2:-50}
venv=${ANSIBLE_VENV:-${CARGO_TARGET_DIR:-target}/ansible-venv}
"$here/setup_ansible.sh" "$venv" > /dev/null
export ANSIBLE_CONFIG=$here/ansible/ansible.cfg ANSIBLE_SSH_CONTROL_PATH_DIR=$BENCH_DIR/cp \
  ANSIBLE_LOCAL_TEMP=$BENCH_DIR/ansible-tmp ANSIBLE_HOME=$BENCH_DIR/ansible-home
out=$BENCH_DIR/results.txt
d=$BENCH_DIR/facts
t0=$(now)
sim_up facts --masters 3 --agents "$((total - 3))" --public-agents 0 --version 2.2.0 --upgrade-to 2.2.1 --activation-ms 0
echo "# $(date -u +%FT%TZ) load: $(cut -d' ' -f1-3 /proc/loadavg) nodes: $total (up took $(secs "$t0" "$(now)") s) $("$venv/bin/ansible-playbook" --version | sed -n 1p)" | tee "$out"
"$here/ansible/inventory.sh" "$d" --no-leader > "$d/hosts.ini"

timed() { local t0 t1; t0=$(now); "$@" > "$d/last.log" 2>&1 || { echo "failed: $*: $(tail -5 "$d/last.log")" >&2; return 1; }; t1=$(now); secs "$t0" "$t1"; }
ansible_facts() {
  # Ansible's ControlPersist sockets of the previous round would make its connections warm.
  rm -rf "$ANSIBLE_SSH_CONTROL_PATH_DIR"
  "$venv/bin/ansible-playbook" -f 50 -i "$d/hosts.ini" "$here/ansible/facts.yml"
}
# shellcheck disable=SC2016 # expanded by the bash that xargs starts
floor_facts() {
  awk '$1 == "Host" && $2 ~ /^[ma][0-9]+$/ {print $2, $3}' "$d/ssh_config" | xargs -P 50 -L 1 bash -c '
    d=$1 n=$2 a=$3; case $n in m*) p=5050 ;; *) p=5051 ;; esac
    ssh -F "$d/ssh_config" "$n" "cat $d/nodes/$n/root/opt/mesosphere/etc/dcos-version.json; ls $d/nodes/$n/root/etc/mesosphere/roles; curl -fsS http://$a:$p/metrics/snapshot" > /dev/null' _ "$d"
}
plan() { "$BENCH_BIN" --state-dir "$d/state" plan --inventory "$d/inventory.toml" --to 2.2.1; }
check() { "$BENCH_BIN" --state-dir "$d/state" check --inventory "$d/inventory.toml"; }

for r in $(seq "$rounds"); do
  a=$(timed ansible_facts); f=$(timed floor_facts); p=$(timed plan); c=$(timed check)
  echo "round=$r ansible=$a floor=$f plan=$p check=$c ansible_over_plan=$(printf '%.2f' "$(echo "$a / $p" | bc -l)") check_over_plan=$(printf '%.2f' "$(echo "$c / $p" | bc -l)") plan_over_floor=$(printf '%.2f' "$(echo "$p / $f" | bc -l)") load=$(cut -d' ' -f1 /proc/loadavg)" | tee -a "$out"
done
echo "# medians (min max):"
for k in ansible floor plan check ansible_over_plan check_over_plan plan_over_floor; do
  echo "$k $(stats_of "$out" "round=" "$k")"
done | tee -a "$out"
