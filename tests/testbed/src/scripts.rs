//! Shell scripts installed on the simulated nodes and served by the bootstrap node.
//!
//! Placeholders `@NAME@` are replaced when the testbed is created.

/// `dcos_node_upgrade.sh`, after the `node_upgrade_template` of dcos/dcos `dcos_installer/upgrade.py`
/// (2.x), with every DC/OS path prefixed by `$R` (the node root) and the attempt recorded with the
/// testbed daemon.
pub const NODE_UPGRADE: &str = r#"#!/bin/bash
#
# BASH script to upgrade DC/OS on a node
#
# Metadata:
#   dcos image commit: @COMMIT@
#   from version: @FROM@
#   to version: @TO@
#
# (dcos-sim: generated from dcos_installer/upgrade.py's node_upgrade_template; every DC/OS path
#  is prefixed by $DCOS_SIM_ROOT)

set -o errexit -o pipefail -o nounset

R="${DCOS_SIM_ROOT:-}"
SIM_CTL="${DCOS_SIM_CTL:-@CTL@}"
SIM_NODE="${DCOS_SIM_NODE:-}"

function usage {
    echo "Usage: $0 [--skip-checks] [-v|--verbose]"
}

SKIP_CHECKS=false
VERBOSE=false
while [ "$#" -gt 0 ]; do
    case "$1" in
        --skip-checks) SKIP_CHECKS=true ;;
        -v|--verbose) VERBOSE=true ;;
        -*) usage; exit 1 ;;
        *) ;;
    esac
    shift
done

if [ "$VERBOSE" = true ]; then
    set -x
fi

# dcos-sim: record this attempt (report: upgrade_attempts, upgrade_order)
sim_found=`grep "version" "$R/opt/mesosphere/etc/dcos-version.json" 2>/dev/null | cut -d '"' -f 4 || true`
SIM_ATTEMPT=""
if [ -n "$SIM_NODE" ]; then
    SIM_ATTEMPT=$(curl -fsS --max-time 10 -X POST "$SIM_CTL/node/$SIM_NODE/attempt?from=$sim_found&to=@TO@" 2>/dev/null || true)
fi
function sim_done {
    local rc=$?
    if [ -n "$SIM_ATTEMPT" ]; then
        curl -fsS --max-time 10 -X POST "$SIM_CTL/node/$SIM_NODE/attempt/$SIM_ATTEMPT/done?code=$rc" >/dev/null 2>&1 || true
    fi
}
trap sim_done EXIT

if [ "$EUID" -ne 0 ] && [ "${DCOS_SIM_FAKE_ROOT:-0}" != "1" ]; then
    echo "This script must be run as root"
    exit 1
fi

source "$R/opt/mesosphere/environment.export"

found_version=`grep "version" "$R/opt/mesosphere/etc/dcos-version.json" | cut -d '"' -f 4`
if [ "$found_version" != "@FROM@" ]; then
    echo "ERROR: Expecting to upgrade DC/OS from @FROM@ to @TO@. Version found on node: $found_version"
    exit 1
fi

if [ "$SKIP_CHECKS" != "true" ]; then
    if [ -f "$R/opt/mesosphere/bin/dcos-check-runner" ]; then
        for check_type in "node-poststart cluster"; do
            if ! "$R/opt/mesosphere/bin/dcos-shell" "$R/opt/mesosphere/bin/dcos-check-runner" check $check_type > /dev/null; then
                echo "Cannot proceed with upgrade, node checks failed"
                exit 1
            fi
        done
    fi
fi

role_count=0
role=""
for r in master slave slave_public; do
    if [ -f "$R/etc/mesosphere/roles/$r" ]; then
        role="$r"
        role_count=$((role_count + 1))
    fi
done
if [ "$role_count" -ne 1 ]; then
    echo "Can't determine this node's role"
    exit 1
fi
case "$role" in
    master) role_name="master" ;;
    slave) role_name="agent" ;;
    slave_public) role_name="public agent" ;;
esac

echo "Upgrading DC/OS $role_name @FROM@ -> @TO@"
"$R/opt/mesosphere/bin/pkgpanda" fetch --repository-url=@BOOTSTRAP_URL@ @PACKAGES@
SIM_SECURITY=@SECURITY@ "$R/opt/mesosphere/bin/pkgpanda" activate @PACKAGES@

if [ "$SKIP_CHECKS" != "true" ]; then
    cmd="$R/opt/mesosphere/bin/dcos-check-runner check node-poststart && $R/opt/mesosphere/bin/dcos-check-runner check cluster"
    T=300
    until OUT=$("$R/opt/mesosphere/bin/dcos-shell" $cmd) || [[ T -eq 0 ]]; do
        sleep 1
        let T=T-1
    done
    RETCODE=$?
    if [ $RETCODE -ne 0 ]; then
        echo "Node upgrade not successful, checks failed"
        echo "$OUT"
    fi
    exit $RETCODE
fi
"#;

/// Common prologue of the node-side helper scripts.
const PROLOGUE: &str = r#"R="${DCOS_SIM_ROOT:-@ROOT@}"
SIM_CTL="${DCOS_SIM_CTL:-@CTL@}"
SIM_NODE="${DCOS_SIM_NODE:-@NODE@}"
sim_fault() { [ "$(curl -fsS --max-time 5 "$SIM_CTL/node/$SIM_NODE/fault/$1" 2>/dev/null || echo 0)" = "1" ]; }
"#;

/// `opt/mesosphere/bin/pkgpanda`: `fetch` downloads packages from the bootstrap node, `activate`
/// stops the node's services, swaps the tree (keeping `*.old`) and starts them again.
pub const PKGPANDA: &str = r#"#!/bin/bash
# pkgpanda (dcos-sim)
set -o errexit -o pipefail -o nounset
@PROLOGUE@
M="$R/opt/mesosphere"
sub="${1:-}"
[ "$#" -gt 0 ] && shift
case "$sub" in
fetch)
    url=""
    ids=()
    for a in "$@"; do
        case "$a" in
            --repository-url=*) url="${a#--repository-url=}" ;;
            -*) ;;
            *) ids+=("$a") ;;
        esac
    done
    if sim_fault upgrade-fails; then
        echo "Error: Unable to fetch package ${ids[0]:-}: HTTP 500 Internal Server Error from $url" >&2
        exit 1
    fi
    mkdir -p "$M/packages"
    for id in "${ids[@]}"; do
        name="${id%%--*}"
        [ -f "$M/packages/$id.tar.xz" ] && continue
        curl -fsS --max-time 30 -o "$M/packages/$id.tar.xz.part" "$url/packages/$name/$id.tar.xz"
        mv "$M/packages/$id.tar.xz.part" "$M/packages/$id.tar.xz"
    done
    ;;
activate)
    ids=()
    for a in "$@"; do
        case "$a" in
            -*) ;;
            *) ids+=("$a") ;;
        esac
    done
    meta=""
    for id in "${ids[@]}"; do
        [ -f "$M/packages/$id.tar.xz" ] || { echo "Error: package $id has not been fetched" >&2; exit 1; }
        case "$id" in dcos-metadata--*) meta="$M/packages/$id.tar.xz" ;; esac
    done
    [ -n "$meta" ] || { echo "Error: no dcos-metadata package given" >&2; exit 1; }
    newver=`grep "version" "$meta" | cut -d '"' -f 4`
    rm -rf "$M/active.new" "$M/bin.new" "$M/etc.new" "$M/lib.new" "$M/environment.export.new"
    cp -a "$M/active" "$M/active.new"
    cp -a "$M/bin" "$M/bin.new"
    # The tools that come and go with a version (dcos-sim keeps each version's set in
    # nodes/<name>/tools/<version>/, and their names in tools/names).
    T="$R/../tools"
    if [ -f "$T/names" ]; then
        while read -r t; do rm -f "$M/bin.new/$t"; done < "$T/names"
        if [ -d "$T/$newver" ]; then cp -a "$T/$newver/." "$M/bin.new/"; fi
    fi
    cp -a "$M/etc" "$M/etc.new"
    cp -a "$M/lib" "$M/lib.new"
    mkdir -p "$M/active.new/dcos-metadata/etc"
    cp "$meta" "$M/active.new/dcos-metadata/etc/dcos-version.json"
    cp "$meta" "$M/etc.new/dcos-version.json"
    printf '%s\n' "${ids[@]}" > "$M/active.new/.packages"
    sed "s/^export DCOS_VERSION=.*/export DCOS_VERSION=$newver/" "$M/environment.export" > "$M/environment.export.new"
    # The new configuration's security mode (dcos-sim: given by the node script).
    if [ -n "${SIM_SECURITY:-}" ]; then
        printf '{"security": "%s"}\n' "$SIM_SECURITY" > "$M/etc.new/bootstrap-config.json"
    fi
    # stop all DC/OS units
    curl -fsS --max-time 10 -X POST "$SIM_CTL/node/$SIM_NODE/unit/dcos.target/stop" > /dev/null
    if sim_fault hang; then
        while true; do sleep 1; done
    fi
    for d in active bin etc lib environment.export; do
        rm -rf "$M/$d.old"
        mv "$M/$d" "$M/$d.old"
        mv "$M/$d.new" "$M/$d"
    done
    # systemctl daemon-reload; systemctl enable dcos.target; systemctl start dcos.target
    curl -fsS --max-time 10 -X POST "$SIM_CTL/node/$SIM_NODE/unit/dcos.target/start" > /dev/null
    ;;
list)
    ls "$M/packages" 2>/dev/null | sed 's/\.tar\.xz$//'
    ;;
*)
    echo "usage: pkgpanda <fetch|activate|list> [--repository-url=URL] <package-id>..." >&2
    exit 1
    ;;
esac
"#;

/// `opt/mesosphere/bin/dcos-check-runner`: `check <type> [names...] [--list]`, selected names
/// that do not exist are ignored (which reproduces the documented post-check quirk).
pub const CHECK_RUNNER: &str = r#"#!/bin/bash
# dcos-check-runner (dcos-sim)
set -o nounset
@PROLOGUE@
IP="$("$R/opt/mesosphere/bin/detect_ip")"
# In strict mode Mesos speaks TLS only: use the node's CA bundle, as DC/OS's checks do.
# Its token stands for the node's own IAM configuration (a service account on a real node).
MESOS="http"
TLSOPT=()
if grep -q '"strict"' "$R/opt/mesosphere/etc/bootstrap-config.json" 2>/dev/null; then
    MESOS="https"
    TOKEN="$(curl -fsS --max-time 5 -X POST "$SIM_CTL/iam/token?uid=dcos_check_runner" 2>/dev/null || true)"
    TLSOPT=(--cacert "$R/run/dcos/pki/CA/ca-bundle.crt" -H "Authorization: token=$TOKEN")
fi
sub="${1:-}"
type="${2:-}"
if [ "$sub" != "check" ] || [ -z "$type" ]; then
    echo "Usage: dcos-check-runner check <cluster|node-prestart|node-poststart> [check names...] [--list]" >&2
    exit 3
fi
shift 2
names=()
list=false
for a in "$@"; do
    case "$a" in
        --list) list=true ;;
        *) names+=("$a") ;;
    esac
done
avail=()
if [ "$type" = "node-poststart" ]; then
    if [ -f "$R/etc/mesosphere/roles/master" ]; then
        avail=(components_master mesos_master_replog_synchronized journald_dir_permissions)
    else
        avail=(components_agent mesos_agent_registered_with_masters journald_dir_permissions)
    fi
fi
if $list; then
    for a in "${avail[@]}"; do echo "$a"; done
    exit 0
fi
sel=()
missing=""
if [ "${#names[@]}" -eq 0 ]; then
    sel=("${avail[@]}")
else
    for n in "${names[@]}"; do
        found=false
        for a in "${avail[@]}"; do
            if [ "$n" = "$a" ]; then sel+=("$a"); found=true; fi
        done
        # dcos-check-runner keys its errors by the error text, so of several unknown names
        # only one is reported (runner/runner.go `run`, `errs[result.err.Error()]`).
        $found || missing="$n"
    done
fi
if [ -n "$missing" ]; then
    # An unknown check is an error, not a status: the combined status stays 0 and so does the
    # exit code (runner/runner.go `run` and `MarshalJSON`; facts §8.2).
    echo "{\"error\": \"One or more requested checks could not be found on this node.\", \"checks\": [\"$missing: Check not found\"]}"
    exit 0
fi
status=0
out=""
for c in "${sel[@]}"; do
    st=0
    msg="OK"
    case "$c" in
        components_master) curl -fsS --max-time 5 -o /dev/null "http://$IP:@ADMIN_PORT@/dcos-metadata/dcos-version.json" 2>/dev/null || st=2 ;;
        components_agent) curl -fsS --max-time 5 -o /dev/null "http://$IP:61001/dcos-metadata/dcos-version.json" 2>/dev/null || st=2 ;;
        mesos_master_replog_synchronized) curl -fsS --max-time 5 "${TLSOPT[@]}" "$MESOS://$IP:5050/metrics/snapshot" 2>/dev/null | grep -q '"registrar\\/log\\/recovered":1.0' || st=2 ;;
        mesos_agent_registered_with_masters) curl -fsS --max-time 5 "${TLSOPT[@]}" "$MESOS://$IP:5051/metrics/snapshot" 2>/dev/null | grep -q '"slave\\/registered":1.0' || st=2 ;;
        # The `check-fails` fault: this check fails (the wording is the testbed's).
        journald_dir_permissions) if sim_fault check-fails; then st=2; msg="directory /var/log/journal has wrong group: expected systemd-journal"; fi ;;
    esac
    if [ "$st" -ne 0 ] && [ "$msg" = "OK" ]; then msg="check $c failed"; fi
    if [ "$st" -gt "$status" ]; then status=$st; fi
    [ -n "$out" ] && out="$out, "
    out="$out\"$c\": {\"output\": \"$msg\", \"status\": $st}"
done
echo "{\"status\": $status, \"checks\": {$out}}"
exit $status
"#;

/// `opt/mesosphere/bin/cockroach` on masters: `node status --ranges [--format tsv]
/// [--certs-dir=DIR] [--host=IP]` prints the daemon's CockroachDB view; other commands fail.
pub const COCKROACH: &str = r#"#!/bin/bash
# cockroach (dcos-sim)
@PROLOGUE@
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

/// `opt/mesosphere/bin/detect_ip`.
pub const DETECT_IP: &str = "#!/bin/sh\necho @ADDRESS@\n";

/// `opt/mesosphere/bin/mesos-master` / `mesos-slave` stand-ins.
pub const MESOS_BIN: &str = "#!/bin/sh\necho \"mesos @MESOS_VERSION@\"\n";

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

/// `shim/systemctl`: start/stop/restart/status/is-active of DC/OS units through the daemon.
pub const SYSTEMCTL: &str = r#"#!/bin/bash
# systemctl shim (dcos-sim): DC/OS units are simulated by the testbed daemon
set -o nounset
@PROLOGUE@
verb="${1:-}"
[ "$#" -gt 0 ] && shift
units=()
for a in "$@"; do
    case "$a" in
        -*) ;;
        *) units+=("${a%.service}") ;;
    esac
done
case "$verb" in
start|stop|restart)
    rc=0
    for u in "${units[@]}"; do
        if ! curl -fsS --max-time 10 -X POST "$SIM_CTL/node/$SIM_NODE/unit/$u/$verb" > /dev/null 2>&1; then
            echo "Failed to $verb $u.service: Unit $u.service not found." >&2
            rc=5
        fi
    done
    exit $rc
    ;;
is-active)
    rc=0
    for u in "${units[@]}"; do
        st="$(curl -fsS --max-time 10 "$SIM_CTL/node/$SIM_NODE/unit/$u" 2>/dev/null || echo inactive)"
        echo "$st"
        [ "$st" = "active" ] || rc=3
    done
    exit $rc
    ;;
status)
    rc=0
    for u in "${units[@]}"; do
        st="$(curl -fsS --max-time 10 "$SIM_CTL/node/$SIM_NODE/unit/$u" 2>/dev/null || echo unknown)"
        case "$st" in
            active) echo "* $u.service - $u"; echo "   Active: active (running)" ;;
            activating) echo "* $u.service - $u"; echo "   Active: activating (start)"; rc=3 ;;
            inactive) echo "* $u.service - $u"; echo "   Active: inactive (dead)"; rc=3 ;;
            *) echo "Unit $u.service could not be found." >&2; rc=4 ;;
        esac
    done
    exit $rc
    ;;
daemon-reload|enable|disable|reset-failed)
    exit 0
    ;;
list-units)
    curl -fsS --max-time 10 "$SIM_CTL/node/$SIM_NODE/units"
    ;;
*)
    echo "systemctl (dcos-sim shim): unsupported command '$verb'" >&2
    exit 1
    ;;
esac
"#;

/// `shim/df`: the real `df`, but under the `disk-full` fault every filesystem has 1% free.
pub const DF: &str = r#"#!/bin/bash
# df shim (dcos-sim)
@PROLOGUE@
if sim_fault disk-full; then
    command -p df "$@" | awk 'NR==1 { print; next } { if ($2 ~ /^[0-9]+$/) { $4 = int($2 / 100); $3 = $2 - $4 } else { $4 = "1K" } $5 = "99%"; print }'
    exit "${PIPESTATUS[0]}"
fi
exec env PATH=/usr/bin:/bin df "$@"
"#;

/// Replaces `@PROLOGUE@` and the common placeholders.
pub fn render(template: &str, vars: &[(&str, &str)]) -> String {
    let mut s = template.replace("@PROLOGUE@", PROLOGUE);
    for (k, v) in vars {
        s = s.replace(&format!("@{k}@"), v);
    }
    s
}
