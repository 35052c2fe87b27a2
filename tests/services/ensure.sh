#!/usr/bin/env bash
# Installs the Debian packages the end-to-end tests use (PostgreSQL, Mosquitto, Chromium) when missing.
# The tests start their own private server instances on loopback; nothing system-wide is started here.
set -euo pipefail
need=()
command -v mosquitto >/dev/null 2>&1 || [ -x /usr/sbin/mosquitto ] || need+=(mosquitto)
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || need+=(postgresql)
command -v chromium >/dev/null 2>&1 || need+=(chromium)
[ ${#need[@]} -eq 0 ] && exit 0
if [ "$(id -u)" != 0 ]; then
  echo "Missing Debian packages: ${need[*]}. Install them with: sudo apt-get install -y ${need[*]}" >&2
  echo "(tests that need them will be skipped)" >&2
  exit 0
fi
echo "Installing Debian packages for the end-to-end tests: ${need[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
# Debian enables and starts a system-wide mosquitto/postgresql on install where it can; the tests use their own.
