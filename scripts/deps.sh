#!/usr/bin/env bash
# Installs the Debian packages kintsugi needs to build and test, if missing.
# Idempotent and quiet when everything is there already.
set -euo pipefail
# prometheus-alertmanager, openssl, nodejs and npm: tests/integration/alerts.sh
# (a real Alertmanager, and PagerDuty's JavaScript client behind a TLS front).
# python3 and prometheus: tests/integration/serve_more.sh and metrics.sh;
# python3-aiosmtpd: a real SMTP server in tests/integration/messages.sh.
# chromium: tests/integration/dashboard.sh drives it headless with puppeteer-core
# (tests/browser/, npm ci with PUPPETEER_SKIP_DOWNLOAD: no browser is downloaded);
# it also gives `kintsugi demo` a terminal with script (bsdutils) and finds the
# server under it with pgrep (procps).
# libnats-dev: the NATS C client (JetStream) of `kintsugi publish` and `serve --bus`;
# nats-server: the JetStream server tests/integration/bus.sh and bench/bus.sh start.
# libpq-dev: the PostgreSQL store (--db postgresql://...); postgresql (the
# server, run by scripts/pg-test.sh for the tests) and postgresql-client (psql).
need=(gcc make pkg-config curl jq libsqlite3-dev libyaml-dev libjansson-dev libcurl4-openssl-dev libssl-dev libmicrohttpd-dev clang libclang-rt-14-dev libtsan2
      prometheus-alertmanager openssl python3 prometheus python3-aiosmtpd chromium bsdutils procps
      libpq-dev postgresql postgresql-client libnats-dev nats-server sqlite3)
missing=()
for p in "${need[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
# node and npm by command: a machine may have them from another package than Debian's
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
    missing+=(nodejs npm)
fi
[ ${#missing[@]} -eq 0 ] && exit 0
echo "kintsugi: installing missing Debian packages: ${missing[*]}"
SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq "${missing[@]}"
