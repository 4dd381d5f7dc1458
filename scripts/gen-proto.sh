#!/usr/bin/env bash
# Generates the TypeScript types and protobuf codecs of every proto/*.proto into proto/gen/
# (protobufjs static code: pbjs writes the ES module, pbts its .d.ts). This is the one way
# the project gets message types: nothing in proto/gen/ is written by hand or committed.
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p proto/gen
for proto in proto/*.proto; do
  name=$(basename "$proto" .proto)
  out="proto/gen/$name.js"
  # Regenerate only when the .proto is newer than its output.
  if [ ! -f "$out" ] || [ "$proto" -nt "$out" ] || [ ! -f "proto/gen/$name.d.ts" ]; then
    npx --no-install pbjs -t static-module -w es6 --force-number --no-verify --no-delimited --no-beautify -o "$out" "$proto"
    # 64-bit integers decode as plain numbers, as pbts declares them (--force-number does not
    # reach the decoders while the long package is installed); every value we store is < 2^53.
    sed -i 's|^import \$protobuf from "protobufjs/minimal.js";$|&\n$protobuf.util.Long = null;\n$protobuf.configure();|' "$out"
    npx --no-install pbts -o "proto/gen/$name.d.ts" "$out"
  fi
done
