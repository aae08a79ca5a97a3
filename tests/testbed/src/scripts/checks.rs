//! `dcos-check-runner`, as the pre- and post-upgrade checks call it.

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
# Every run of checks is on the testbed's record (`check_run`: the node, the type, when it
# started and ended by the machine's clock), for tests to see when a node was checked.
started=$EPOCHREALTIME
trap 'curl -fsS --max-time 5 -X POST "$SIM_CTL/node/$SIM_NODE/record/check_run?type=$type&started=$started&ended=$EPOCHREALTIME" > /dev/null 2>&1 || true' EXIT
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
# The time a real node's checks take beyond these reads (`dcos-sim up --check-ms`).
[ "@CHECK_SECS@" = 0.000 ] || sleep @CHECK_SECS@
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
