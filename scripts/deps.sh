#!/usr/bin/env bash
# Installs the Debian packages kintsugi needs to build and test, if missing.
# Idempotent and quiet when everything is there already.
set -euo pipefail
need=(gcc make pkg-config curl jq libsqlite3-dev libyaml-dev libjansson-dev libcurl4-openssl-dev libssl-dev libmicrohttpd-dev clang libclang-rt-14-dev libtsan2 python3 prometheus)
missing=()
for p in "${need[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
echo "kintsugi: installing missing Debian packages: ${missing[*]}"
SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq "${missing[@]}"
