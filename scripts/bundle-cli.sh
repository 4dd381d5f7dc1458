#!/usr/bin/env bash
# Bundles the `baton` binary (dist/src/baton.js, compiled by tsc) into one minified file in
# place. A node process spends most of a CLI command's time resolving and compiling hundreds of
# modules (yargs, gRPC, protobufjs, ours): one file halves what `baton service ls` takes. The
# daemon's code (`baton init`/`join`) stays unbundled and loads on demand, next to the bundle;
# so do the packages with native parts or files of their own.
set -euo pipefail
cd "$(dirname "$0")/.."
# In place, so only over tsc's output: a second run would bundle the bundle.
if grep -q __batonRequire dist/src/baton.js; then
  echo "bundle-cli: dist/src/baton.js is already bundled; run scripts/build.sh (tsc first)" >&2
  exit 1
fi
npx --no-install esbuild dist/src/baton.js \
  --bundle --minify --sourcemap --platform=node --format=esm --target=node20 \
  --outfile=dist/src/baton.js --allow-overwrite --log-level=warning \
  --external:./daemon/commands.js \
  --external:dockerode --external:level --external:classic-level --external:pino \
  --banner:js="import { createRequire as __batonRequire } from 'node:module'; const require = __batonRequire(import.meta.url);"
