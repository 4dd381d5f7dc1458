#!/usr/bin/env bash
# Generates the TypeScript types and protobuf codecs of every proto/*.proto into proto/gen/
# (protobufjs static code: pbjs writes the ES module, pbts its .d.ts). This is the one way
# the project gets message types: nothing in proto/gen/ is written by hand or committed.
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p proto/gen
# One module per top-level protobuf package, so a message imported by several files is generated
# once: package raftpb (raft.proto) becomes raft.js; package baton (the public API) and
# baton.internal (internal.proto) are both baton.js, as baton.X and baton.internal.X.
for package in $(sed -n 's/^package \([a-z]*\)[.;].*/\1/p' proto/*.proto | sort -u); do
  files=$(grep -lE "^package $package[.;]" proto/*.proto | tr '\n' ' ')
  module=${package%pb}
  out="proto/gen/$module.js"
  # Regenerate only when a .proto is newer than its output.
  stale=false
  [ -f "$out" ] && [ -f "proto/gen/$module.d.ts" ] || stale=true
  for f in $files; do [ "$f" -nt "$out" ] && stale=true; done
  if $stale; then
    # shellcheck disable=SC2086
    npx --no-install pbjs -t static-module -w es6 --force-number --no-verify --no-delimited --no-beautify -p proto -o "$out" $files
    # 64-bit integers decode as plain numbers, as pbts declares them (--force-number does not
    # reach the decoders while the long package is installed). A value above 2^53 then decodes
    # inexactly and re-encodes wrapped: spec/validate.ts refuses such values at the control API.
    sed -i 's|^import \$protobuf from "protobufjs/minimal.js";$|&\n$protobuf.util.Long = null;\n$protobuf.configure();|' "$out"
    npx --no-install pbts -o "proto/gen/$module.d.ts" "$out"
  fi
done
