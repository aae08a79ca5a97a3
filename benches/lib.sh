# shellcheck shell=bash
# Shared helpers of the testbed benchmarks (sourced, not run): a private scratch directory,
# testbeds that are always torn down, SSH over the testbed's ssh_config with a ControlMaster,
# timestamps and medians. Needs jq and bc.
set -euo pipefail

BENCH_SIM=${DCOS_SIM:-${CARGO_TARGET_DIR:-target}/debug/dcos-sim}
BENCH_BIN=${DCOS_UPGRADE:-${CARGO_TARGET_DIR:-target}/debug/dcos-upgrade}
BENCH_DIR=$(mktemp -d /tmp/dcos-bench.XXXXXX)
BENCH_TESTBEDS=()
# The [timeouts] table of tests/common/mod.rs FAST_TIMEOUTS (POLL_MS=2000 gives the
# playbook's production poll interval).
BENCH_TIMEOUTS=$'\n[timeouts]\nnode_script_secs = 60\nmaster_gate_secs = 30\nagent_gate_secs = 30\nbackup_secs = 30\npoll_ms = '"${POLL_MS:-200}"$'\n'

bench_cleanup() {
  # Never stopped half way by errexit: every testbed is taken down.
  set +e
  local d s
  for d in "${BENCH_TESTBEDS[@]}"; do
    for s in "$d"/cm-*; do
      if [ -S "$s" ]; then ssh -o ControlPath="$s" -O exit dummy 2> /dev/null; fi
    done
    "$BENCH_SIM" down --dir "$d" > /dev/null 2>&1
  done
  if [ -z "${BENCH_KEEP:-}" ]; then rm -rf "$BENCH_DIR"; else echo "kept $BENCH_DIR" >&2; fi
}
trap bench_cleanup EXIT

# now: seconds since the epoch, with nanoseconds.
now() { date +%s.%N; }
# secs A B: B - A, 3 decimals.
secs() { printf '%.3f' "$(echo "$2 - $1" | bc -l)"; }

# sim_up NAME ARGS...: a fresh firewalled testbed in $BENCH_DIR/NAME (echoes the directory).
# CockroachDB's catch-up (a real gate of the tool's, which the plain loops do not have) is 0.
# Its services have been up for a day (UP_SECS, default 86400; 0: just started), as a cluster
# that is upgraded has: the prechecks look at a master twice, 2 s apart, only when it restarted
# within the last minute (src/phases/checks/observe.rs FLAP_UPTIME_SECS).
sim_up() {
  local d=$BENCH_DIR/$1; shift
  mkdir -p "$d"
  BENCH_TESTBEDS+=("$d")
  "$BENCH_SIM" up --dir "$d" --network firewalled --crdb-catch-up-ms 0 --up-secs "${UP_SECS:-86400}" "$@" > "$d.up.log" 2>&1 \
    || { echo "dcos-sim up failed: $(tail -3 "$d.up.log")" >&2; return 1; }
  printf '%s' "$BENCH_TIMEOUTS" >> "$d/inventory.toml"
}
sim_down() { "$BENCH_SIM" down --dir "$1" > /dev/null 2>&1 || true; }

# on D NODE CMD...: one SSH command on a node, through its multiplexed connection.
on() {
  local d=$1 n=$2; shift 2
  ssh -F "$d/ssh_config" -o ControlMaster=auto -o ControlPath="$d/cm-%n" -o ControlPersist=300 "$n" "$@"
}
# nodes D ROLE: the node names of a role (m, a or p), in order.
nodes() { awk -v p="$2" '$1 == "Host" && substr($2, 1, 1) == p && $2 ~ /^[amp][0-9]+$/ {print $2}' "$1/ssh_config"; }
# addr D NODE: a node's address.
addr() { awk -v n="$2" '$1 == "Host" && $2 == n {print $3}' "$1/ssh_config"; }
# root D NODE: a node's filesystem root from the inventory.
root_of() { echo "$1/nodes/$2/root"; }
# script_url D: the node upgrade script's URL.
script_url() { sed -n 's/^upgrade_script_url = "\(.*\)"/\1/p' "$1/inventory.toml"; }

# ssh_rtt D NODE N: median of N `ssh NODE true` through an open ControlMaster (ms).
ssh_rtt() {
  local d=$1 n=$2 k=$3 t0 t1 xs=()
  on "$d" "$n" true
  for _ in $(seq "$k"); do t0=$(now); on "$d" "$n" true; t1=$(now); xs+=("$(echo "($t1 - $t0) * 1000" | bc -l)"); done
  stats "${xs[@]}" | cut -d' ' -f1
}
# ssh_fresh D NODE N: median of N `ssh NODE true` each on a new connection (ms).
ssh_fresh() {
  local d=$1 n=$2 k=$3 t0 t1 xs=()
  for _ in $(seq "$k"); do t0=$(now); ssh -F "$d/ssh_config" "$n" true; t1=$(now); xs+=("$(echo "($t1 - $t0) * 1000" | bc -l)"); done
  stats "${xs[@]}" | cut -d' ' -f1
}

# stats X...: "median min max" of numbers (3 decimals).
stats() {
  printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {
    m = (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2;
    printf "%.3f %.3f %.3f\n", m, a[1], a[NR]}'
}

# stats_of FILE PREFIX KEY: stats of KEY=value on the result lines of FILE starting with PREFIX.
stats_of() {
  # shellcheck disable=SC2046
  stats $(grep "^$2" "$1" | tr ' ' '\n' | sed -n "s/^$3=//p")
}

# ts_of EVENTS JQ-FILTER: the first matching event's timestamp in epoch seconds.
ts_of() {
  jq -r "select($2) | .ts" "$1" | head -1 | {
    read -r t; [ -n "$t" ] || { echo "no event $2 in $1" >&2; return 1; }
    echo "$(date -u -d "${t%.*}" +%s).${t#*.}" | tr -d 'Z'; }
}

# tool_run D STATE ARGS...: `dcos-upgrade --output json ARGS...` against D; events to STATE/events.jsonl.
tool_run() {
  local d=$1 s=$2; shift 2
  mkdir -p "$s"
  "$BENCH_BIN" --state-dir "$s" --output json "$@" > "$s/events.jsonl" 2> "$s/stderr.txt" \
    || { echo "dcos-upgrade $* failed: $(tail -3 "$s/stderr.txt")" >&2; return 1; }
}
