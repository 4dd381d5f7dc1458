#!/usr/bin/env bash
# Installs, from Debian's packages only, what the tests need besides Node and Docker: chromium
# for the web view's browser test (driven by playwright-core from npm, never by a browser
# download). Idempotent: nothing is installed that is already there.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive

sudo=()
if [ "$(id -u)" -ne 0 ]; then sudo=(sudo -n); fi

missing=()
command -v chromium >/dev/null || missing+=(chromium)
if [ ${#missing[@]} -gt 0 ]; then
  echo "test-deps: installing ${missing[*]}" >&2
  "${sudo[@]}" apt-get update -q >/dev/null
  "${sudo[@]}" apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null
fi
echo "test-deps: chromium $(chromium --version 2>/dev/null | awk '{print $2}')" >&2
