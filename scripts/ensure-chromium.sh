#!/usr/bin/env bash
# Makes sure a Chromium is on this machine for the browser test and the demo's screenshots: Debian's `chromium`
# package (Playwright drives it; no browser download). Installs it with apt-get when missing (as root, or with sudo).
# With --optional (the demo), a machine where that cannot be done gets a note and the demo goes on without pictures.
set -euo pipefail
optional=false; [ "${1:-}" = "--optional" ] && optional=true
for candidate in "${MWAA_OBS_CHROMIUM:-}" chromium chromium-browser google-chrome; do
  if [ -n "$candidate" ] && command -v "$candidate" >/dev/null 2>&1; then exit 0; fi
done
if command -v apt-get >/dev/null 2>&1; then
  sudo=""; [ "$(id -u)" -ne 0 ] && command -v sudo >/dev/null 2>&1 && sudo="sudo -n"
  if { $sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq chromium; } >/dev/null 2>&1; then
    exit 0
  fi
fi
if $optional; then
  echo "ensure-chromium: no Chromium (install Debian's 'chromium' or set MWAA_OBS_CHROMIUM); the demo skips its screenshots" >&2
  exit 0
fi
echo "ensure-chromium: no Chromium and apt-get could not install it: install 'chromium' or set MWAA_OBS_CHROMIUM" >&2
exit 1
