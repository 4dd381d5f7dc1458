#!/usr/bin/env bash
# Brings up a Docker engine for the e2e tests and imports local/busybox:1, a tiny image made
# from Debian's static busybox: the machines CI runs on start with no engine and reach no image
# registry, only Debian's packages. Idempotent: each step is skipped when already done.
#
#   scripts/docker-up.sh          # as root, or a user with password-less sudo
#
# The image carries every busybox applet in /bin (so a test can use any of them, e.g. httpd,
# wget, nc, hostname), /www/index.html ("ok") and /www/cgi-bin/hostname, a CGI script that
# answers with the serving container's hostname: `httpd -f -p 8080 -h /www` then GET
# /cgi-bin/hostname tells which replica answered, which is what mesh tests need to see
# load spread across tasks.
set -euo pipefail

IMAGE=local/busybox:1
# Bump when the image's contents change, so an engine that kept an older import gets the new one.
IMAGE_REVISION=2
DOCKERD_LOG=${DOCKERD_LOG:-/tmp/baton-dockerd.log}
# dockerd usually answers within a few seconds; a minute means it is not going to.
START_TIMEOUT_S=60

sudo=()
if [ "$(id -u)" -ne 0 ]; then sudo=(sudo -n); fi

log() { printf 'docker-up: %s\n' "$*" >&2; }

# docker.io pulls in containerd and runc; iptables is what dockerd's default bridge network
# needs; busybox-static gives a busybox that runs without any library in the image; iproute2
# is what baton's networks need besides.
missing=()
command -v dockerd >/dev/null 2>&1 || missing+=(docker.io)
# The image has no libraries, so only a statically linked busybox will run in it.
[ -x /bin/busybox ] && { ldd /bin/busybox 2>&1 || true; } | grep -q 'not a dynamic' || missing+=(busybox-static)
command -v iptables >/dev/null 2>&1 || [ -x /usr/sbin/iptables ] || missing+=(iptables)
# ip (iproute2): a node adds its service addresses to its bridges with it (worker/network/bridges.ts).
command -v ip >/dev/null 2>&1 || [ -x /usr/sbin/ip ] || [ -x /sbin/ip ] || missing+=(iproute2)
if [ ${#missing[@]} -gt 0 ]; then
  log "installing ${missing[*]}"
  # On a shared machine another apt-get may hold the dpkg lock for a while: wait, don't fail.
  apt_opts=(-qq -o DPkg::Lock::Timeout=300)
  "${sudo[@]}" apt-get "${apt_opts[@]}" update
  "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get "${apt_opts[@]}" install -y --no-install-recommends \
    "${missing[@]}" >/dev/null
fi

engine_up() { "${sudo[@]}" docker info >/dev/null 2>&1; }

if ! engine_up; then
  # No systemd on these machines: run the daemon directly, detached from this shell so it
  # outlives the script.
  log "starting dockerd (log: $DOCKERD_LOG)"
  "${sudo[@]}" sh -c "nohup dockerd >'$DOCKERD_LOG' 2>&1 &"
  deadline=$((SECONDS + START_TIMEOUT_S))
  until engine_up; do
    if [ $SECONDS -ge $deadline ]; then
      log "dockerd did not answer within ${START_TIMEOUT_S}s; last lines of $DOCKERD_LOG:"
      tail -n 30 "$DOCKERD_LOG" >&2 || true
      exit 1
    fi
    sleep 0.5
  done
fi

current=$("${sudo[@]}" docker image inspect --format '{{ index .Config.Labels "baton.image.revision" }}' \
  "$IMAGE" 2>/dev/null || true)
if [ "$current" != "$IMAGE_REVISION" ]; then
  log "importing $IMAGE (revision $IMAGE_REVISION)"
  root=$(mktemp -d)
  trap 'rm -rf "$root"' EXIT
  mkdir -p "$root/bin" "$root/etc" "$root/tmp" "$root/root" "$root/www/cgi-bin"
  chmod 1777 "$root/tmp"
  cp /bin/busybox "$root/bin/busybox"
  for applet in $(/bin/busybox --list); do
    [ "$applet" = busybox ] || ln -s busybox "$root/bin/$applet"
  done
  # Tools that look up users (id, whoami, httpd -u, ps) want these files.
  printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n' >"$root/etc/passwd"
  printf 'root:x:0:\nnogroup:x:65534:\n' >"$root/etc/group"
  echo ok >"$root/www/index.html"
  printf '#!/bin/sh\nprintf "Content-Type: text/plain\\r\\n\\r\\n"\nhostname\n' >"$root/www/cgi-bin/hostname"
  chmod 755 "$root/www/cgi-bin/hostname"
  tar -C "$root" --numeric-owner --owner=0 --group=0 -c . \
    | "${sudo[@]}" docker import \
        -c 'ENV PATH=/bin' \
        -c "LABEL baton.image.revision=$IMAGE_REVISION" \
        -c 'CMD ["/bin/sh"]' \
        - "$IMAGE" >/dev/null
fi

echo "docker ready: engine $("${sudo[@]}" docker version --format '{{.Server.Version}}'), image $IMAGE"
