//! The state-store tools on masters: `cockroach`, `dcos-shell`, `dcos-etcdctl`,
//! `iam-database-backup` and `dcos-zk`.

/// `opt/mesosphere/bin/cockroach` on masters: `node status --ranges [--format tsv]
/// [--certs-dir=DIR] [--host=IP]` prints the daemon's CockroachDB view; other commands fail.
pub const COCKROACH: &str = r#"#!/bin/bash
# cockroach (dcos-sim)
@PROLOGUE@
if [ "${1:-}" = dump ]; then
    # `cockroach dump --certs-dir=/run/dcos/pki/cockroach --host=$(detect_ip) iam`, the IAM
    # backup the 1.10/1.11 Enterprise docs give (facts §4): the database as SQL on stdout.
    shift
    certs=""; host=""; db=""
    for a in "$@"; do
        case "$a" in
            --certs-dir=*) certs="${a#--certs-dir=}" ;;
            --host=*) host="${a#--host=}" ;;
            --*) ;;
            *) db="$a" ;;
        esac
    done
    if [ "$certs" != "$R/run/dcos/pki/cockroach" ]; then
        echo "Error: problem with CA certificate: --certs-dir must be the node's /run/dcos/pki/cockroach (got '$certs')" >&2
        exit 1
    fi
    if [ "$host" != "$("$R/opt/mesosphere/bin/detect_ip")" ]; then
        echo "Error: unable to connect or connection lost: cannot dial '$host'" >&2
        exit 1
    fi
    if [ "$db" != iam ] || [ ! -f "$R/var/lib/dcos/cockroach/iam-dump.sql" ]; then
        echo "Error: database \"$db\" does not exist" >&2
        exit 1
    fi
    curl -fsS --max-time 5 -X POST "$SIM_CTL/node/$SIM_NODE/record/cockroach_dump" > /dev/null 2>&1 || true
    cat "$R/var/lib/dcos/cockroach/iam-dump.sql"
    exit 0
fi
if [ "${1:-}" != node ] || [ "${2:-}" != status ]; then
    echo "Error: unsupported command in dcos-sim: $*" >&2
    exit 1
fi
fmt=table
prev=""
for a in "$@"; do
    case "$a" in
        --format=*) fmt="${a#--format=}" ;;
    esac
    if [ "$prev" = "--format" ]; then fmt="$a"; fi
    prev="$a"
done
body="$(curl -sS --max-time 5 -w '\n%{http_code}' "$SIM_CTL/node/$SIM_NODE/cockroach/status?format=$fmt")" || exit 1
code="${body##*$'\n'}"
text="${body%$'\n'*}"
if [ "$code" != 200 ]; then echo "$text" >&2; exit 1; fi
printf '%s\n' "$text"
"#;

/// `opt/mesosphere/bin/dcos-shell`: runs its arguments with the DC/OS environment. A program
/// the node does not have (e.g. `dcos-zk` before 1.12.4) fails as `exec` does (127), and the
/// testbed records it (`tool_missing`, with the node's Exhibitor state at that moment).
pub const DCOS_SHELL: &str = r#"#!/bin/bash
# dcos-shell (dcos-sim)
@PROLOGUE@
set -o allexport
source "$R/opt/mesosphere/environment.export"
set +o allexport
export PATH="$R/opt/mesosphere/bin:$PATH"
if [ "$#" -eq 0 ]; then exec bash; fi
if ! command -v "$1" > /dev/null 2>&1; then
    curl -fsS --max-time 5 -X POST "$SIM_CTL/node/$SIM_NODE/record/tool_missing?tool=$(basename "$1")" > /dev/null 2>&1 || true
    echo "$0: exec: $1: not found" >&2
    exit 127
fi
exec "$@"
"#;

/// `opt/mesosphere/bin/dcos-etcdctl` (DC/OS 2.1+): `backup <tar>` writes a tar of the local
/// etcd data (`var/lib/dcos/etcd/default.etcd`); the path must not exist. The testbed records
/// the backup with the Mesos leader at that moment (the docs say: on the Mesos leader).
pub const DCOS_ETCDCTL: &str = r#"#!/bin/bash
# dcos-etcdctl (dcos-sim)
set -o errexit -o pipefail -o nounset
@PROLOGUE@
sub="${1:-}"
path="${2:-}"
case "$sub" in
backup)
    [ -n "$path" ] || { echo "usage: dcos-etcdctl backup <backup.tar>" >&2; exit 2; }
    [ ! -e "$path" ] || { echo "backup path $path already exists" >&2; exit 1; }
    tar -cf "$path" -C "$R/var/lib/dcos/etcd" ./default.etcd
    leader="$(curl -fsS --max-time 5 "$SIM_CTL/health" 2>/dev/null | sed -n 's/.*"leader":"\([^"]*\)".*/\1/p')"
    curl -fsS --max-time 5 -X POST "$SIM_CTL/node/$SIM_NODE/record/etcd_backup?leader=$leader&ip=$("$R/opt/mesosphere/bin/detect_ip")" > /dev/null 2>&1 || true
    echo "etcd backup written to $path"
    ;;
diagnostic) echo "etcd cluster is healthy" ;;
*) echo "usage: dcos-etcdctl {backup,restore,diagnostic} ..." >&2; exit 2 ;;
esac
"#;

/// `opt/mesosphere/bin/iam-database-backup` (with CockroachDB): the IAM database as SQL
/// (`cockroach dump iam`) on stdout, or into the path given.
pub const IAM_DATABASE_BACKUP: &str = r#"#!/bin/bash
# iam-database-backup (dcos-sim)
set -o errexit -o pipefail -o nounset
@PROLOGUE@
dump="$R/var/lib/dcos/cockroach/iam-dump.sql"
curl -fsS --max-time 5 -X POST "$SIM_CTL/node/$SIM_NODE/record/iam_backup" > /dev/null 2>&1 || true
if [ -n "${1:-}" ]; then cat "$dump" > "$1"; else cat "$dump"; fi
"#;

/// `opt/mesosphere/bin/dcos-zk`: `backup PATH [-v]` and `restore PATH [-v]` of
/// `var/lib/dcos/exhibitor/zookeeper` (without `myid` and `zookeeper.out`), refused while
/// ZooKeeper runs.
pub const DCOS_ZK: &str = r#"#!/bin/bash
# dcos-zk (dcos-sim)
set -o errexit -o pipefail -o nounset
@PROLOGUE@
EXH="$R/var/lib/dcos/exhibitor"
sub="${1:-}"
path="${2:-}"
usage() { echo "usage: dcos-zk {backup,restore} <backup_path> [-v]" >&2; exit 2; }
# Running while Exhibitor's zk.pid names a live process (a real server), or while the testbed
# says dcos-exhibitor is not stopped (the simulated one).
zk_pid_alive() {
    local p
    p="$(cat "$EXH/zk.pid" 2>/dev/null || true)"
    [ -n "$p" ] && kill -0 "$p" 2>/dev/null
}
zk_running() { zk_pid_alive || [ "$(curl -fsS --max-time 5 "$SIM_CTL/node/$SIM_NODE/unit/dcos-exhibitor" 2>/dev/null || echo unknown)" != "inactive" ]; }
[ -n "$path" ] || usage
case "$sub" in
backup)
    if zk_running; then
        echo "ZooKeeper is running. Stop the dcos-exhibitor service (systemctl stop dcos-exhibitor) on this master before taking a backup." >&2
        exit 1
    fi
    tar -czf "$path" -C "$EXH" --exclude=./zookeeper/myid --exclude=./zookeeper/zookeeper.out ./zookeeper
    echo "ZooKeeper backup written to $path"
    ;;
restore)
    if zk_running; then
        echo "ZooKeeper is running. Stop the dcos-exhibitor service (systemctl stop dcos-exhibitor) on every master before restoring." >&2
        exit 1
    fi
    [ -f "$path" ] || { echo "No such backup: $path" >&2; exit 1; }
    find "$EXH/zookeeper" -mindepth 1 -maxdepth 1 ! -name myid ! -name zookeeper.out -exec rm -rf {} +
    tar -xzf "$path" -C "$EXH"
    echo "ZooKeeper restored from $path"
    ;;
*) usage ;;
esac
"#;
