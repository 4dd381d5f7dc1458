#!/usr/bin/env bash
# Compiles everything to dist/: generated proto code first, then TypeScript, then the generated
# ES modules that tsc does not copy.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/gen-proto.sh
npx --no-install tsc -p tsconfig.json
mkdir -p dist/proto/gen
cp proto/gen/*.js dist/proto/gen/
# The SDK's types (package.json "types"): declarations of the client entry and what it imports,
# beside their JavaScript, with the generated messages' own .d.ts.
npx --no-install tsc -p tsconfig.sdk.json
cp proto/gen/*.d.ts dist/proto/gen/
bash scripts/bundle-cli.sh
chmod +x dist/src/baton.js
exit 0
