#!/usr/bin/env bash
# Installs, from Debian's packages only (apt-get), what the tests need besides Node and Docker:
#  - chromium, the real browser of the web view's test (driven by playwright-core from npm,
#    never by a browser download);
#  - python3-grpcio, the gRPC client in another language that test/integration/python-grpc.test.ts
#    drives, with protoc and its gRPC Python plugin (protobuf-compiler, protobuf-compiler-grpc)
#    to make the stubs from proto/;
#  - iproute2, whose ss shows a listening socket's backlog (test/unit/tls-grpc.test.ts).
# Idempotent: nothing is installed that is already there.
set -euo pipefail

sudo=()
if [ "$(id -u)" -ne 0 ]; then sudo=(sudo -n); fi

missing=()
command -v chromium >/dev/null || missing+=(chromium)
/usr/bin/python3 -c 'import grpc' >/dev/null 2>&1 || missing+=(python3-grpcio)
command -v protoc >/dev/null || missing+=(protobuf-compiler)
command -v ss >/dev/null || missing+=(iproute2)
command -v grpc_python_plugin >/dev/null || missing+=(protobuf-compiler-grpc)
if [ ${#missing[@]} -gt 0 ]; then
  printf 'test-deps: installing %s\n' "${missing[*]}" >&2
  # On a shared machine another apt-get may hold the dpkg lock for a while: wait, don't fail.
  apt_opts=(-qq -o DPkg::Lock::Timeout=300)
  "${sudo[@]}" apt-get "${apt_opts[@]}" update
  "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get "${apt_opts[@]}" install -y --no-install-recommends "${missing[@]}" >/dev/null
fi
printf 'test-deps: %s; python3-grpcio %s; %s\n' "$(chromium --version 2>/dev/null)" "$(/usr/bin/python3 -c 'import grpc; print(grpc.__version__)')" "$(protoc --version)" >&2
