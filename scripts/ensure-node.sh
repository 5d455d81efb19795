#!/usr/bin/env bash
# Makes sure Node.js (18 or later) and npm are on this machine: the IAM evaluator of the offline world
# (@cloud-copilot/iam-simulate, mwaa_obs_tools.iam) runs in Node. Installs Debian's `nodejs` and `npm` with apt-get
# when missing (as root, or with sudo).
set -euo pipefail
has_node() {
  command -v node >/dev/null 2>&1 && command -v npm >/dev/null 2>&1 \
    && [ "$(node -p 'process.versions.node.split(".")[0]')" -ge 18 ]
}
has_node && exit 0
if command -v apt-get >/dev/null 2>&1; then
  sudo=""; [ "$(id -u)" -ne 0 ] && command -v sudo >/dev/null 2>&1 && sudo="sudo -n"
  { $sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq nodejs npm; } >/dev/null 2>&1 || true
fi
has_node && exit 0
echo "ensure-node: Node.js 18+ and npm are needed (the IAM evaluator of the tests) and apt-get could not install them" >&2
exit 1
