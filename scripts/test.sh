#!/usr/bin/env bash
# The whole test suite, with everything it needs installed first (Debian, root or sudo).
set -euo pipefail
cd "$(dirname "$0")/.."
need=()
command -v /usr/sbin/sshd >/dev/null 2>&1 || need+=(openssh-server)
command -v ssh >/dev/null 2>&1 || need+=(openssh-client)
command -v curl >/dev/null 2>&1 || need+=(curl)
# The real ZooKeeper ensemble of the testbed (`--zookeeper real`, tests/zookeeper.rs); pulls in Java.
[ -f /usr/share/java/zookeeper.jar ] && command -v java >/dev/null 2>&1 || need+=(zookeeper)
if [ ${#need[@]} -gt 0 ]; then
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need[@]}"
fi
# Two cores: the testbed clusters are real processes; run two test threads at most.
# cargo-nextest (on the machine) runs tests of different files side by side; cargo test runs
# one test file at a time.
cargo build --workspace --all-targets --features test-checkpoints
if cargo nextest --version >/dev/null 2>&1; then
  cargo nextest run --workspace --features test-checkpoints --test-threads 2 --no-fail-fast
else
  cargo test --workspace --features test-checkpoints -- --test-threads 2
fi
