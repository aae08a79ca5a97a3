#!/usr/bin/env bash
# Installs ansible-core from PyPI into a venv for the Ansible benchmarks (benches/ansible_*.sh).
# Usage: benches/setup_ansible.sh [VENV]   (default: $ANSIBLE_VENV, else ${CARGO_TARGET_DIR:-target}/ansible-venv)
# The venv is made with the system's /usr/bin/python3 (not a pyenv shim), so no shell start-up
# hook of the host user's is involved when Ansible runs.
set -euo pipefail
venv=${1:-${ANSIBLE_VENV:-${CARGO_TARGET_DIR:-target}/ansible-venv}}
py=/usr/bin/python3
[ -x "$py" ] || py=$(command -v python3)
if [ ! -x "$venv/bin/ansible-playbook" ]; then
  "$py" -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check 'ansible-core>=2.15,<2.18'
fi
"$venv/bin/ansible-playbook" --version | sed -n 1p
