#!/usr/bin/env bash
# Demo: build, bring up a simulated DC/OS 2.1.3 cluster (3 masters, 4 agents, 1 public agent),
# upgrade it to 2.2.1; then, on a second small cluster, interrupt a run with SIGTERM, read its
# `status`, `resume` it and write its report. Everything goes to stdout; everything it started
# and every temporary file is removed at the end (also on Ctrl-C).
set -euo pipefail
exec 2>&1
cd "$(dirname "$0")/.."
say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
[ -t 1 ] || say() { printf '\n== %s\n' "$*"; }
command -v /usr/sbin/sshd >/dev/null 2>&1 || {
  say "installing openssh-server and curl (Debian)"
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq openssh-server curl
}
say "building (a cold build takes about 5 minutes on 2 cores; afterwards a few seconds)"
cargo build --workspace
bin="${CARGO_TARGET_DIR:-target}/debug"
dir=$(mktemp -d /tmp/dcos-demo.XXXXXX)
cleanup() {
  for c in "$dir"/a "$dir"/b; do
    [ -d "$c" ] && "$bin"/dcos-sim down --dir "$c" >/dev/null 2>&1 || true
  done
  rm -rf "$dir"
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP
up="$bin/dcos-upgrade --state-dir $dir/state"

say "a simulated cluster: 3 masters, 4 agents, 1 public agent at DC/OS 2.1.3"
"$bin"/dcos-sim up --dir "$dir/a" --masters 3 --agents 4 --public-agents 1 --version 2.1.3 --upgrade-to 2.2.1
say "the upgrade (it shows its plan first: the same table \`dcos-upgrade plan\` prints)"
$up run --inventory "$dir/a/inventory.toml" --to 2.2.1 --yes --ack-release-notes 2.2.1
say "what the testbed recorded"
"$bin"/dcos-sim report --dir "$dir/a"
"$bin"/dcos-sim down --dir "$dir/a" >/dev/null

say "an interruption: a second cluster (3 masters, 1 agent), SIGTERM while a master upgrades"
"$bin"/dcos-sim up --dir "$dir/b" --masters 3 --agents 1 --version 2.1.3 --upgrade-to 2.2.1
state_b="$dir/state-b"
$bin/dcos-upgrade --state-dir "$state_b" --output json run --inventory "$dir/b/inventory.toml" \
  --to 2.2.1 --yes --ack-release-notes 2.2.1 >"$dir/events.jsonl" &
pid=$!
until grep -q 'masters/.*dcos_node_upgrade.sh started' "$dir/events.jsonl" 2>/dev/null; do
  kill -0 "$pid" 2>/dev/null || break
  sleep 0.2
done
kill -TERM "$pid"
code=0; wait "$pid" || code=$?
echo "the run stopped with exit code $code; its last words:"
tail -1 "$dir/events.jsonl" | sed -e 's/.*"message":"\([^"]*\)".*/\1/' -e 's/\\n/\n/g' | tail -1
say "status (exit 5: paused; the lock on the masters is released)"
code=0; "$bin"/dcos-upgrade --state-dir "$state_b" status || code=$?
echo "(status exit code $code)"
say "resume"
"$bin"/dcos-upgrade --state-dir "$state_b" resume --yes
say "runs and the report"
"$bin"/dcos-upgrade --state-dir "$state_b" runs
report="${DEMO_REPORT:-$PWD/dcos-upgrade-demo-report.html}"
"$bin"/dcos-upgrade --state-dir "$state_b" report --format html >"$report"
"$bin"/dcos-upgrade --state-dir "$state_b" report --format markdown | sed -n '1,12p'
echo "the full report with its timeline: $report"
