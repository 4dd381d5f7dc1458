#!/usr/bin/env bash
# Installs the locked dependencies when they are missing or older than the lockfile, so that
# `npm start` works on a fresh clone with no other step.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund
fi
