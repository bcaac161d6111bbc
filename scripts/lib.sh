# Shared steps of Berth's two commands. Sourced, not run.
#
# Every step says what it does, does nothing when its work is already done, and records what
# it started in $BERTH_WORK so that only those things are stopped afterwards.

BERTH_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BERTH_WORK=${BERTH_WORK:-$BERTH_ROOT/tests/.work}
REGISTRY=127.0.0.1:5000
TEST_IMAGE=$REGISTRY/berth-test/busybox
BENCH_IMAGE=$REGISTRY/berth-test/bench
mkdir -p "$BERTH_WORK"

say() { printf '\033[1m==> %s\033[0m\n' "$*"; }

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

# Installs the Debian packages given that are not installed yet.
need_packages() {
  local missing=()
  for pkg in "$@"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' \
      || missing+=("$pkg")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  say "installing system packages: ${missing[*]}"
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
    "${missing[@]}"
}

APP_PACKAGES=(build-essential pkg-config curl file libwebkit2gtk-4.1-dev libgtk-3-dev
  libayatana-appindicator3-dev librsvg2-dev libxdo-dev libssl-dev)

need_rust() {
  command -v cargo >/dev/null && return 0
  say "cargo not found: install Rust from your distribution or rustup, then run again"
  exit 1
}

engine_answers() { docker version --format '{{.Server.Version}}' >/dev/null 2>&1; }

# A Docker engine: the one that answers, else Debian's, started here.
need_engine() {
  if engine_answers; then
    say "Docker engine answers at ${DOCKER_HOST:-unix:///var/run/docker.sock}"
    return 0
  fi
  command -v dockerd >/dev/null || need_packages docker.io
  if command -v systemctl >/dev/null && systemctl is-system-running >/dev/null 2>&1; then
    say "starting the docker service"
    as_root systemctl start docker
  else
    say "starting dockerd (log: $BERTH_WORK/dockerd.log)"
    as_root sh -c "nohup dockerd >'$BERTH_WORK/dockerd.log' 2>&1 & echo \$! >'$BERTH_WORK/dockerd.pid'"
  fi
  for _ in $(seq 1 60); do engine_answers && return 0; sleep 0.5; done
  say "the Docker engine did not answer within 30 seconds"; exit 1
}

registry_answers() { curl -fsS "http://$REGISTRY/v2/" >/dev/null 2>&1; }

# A registry without auth on 127.0.0.1:5000, for images built here.
need_registry() {
  if registry_answers; then say "image registry answers on $REGISTRY"; return 0; fi
  need_packages docker-registry curl
  mkdir -p "$BERTH_WORK/registry"
  cat >"$BERTH_WORK/registry.yml" <<YAML
version: 0.1
storage:
  filesystem:
    rootdirectory: $BERTH_WORK/registry
  delete:
    enabled: true
http:
  addr: $REGISTRY
YAML
  say "starting an image registry on $REGISTRY (log: $BERTH_WORK/registry.log)"
  nohup docker-registry serve "$BERTH_WORK/registry.yml" >"$BERTH_WORK/registry.log" 2>&1 &
  echo $! >"$BERTH_WORK/registry.pid"
  for _ in $(seq 1 40); do registry_answers && return 0; sleep 0.25; done
  say "the registry did not answer"; exit 1
}

image_in_registry() {
  local repo=${1#"$REGISTRY"/} tag=$2
  curl -fsS "http://$REGISTRY/v2/$repo/manifests/$tag" \
    -H 'Accept: application/vnd.docker.distribution.manifest.v2+json' >/dev/null 2>&1
}

# The test image: Debian's static busybox in an otherwise empty root, imported into the
# engine and pushed to the local registry under the tags the tests use.
need_test_image() {
  if image_in_registry "$TEST_IMAGE" latest && image_in_registry "$TEST_IMAGE" pull \
    && image_in_registry "$TEST_IMAGE" notail; then
    say "test image $TEST_IMAGE is in the registry"; return 0
  fi
  need_packages busybox-static
  say "building test image $TEST_IMAGE from busybox-static"
  local root="$BERTH_WORK/rootfs"
  rm -rf "$root" && mkdir -p "$root/bin" "$root/tmp" "$root/data" "$root/etc" "$root/root"
  cp /bin/busybox "$root/bin/busybox"
  for applet in sh ls cat echo sleep tail mkdir rm ps top env true; do
    ln -sf busybox "$root/bin/$applet"
  done
  echo 'root:x:0:0:root:/root:/bin/sh' >"$root/etc/passwd"
  tar -C "$root" -cf "$BERTH_WORK/rootfs.tar" .
  docker import --change 'CMD ["/bin/sh"]' "$BERTH_WORK/rootfs.tar" "$TEST_IMAGE:latest" >/dev/null
  # The pull tag holds other bytes, so that removing it locally makes Create really pull.
  echo pull >"$root/etc/berth-test-tag"
  tar -C "$root" -cf "$BERTH_WORK/rootfs.tar" .
  docker import --change 'CMD ["/bin/sh"]' "$BERTH_WORK/rootfs.tar" "$TEST_IMAGE:pull" >/dev/null
  # Without tail, a container can be created but not started: the tests' late failure.
  rm "$root/bin/tail"
  tar -C "$root" -cf "$BERTH_WORK/rootfs.tar" .
  docker import --change 'CMD ["/bin/sh"]' "$BERTH_WORK/rootfs.tar" "$TEST_IMAGE:notail" >/dev/null
  for tag in latest pull notail; do docker push -q "$TEST_IMAGE:$tag" >/dev/null; done
  docker rmi "$TEST_IMAGE:pull" "$TEST_IMAGE:notail" >/dev/null
}

# The benchmark image: the test image plus four layers of 25 MB of random bytes each.
need_bench_image() {
  if image_in_registry "$BENCH_IMAGE" latest; then
    say "benchmark image $BENCH_IMAGE is in the registry"; return 0
  fi
  need_test_image
  say "building benchmark image $BENCH_IMAGE (about 100 MB in 5 layers)"
  local base="$TEST_IMAGE:latest" name
  for layer in 1 2 3 4; do
    name=berth-bench-build-$layer
    docker rm -f "$name" >/dev/null 2>&1 || true
    docker run --name "$name" --label io.berth.test=bench "$base" \
      sh -c "head -c 26214400 /dev/urandom > /layer-$layer.bin" >/dev/null
    docker commit "$name" "$BENCH_IMAGE:latest" >/dev/null
    docker rm "$name" >/dev/null
    base=$BENCH_IMAGE:latest
  done
  docker push -q "$BENCH_IMAGE:latest" >/dev/null
}

# Removes engine resources that tests labelled, left over by a run that died.
clean_test_resources() {
  local ids
  ids=$(docker ps -aq --filter label=io.berth.test)
  [ -n "$ids" ] && docker rm -f $ids >/dev/null
  ids=$(docker images -aq --filter label=io.berth.test | sort -u)
  [ -n "$ids" ] && { docker rmi -f $ids >/dev/null 2>&1 || true; }
  ids=$(docker volume ls -q --filter label=io.berth.test)
  [ -n "$ids" ] && docker volume rm -f $ids >/dev/null
  return 0
}

# Stops what these scripts started, and only that.
stop_started() {
  local pid
  for name in registry dockerd xvfb tauri-driver; do
    [ -f "$BERTH_WORK/$name.pid" ] || continue
    pid=$(cat "$BERTH_WORK/$name.pid")
    rm -f "$BERTH_WORK/$name.pid"
    kill "$pid" 2>/dev/null || continue
    # Wait for it to go: a dockerd still shutting down keeps its pid file, and the next start
    # would refuse to run beside it.
    for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
    say "stopped $name (pid $pid)"
  done
  return 0
}
