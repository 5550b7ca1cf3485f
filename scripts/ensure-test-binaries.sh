#!/usr/bin/env bash
# Make sure the programs the test suite starts itself are installed:
#   redis-server, mosquitto (+ mosquitto_passwd), docker-compose (offline compose-file validation) and
#   chromium (the browser tests in tests/web drive it through Playwright).
# Installing the Debian packages does not start their services on these machines; the tests start
# private servers on free ports (tests/services.py). As root this installs what is missing; otherwise
# it stops and says what to install.
set -euo pipefail

# binary -> Debian package
declare -A PACKAGE_OF=(
  [redis-server]=redis-server
  [mosquitto]=mosquitto
  [mosquitto_passwd]=mosquitto
  [docker-compose]=docker-compose
  [chromium]=chromium
)

# mosquitto lives in /usr/sbin, which a non-login shell may not have on PATH.
export PATH="$PATH:/usr/local/sbin:/usr/sbin:/sbin"

missing=()
for binary in "${!PACKAGE_OF[@]}"; do
  if ! command -v "$binary" >/dev/null 2>&1; then
    package="${PACKAGE_OF[$binary]}"
    [[ " ${missing[*]-} " == *" $package "* ]] || missing+=("$package")
  fi
done

if [[ ${#missing[@]} -eq 0 ]]; then
  exit 0
fi

if [[ "$(id -u)" -ne 0 ]]; then
  echo "The test suite needs these Debian packages, which are not installed: ${missing[*]}" >&2
  echo "Install them (this does not start any service), then run make test again:" >&2
  echo "    sudo apt-get update && sudo apt-get install -y --no-install-recommends ${missing[*]}" >&2
  exit 1
fi

if ! command -v apt-get >/dev/null 2>&1; then
  echo "Missing test programs from packages: ${missing[*]}; no apt-get here, install them by hand." >&2
  exit 1
fi

echo "Installing test programs: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# --no-install-recommends: docker-compose recommends the whole Docker engine, which the tests do not use.
apt-get install -y -qq --no-install-recommends "${missing[@]}" </dev/null
