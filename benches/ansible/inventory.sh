#!/usr/bin/env bash
# Writes an Ansible inventory (INI) for a dcos-sim testbed DIR to stdout: groups masters (the
# Mesos leader last, read from /master/redirect on m1 over SSH, as the floor does) and agents
# (private then public), each host with addr and root; SSH through DIR/ssh_config.
# Usage: benches/ansible/inventory.sh DIR [--no-leader]
set -euo pipefail
d=$1
hosts() { awk -v p="$1" '$1 == "Host" && $2 ~ ("^" p "[0-9]+$") {print $2, $3}' "$d/ssh_config"; }
url=$(sed -n 's/^upgrade_script_url = "\(.*\)"/\1/p' "$d/inventory.toml")
leader=""
if [ "${2:-}" != --no-leader ]; then
  m1=$(hosts m | head -1 | cut -d' ' -f2)
  leader=$(ssh -F "$d/ssh_config" m1 "curl -fsS -o /dev/null -w '%{redirect_url}' http://$m1:5050/master/redirect" | sed 's#^[a-z]*:*//##; s#:.*##')
fi
line() { echo "$1 addr=$2 root=$d/nodes/$1/root"; }
echo "[masters]"
hosts m | while read -r n a; do [ "$a" = "$leader" ] || line "$n" "$a"; done
hosts m | while read -r n a; do [ "$a" != "$leader" ] || line "$n" "$a"; done
echo "[agents]"
{ hosts a; hosts p; } | while read -r n a; do line "$n" "$a"; done
cat <<VARS
[all:vars]
ansible_ssh_common_args='-F $d/ssh_config'
ansible_python_interpreter=/usr/bin/python3
upgrade_script_url=$url
VARS
