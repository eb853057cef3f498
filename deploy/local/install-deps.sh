#!/usr/bin/env bash
# Installs what the test suite and the local stack need and a fresh machine lacks, once:
# PostgreSQL's server programs, Prometheus and Alertmanager (Debian packages; nothing is started
# here), git, Chromium and the Playwright driver (see install-browser.sh). Safe to run again: it
# only installs what is missing.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
t0=$(date +%s)
missing=()
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || missing+=(postgresql)
command -v git >/dev/null 2>&1 || missing+=(git)
[ -x /usr/bin/prometheus ] || missing+=(prometheus)
[ -x /usr/bin/prometheus-alertmanager ] || missing+=(prometheus-alertmanager)
command -v node >/dev/null 2>&1 || missing+=(nodejs npm)
if [ ${#missing[@]} -gt 0 ]; then
  echo "install-deps: installing ${missing[*]} (apt)…" >&2
  if [ "$(id -u)" -ne 0 ]; then
    echo "install-deps: need root to install ${missing[*]}: run sudo apt-get install ${missing[*]}" >&2
    exit 1
  fi
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi
"$here/install-browser.sh" >/dev/null
echo "install-deps: ready ($(( $(date +%s) - t0 ))s)" >&2
