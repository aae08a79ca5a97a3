#!/usr/bin/env bash
# Demo: bring up a simulated 3+4+1 DC/OS 2.1.3 cluster, show the plan, upgrade it to 2.2.1,
# show the testbed's report, and tear everything down.
set -euo pipefail
cd "$(dirname "$0")/.."
command -v /usr/sbin/sshd >/dev/null 2>&1 || { SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"; $SUDO apt-get update -qq; DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq openssh-server curl; }
cargo build --workspace --quiet
bin="${CARGO_TARGET_DIR:-target}/debug"
dir=$(mktemp -d /tmp/dcos-demo.XXXXXX)
trap '"$bin"/dcos-sim down --dir "$dir" >/dev/null 2>&1 || true' EXIT
"$bin"/dcos-sim up --dir "$dir" --masters 3 --agents 4 --public-agents 1 --version 2.1.3 --upgrade-to 2.2.1
"$bin"/dcos-upgrade --state-dir "$dir/state" plan --inventory "$dir/inventory.toml" --to 2.2.1
"$bin"/dcos-upgrade --state-dir "$dir/state" run --inventory "$dir/inventory.toml" --to 2.2.1 --yes --ack-release-notes 2.2.1
"$bin"/dcos-sim report --dir "$dir"
