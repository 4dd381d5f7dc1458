#!/usr/bin/env bash
# Installs the gRPC clients in other languages that the tests drive against a real cluster
# (test/integration/python-grpc.test.ts): Debian's python3-grpcio and python3-grpc-tools, whose
# protoc generates the stubs from proto/ at test time. Debian's packages only, through apt-get.
# Idempotent: nothing is installed when Debian's python3 already imports both.
set -euo pipefail

sudo=()
if [ "$(id -u)" -ne 0 ]; then sudo=(sudo -n); fi

if /usr/bin/python3 -c 'import grpc, grpc_tools.protoc' >/dev/null 2>&1; then exit 0; fi
printf 'test-clients-up: installing python3-grpcio python3-grpc-tools\n' >&2
# On a shared machine another apt-get may hold the dpkg lock for a while: wait, don't fail.
apt_opts=(-qq -o DPkg::Lock::Timeout=300)
"${sudo[@]}" apt-get "${apt_opts[@]}" update
"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get "${apt_opts[@]}" install -y --no-install-recommends \
  python3-grpcio python3-grpc-tools >/dev/null
