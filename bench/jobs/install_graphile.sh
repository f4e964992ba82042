#!/usr/bin/env bash
# Installs graphile-worker (pinned in graphile/package-lock.json) from npm.
set -euo pipefail
cd "$(dirname "$0")/graphile"
if [ -f package-lock.json ]; then npm ci --no-audit --no-fund; else npm install --no-audit --no-fund; fi
