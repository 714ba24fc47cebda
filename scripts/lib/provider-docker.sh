# Step provider: the kreuzwerker/docker Terraform provider, in a filesystem mirror that the project's CLI
# config (TF_CLI_CONFIG_FILE, see env.sh) makes the only source for it. Where the Terraform registry
# answers, `terraform providers mirror` fills the mirror with PROVIDER_DOCKER_VERSION (3.6.2, what
# @cdktf/provider-docker 12.0.3 expects); otherwise the provider is built from its Go module source with
# scripts/go/terraform-provider-docker at the version the Go module proxy serves (see versions.sh).
# The stamp file's first word is the installed version; env.sh exports it for the stack to pin.
# WSFLEET_PROVIDER_SOURCE=auto|registry|build overrides the choice.
# shellcheck shell=bash

provider_mirror_dir() { printf '%s' "$WSFLEET_STATE/terraform/plugins"; }
provider_stamp_file() { printf '%s' "$WSFLEET_STATE/terraform/provider-docker.stamp"; }

provider_unpacked_bin() {
  local version="${1:-$PROVIDER_DOCKER_SOURCE_VERSION}"
  printf '%s/registry.terraform.io/kreuzwerker/docker/%s/%s/terraform-provider-docker_v%s' \
    "$(provider_mirror_dir)" "$version" "$(host_platform)" "$version"
}

provider_packed_zip() {
  printf '%s/registry.terraform.io/kreuzwerker/docker/terraform-provider-docker_%s_%s.zip' \
    "$(provider_mirror_dir)" "$PROVIDER_DOCKER_VERSION" "$(host_platform)"
}

# The CLI config: the mirror is the only installation source for kreuzwerker/docker (Terraform and
# OpenTofu hostnames); every other provider keeps the normal registry route.
write_terraformrc() {
  local rc="$TF_CLI_CONFIG_FILE" mirror tmp
  mirror="$(provider_mirror_dir)"
  mkdir -p "$(dirname "$rc")" "$mirror/registry.terraform.io"
  # OpenTofu resolves "kreuzwerker/docker" on registry.opentofu.org: same files.
  if [ ! -e "$mirror/registry.opentofu.org" ]; then
    ln -s registry.terraform.io "$mirror/registry.opentofu.org"
  fi
  tmp="$(mktemp "$rc.XXXXXX")"
  cat >"$tmp" <<EOF
# Written by scripts/setup.sh; exported as TF_CLI_CONFIG_FILE by scripts/lib/env.sh.
provider_installation {
  filesystem_mirror {
    path    = "$mirror"
    include = ["registry.terraform.io/kreuzwerker/docker", "registry.opentofu.org/kreuzwerker/docker"]
  }
  direct {
    exclude = ["registry.terraform.io/kreuzwerker/docker", "registry.opentofu.org/kreuzwerker/docker"]
  }
}
EOF
  if cmp -s "$tmp" "$rc"; then rm -f "$tmp"; else mv "$tmp" "$rc"; fi
}

provider_present() {
  local stamp
  stamp="$(cat "$(provider_stamp_file)" 2>/dev/null || true)"
  case "$stamp" in
    "$PROVIDER_DOCKER_SOURCE_VERSION source $PROVIDER_DOCKER_SOURCE_PSEUDO"*) [ -x "$(provider_unpacked_bin)" ] ;;
    "$PROVIDER_DOCKER_VERSION registry"*) [ -f "$(provider_packed_zip)" ] ;;
    *) return 1 ;;
  esac
}

terraform_registry_answers() {
  node -e '
    fetch("https://registry.terraform.io/v1/providers/kreuzwerker/docker/versions", { signal: AbortSignal.timeout(5000) })
      .then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1));
  ' >/dev/null 2>&1
}

provider_from_registry() {
  local log="$WSFLEET_STATE/logs/provider-docker-mirror.log" work
  work="$(mktemp -d)"
  cat >"$work/main.tf.json" <<EOF
{ "terraform": { "required_providers": { "docker": { "source": "kreuzwerker/docker", "version": "$PROVIDER_DOCKER_VERSION" } } } }
EOF
  # `providers mirror` downloads from the origin registry; a plain CLI config keeps our mirror out of it.
  if ! (cd "$work" && TF_CLI_CONFIG_FILE=/dev/null "$(terraform_bin)" providers mirror -platform="$(host_platform)" "$(provider_mirror_dir)" >"$log" 2>&1); then
    rm -rf "$work"
    step_fail "terraform providers mirror failed although the registry answered; retry, or force the source build with WSFLEET_PROVIDER_SOURCE=build" "$log"
  fi
  rm -rf "$work"
  echo "$PROVIDER_DOCKER_VERSION registry" >"$(provider_stamp_file)"
  step_done "installed" "kreuzwerker/docker $PROVIDER_DOCKER_VERSION from the Terraform registry into the filesystem mirror"
}

provider_from_source() {
  local moddir="$WSFLEET_ROOT/scripts/go/terraform-provider-docker"
  local log="$WSFLEET_STATE/logs/provider-docker-build.log" bin tmp short="${PROVIDER_DOCKER_SOURCE_PSEUDO##*-}"
  require_go "the kreuzwerker/docker provider"
  bin="$(provider_unpacked_bin)"
  mkdir -p "$(dirname "$bin")" "$(dirname "$log")"
  tmp="$bin.tmp.$$"
  echo "--- $(date -u +%FT%TZ) build kreuzwerker/docker $PROVIDER_DOCKER_SOURCE_VERSION from source" >"$log"
  if ! grep -q "kreuzwerker/terraform-provider-docker $PROVIDER_DOCKER_SOURCE_PSEUDO\$" "$moddir/go.mod"; then
    step_fail "scripts/go/terraform-provider-docker/go.mod must replace the provider with $PROVIDER_DOCKER_SOURCE_PSEUDO (scripts/lib/versions.sh)"
  fi
  # go.sum is committed; the build is -mod=readonly: it edits nothing and checks every module's hash.
  if ! (cd "$moddir" && GOFLAGS=-mod=readonly nice -n 10 go build -trimpath \
    -ldflags "-s -w -X main.version=$PROVIDER_DOCKER_SOURCE_VERSION" \
    -o "$tmp" github.com/terraform-providers/terraform-provider-docker >>"$log" 2>&1); then
    rm -f "$tmp"
    step_fail "building kreuzwerker/docker $PROVIDER_DOCKER_SOURCE_VERSION from Go module source failed (Go module proxy reachable?)" "$log"
  fi
  if ! go version -m "$tmp" 2>/dev/null | grep -Eq -- "-${short}([[:space:]]|$)"; then
    rm -f "$tmp"
    step_fail "the built provider does not come from commit ${short} (check the replace directive in scripts/go/terraform-provider-docker/go.mod)"
  fi
  mv -f "$tmp" "$bin"
  echo "$PROVIDER_DOCKER_SOURCE_VERSION source $PROVIDER_DOCKER_SOURCE_PSEUDO" >"$(provider_stamp_file)"
  step_done "built" "kreuzwerker/docker $PROVIDER_DOCKER_SOURCE_VERSION from github.com/kreuzwerker/terraform-provider-docker@$PROVIDER_DOCKER_SOURCE_PSEUDO (the Go module proxy serves no v3.6.2: see scripts/lib/versions.sh)"
}

setup_provider_docker() {
  write_terraformrc
  if provider_present; then
    step_done "already present" "kreuzwerker/docker $(cut -d' ' -f1-2 "$(provider_stamp_file)")"
    return
  fi
  case "${WSFLEET_PROVIDER_SOURCE:-auto}" in
    registry) provider_from_registry ;;
    build) provider_from_source ;;
    auto)
      if terraform_registry_answers; then provider_from_registry; else provider_from_source; fi
      ;;
    *) step_fail "WSFLEET_PROVIDER_SOURCE='${WSFLEET_PROVIDER_SOURCE}' is not one of auto, registry, build" ;;
  esac
}
