#!/usr/bin/env bash
# The whole test suite, with everything it needs installed first (Debian, root or sudo).
set -euo pipefail
cd "$(dirname "$0")/.."
need=()
command -v /usr/sbin/sshd >/dev/null 2>&1 || need+=(openssh-server)
command -v ssh >/dev/null 2>&1 || need+=(openssh-client)
command -v curl >/dev/null 2>&1 || need+=(curl)
# `become = "sudo"` end to end with an unprivileged user (tests/sudo.rs): Debian's real sudo.
command -v sudo >/dev/null 2>&1 && command -v useradd >/dev/null 2>&1 || need+=(sudo passwd)
# The firewalled testbed (one network namespace per node) and its CA and service-account keys.
command -v ip >/dev/null 2>&1 || need+=(iproute2)
command -v openssl >/dev/null 2>&1 || need+=(openssl)
# The upgrade report is rendered in headless Chromium by tests/report.rs.
command -v chromium >/dev/null 2>&1 || need+=(chromium)
# The real ZooKeeper ensemble of the testbed (`--zookeeper real`, tests/zookeeper.rs); pulls in Java.
[ -f /usr/share/java/zookeeper.jar ] && command -v java >/dev/null 2>&1 || need+=(zookeeper)
if [ ${#need[@]} -gt 0 ]; then
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need[@]}"
fi
# Every testbed the tests start lives under this run's own TMPDIR (dcos-sim-* directories); when
# the suite is interrupted (Ctrl-C, SIGTERM, a closed terminal) each one is taken down, so no
# sshd or simulated service is left running, and the directory is removed.
suite_tmp=$(mktemp -d "${TMPDIR:-/tmp}/dcos-upgrade-suite.XXXXXX")
sim="${CARGO_TARGET_DIR:-target}/debug/dcos-sim"
teardown() {
  trap - INT TERM HUP EXIT
  # The suite has its own process group (set -m below): cargo and every test binary in it.
  if [ -n "${suite_pid:-}" ]; then
    kill -TERM -- "-$suite_pid" 2>/dev/null || true
    wait "$suite_pid" 2>/dev/null || true
  fi
  for d in "$suite_tmp"/dcos-sim-*; do
    [ -d "$d" ] && "$sim" down --dir "$d" >/dev/null 2>&1 || true
  done
  rm -rf "$suite_tmp"
}
on_signal() { echo "interrupted: tearing down the testbeds under $suite_tmp" >&2; teardown; exit 130; }
trap on_signal INT TERM HUP
trap teardown EXIT
export TMPDIR="$suite_tmp"
# Two cores: the testbed clusters are real processes; run two test threads at most.
# cargo-nextest (on the machine) runs tests of different files side by side; cargo test runs
# one test file at a time.
cargo build --workspace --all-targets --features test-checkpoints
# The suite runs in the background, in its own process group, so that the traps above run as
# soon as a signal arrives and can stop all of it.
set -m
if cargo nextest --version >/dev/null 2>&1; then
  cargo nextest run --workspace --features test-checkpoints --test-threads 2 --no-fail-fast &
else
  cargo test --workspace --features test-checkpoints -- --test-threads 2 &
fi
suite_pid=$!
set +m
wait "$suite_pid"
