# Step images: every tag in images/versions.json present in the local Docker engine.
# Present → nothing to do. Otherwise `docker pull` (short time-out). Otherwise a local stand-in with the
# same tag: a Debian base made with debootstrap (cached as a tarball, imported once), plus a COPY-only
# Dockerfile from images/<name>/ built with no network. Stand-ins carry LABEL org.ws-fleet.stand-in=true.
# shellcheck shell=bash

STANDIN_BASE_IMAGE="ws-fleet/standin-base:${STANDIN_SUITE}-r${STANDIN_BASE_RECIPE}"
IMAGE_PULL_TIMEOUT="${WSFLEET_IMAGE_PULL_TIMEOUT:-60}"

standin_rootfs_tarball() {
  printf '%s/cache/rootfs-%s-minbase-r%s.tar.gz' "$WSFLEET_STATE" "$STANDIN_SUITE" "$STANDIN_BASE_RECIPE"
}

# Unmount whatever debootstrap may have left mounted inside a rootfs dir (never rm -rf through a mount).
standin_unmount_all() {
  local dir="$1" m
  for m in dev/pts dev sys proc; do
    if mountpoint -q "$dir/$m" 2>/dev/null; then umount -l "$dir/$m" || true; fi
  done
}

# The rootfs: Debian minbase + haproxy (Debian's package) + wget, users and paths the official images have.
build_standin_rootfs() {
  local tarball dir log="$WSFLEET_STATE/logs/debootstrap.log"
  tarball="$(standin_rootfs_tarball)"
  if ! command -v debootstrap >/dev/null 2>&1; then
    apt_install debootstrap
  fi
  if ! is_root; then
    step_fail "building the stand-in base with debootstrap needs root (or pull the images listed in images/versions.json)"
  fi
  dir="$WSFLEET_STATE/cache/rootfs-build"
  mkdir -p "$WSFLEET_STATE/cache"
  if [ -d "$dir" ]; then
    standin_unmount_all "$dir"
    rm -rf --one-file-system "$dir"
  fi
  echo "--- $(date -u +%FT%TZ) debootstrap $STANDIN_SUITE from $STANDIN_MIRROR" >>"$log"
  if ! nice -n 10 debootstrap --variant=minbase --include=haproxy,wget,ca-certificates \
    "$STANDIN_SUITE" "$dir" "$STANDIN_MIRROR" >>"$log" 2>&1; then
    standin_unmount_all "$dir"
    step_fail "debootstrap of Debian $STANDIN_SUITE from $STANDIN_MIRROR failed (Debian mirror reachable? set WSFLEET_DEBIAN_MIRROR to use another)" "$log"
  fi
  standin_unmount_all "$dir"
  {
    # node: uid/gid 1000 like the official node image; /app its working directory.
    chroot "$dir" groupadd --gid 1000 node
    chroot "$dir" useradd --uid 1000 --gid node --shell /bin/bash --create-home node
    install -d -o 1000 -g 1000 "$dir/app"
    # haproxy: the official image's config path and binary path.
    install -d "$dir/usr/local/etc/haproxy" "$dir/usr/local/sbin"
    ln -sf /usr/sbin/haproxy "$dir/usr/local/sbin/haproxy"
    install -d "$dir/etc/nats"
    # Image hygiene: no package lists, no downloaded .debs, no host name files.
    rm -rf "$dir"/var/lib/apt/lists/* "$dir"/var/cache/apt/archives/*.deb "$dir"/var/cache/apt/*.bin
    rm -f "$dir/etc/hostname" "$dir/etc/resolv.conf"
  } >>"$log" 2>&1 || step_fail "customising the stand-in rootfs failed" "$log"
  if ! tar -C "$dir" --numeric-owner -czf "$tarball.tmp" . 2>>"$log"; then
    rm -f "$tarball.tmp"
    step_fail "packing the stand-in rootfs failed (disk full?)" "$log"
  fi
  mv -f "$tarball.tmp" "$tarball"
  rm -rf --one-file-system "$dir"
}

ensure_standin_base() {
  if docker image inspect "$STANDIN_BASE_IMAGE" >/dev/null 2>&1; then return; fi
  local tarball
  tarball="$(standin_rootfs_tarball)"
  if [ ! -f "$tarball" ]; then build_standin_rootfs; fi
  if ! docker import \
    --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change 'CMD ["bash"]' \
    "$tarball" "$STANDIN_BASE_IMAGE" >>"$WSFLEET_STATE/logs/images.log" 2>&1; then
    step_fail "docker import of $tarball failed" "$WSFLEET_STATE/logs/images.log"
  fi
}

# The node binary from the npm registry package node-linux-<arch>@<version>, unpacked under cache/.
standin_node_binary() {
  local version="$1" arch pkg dir
  case "$(host_platform)" in
    linux_amd64) arch=x64 ;;
    linux_arm64) arch=arm64 ;;
    *) step_fail "no Node.js stand-in for platform $(host_platform)" ;;
  esac
  pkg="node-linux-${arch}@${version}"
  dir="$WSFLEET_STATE/cache/node-v${version}-linux-${arch}"
  if [ ! -x "$dir/bin/node" ]; then
    local tmp log="$WSFLEET_STATE/logs/images.log"
    tmp="$(mktemp -d)"
    if ! (cd "$tmp" && npm pack "$pkg" --silent >>"$log" 2>&1); then
      rm -rf "$tmp"
      step_fail "npm pack $pkg failed (npm registry reachable?)" "$log"
    fi
    mkdir -p "$tmp/x"
    tar -xzf "$tmp"/node-linux-*.tgz -C "$tmp/x" package/bin/node package/LICENSE
    if [ "$("$tmp/x/package/bin/node" --version)" != "v$version" ]; then
      rm -rf "$tmp"
      step_fail "$pkg does not contain node v$version"
    fi
    rm -rf "$dir"
    mkdir -p "$dir"
    mv "$tmp/x/package/bin" "$tmp/x/package/LICENSE" "$dir/"
    rm -rf "$tmp"
  fi
  printf '%s' "$dir/bin/node"
}

# Build context for images/<name>: its files plus the binaries it COPYs; prints the context dir.
standin_context() {
  local name="$1" ctx="$WSFLEET_STATE/cache/image-context/$1"
  rm -rf "$ctx"
  mkdir -p "$ctx"
  cp -a "$WSFLEET_ROOT/images/$name/." "$ctx/"
  case "$name" in
    node) cp "$(standin_node_binary "$(images_json nodeVersion)")" "$ctx/node" ;;
    nats)
      cp "$WSFLEET_BIN/nats-server" "$ctx/nats-server"
      # The official image also has the binary at /nats-server: COPY keeps this symlink as a symlink.
      mkdir -p "$ctx/rootfs"
      ln -s /usr/local/bin/nats-server "$ctx/rootfs/nats-server"
      ;;
    haproxy) ;;
    *) step_fail "no stand-in recipe for images/$name" ;;
  esac
  printf '%s' "$ctx"
}

# Hash of a stand-in's recipe (its images/<name> files, the base and the pinned program version).
standin_recipe_hash() {
  local name="$1" extra=""
  case "$name" in
    node) extra="$(images_json nodeVersion)" ;;
    nats) extra="$(images_json natsServerVersion)" ;;
  esac
  {
    echo "$STANDIN_BASE_IMAGE $extra"
    (cd "$WSFLEET_ROOT/images/$name" && find . -type f | LC_ALL=C sort | xargs sha256sum)
  } | sha256sum | cut -c1-16
}

# ensure_image NAME TAG: prints how the tag became present.
ensure_image() {
  local name="$1" tag="$2" recipe current log="$WSFLEET_STATE/logs/images.log"
  recipe="$(standin_recipe_hash "$name")"
  current="$(docker image inspect --format '{{index .Config.Labels "org.ws-fleet.stand-in.recipe"}}' "$tag" 2>/dev/null || echo absent)"
  if [ "$current" != "absent" ] && { [ -z "$current" ] || [ "$current" = "<no value>" ] || [ "$current" = "$recipe" ]; }; then
    step_done "already present" "$tag"
    return
  fi
  if [ "$current" = "absent" ] && [ "${WSFLEET_IMAGE_PULL:-1}" = "1" ]; then
    echo "--- $(date -u +%FT%TZ) docker pull $tag" >>"$log"
    if timeout "$IMAGE_PULL_TIMEOUT" docker pull "$tag" >>"$log" 2>&1; then
      step_done "installed" "$tag pulled"
      return
    fi
  fi
  if [ "$name" = "nats" ]; then
    # The stand-in carries the host build of nats-server at the official tag's version.
    local want have
    want="$(images_json natsServerVersion)"
    have="$("$WSFLEET_BIN/nats-server" --version 2>/dev/null | grep -Eo 'v[0-9.]+' | head -n1 || true)"
    if [ "$have" != "$want" ]; then go_install_pinned nats-server "github.com/nats-io/nats-server/v2@$want"; fi
  fi
  ensure_standin_base
  local ctx
  ctx="$(standin_context "$name")"
  echo "--- $(date -u +%FT%TZ) docker build stand-in $tag" >>"$log"
  if ! docker build --network none --build-arg "BASE_IMAGE=$STANDIN_BASE_IMAGE" \
    --label org.ws-fleet.stand-in=true --label "org.ws-fleet.stand-in.recipe=$recipe" \
    -t "$tag" "$ctx" >>"$log" 2>&1; then
    step_fail "docker build of the stand-in $tag failed" "$log"
  fi
  rm -rf "$ctx"
  step_done "built" "$tag local stand-in"
}

# One setup line per image: image/<name>.
setup_images() {
  local name tag
  for name in node haproxy nats; do
    tag="$(images_json "$name")"
    run_step "image/$name" ensure_image "$name" "$tag"
  done
}
