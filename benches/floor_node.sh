# shellcheck shell=bash
# Runs ON a node, fed to `ssh NODE bash -s -- ROLE ROOT URL SELF MASTERS...` by the floor loops:
# the node upgrade script run as dcos-upgrade runs it (src/phases/node_upgrade.rs launch_script:
# on agents `rm -f ROOT/opt/mesosphere/lib/libltdl.so.7` first, then `curl -fsS --retry 3 -o
# dcos_node_upgrade.sh URL && bash dcos_node_upgrade.sh --verbose` in a fresh directory, the
# session's environment from sshd), then the tightest health poll, on the node, every 50 ms:
# master: every master's registrar/log/recovered = 1, Exhibitor serving on every master with
# one leader, a Mesos leader named by /master/redirect (the tool's masters_healthy gate);
# agent: slave/registered = 1 on its own :5051 (the tool's agent_registered gate).
set -uo pipefail
role=$1 root=$2 url=$3 self=$4; shift 4
w=$root/var/lib/dcos-floor; mkdir -p "$w"; d=$(mktemp -d "$w/step.XXXXXX"); cd "$d" || exit 1
if [ "$role" != master ]; then rm -f "$root/opt/mesosphere/lib/libltdl.so.7"; fi
if ! { curl -fsS --retry 3 -o dcos_node_upgrade.sh "$url" && bash dcos_node_upgrade.sh --verbose; } > out.log 2>&1; then
  echo "floor: the node script failed on $self:"; tail -5 out.log; exit 1
fi
healthy() {
  exec 2> /dev/null
  if [ "$role" = master ]; then
    local m st
    for m in "$@"; do
      curl -fsS --max-time 2 "http://$m:5050/metrics/snapshot" | grep -qF '"registrar\/log\/recovered":1' || return 1
    done
    st=$(curl -fsS --max-time 2 "http://$self:8181/exhibitor/v1/cluster/status") || return 1
    [ "$(grep -o '"code":3' <<< "$st" | wc -l)" -eq "$#" ] && [ "$(grep -o '"isLeader":true' <<< "$st" | wc -l)" -eq 1 ] || return 1
    curl -fsS --max-time 2 -o /dev/null -w '%{redirect_url}' "http://$self:5050/master/redirect" | grep -q ':5050'
  else
    curl -fsS --max-time 2 "http://$self:5051/metrics/snapshot" | grep -qF '"slave\/registered":1'
  fi
}
n=0
until healthy "$@"; do
  n=$((n + 1)); [ "$n" -lt 1200 ] || { echo "floor: $self not healthy after 60 s"; exit 1; }
  sleep 0.05
done
