//! The upgrade path on a node: `dcos_node_upgrade.sh` and the `pkgpanda` it drives.

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
    # dcos-check-runner from 1.12, dcos-diagnostics before (facts §4).
    checker=""
    if [ -f "$R/opt/mesosphere/bin/dcos-check-runner" ]; then
        checker="$R/opt/mesosphere/bin/dcos-check-runner"
    elif [ -f "$R/opt/mesosphere/bin/dcos-diagnostics" ]; then
        checker="$R/opt/mesosphere/bin/dcos-diagnostics"
    fi
    if [ -n "$checker" ]; then
        for check_type in "node-poststart cluster"; do
            if ! "$R/opt/mesosphere/bin/dcos-shell" "$checker" check $check_type > /dev/null; then
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
    checker="$R/opt/mesosphere/bin/dcos-check-runner"
    [ -f "$checker" ] || checker="$R/opt/mesosphere/bin/dcos-diagnostics"
    cmd="$checker check node-poststart && $checker check cluster"
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
