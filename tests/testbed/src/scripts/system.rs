//! Stand-ins for system programs on a node: `detect_ip`, the Mesos binaries, `systemctl`, `df`.

/// `opt/mesosphere/bin/detect_ip`.
pub const DETECT_IP: &str = "#!/bin/sh\necho @ADDRESS@\n";

/// `opt/mesosphere/bin/mesos-master` / `mesos-slave` stand-ins.
pub const MESOS_BIN: &str = "#!/bin/sh\necho \"mesos @MESOS_VERSION@\"\n";

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

/// `shim/df`: the real `df`, but under the `disk-full` fault every filesystem has 1% free, and
/// under `tmp-full` the node's temporary directory (a path ending in `/tmp`) has.
pub const DF: &str = r#"#!/bin/bash
# df shim (dcos-sim)
@PROLOGUE@
full=0
if sim_fault disk-full; then
    full=1
elif [ "$#" -gt 0 ]; then
    case "${!#}" in */tmp | */tmp/) sim_fault tmp-full && full=1 ;; esac
fi
if [ "$full" = 1 ]; then
    command -p df "$@" | awk 'NR==1 { print; next } { if ($2 ~ /^[0-9]+$/) { $4 = int($2 / 100); $3 = $2 - $4 } else { $4 = "1K" } $5 = "99%"; print }'
    exit "${PIPESTATUS[0]}"
fi
exec env PATH=/usr/bin:/bin df "$@"
"#;
