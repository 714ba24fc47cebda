# Pinned toolchain versions (image tags live in images/versions.json).
# shellcheck shell=bash

# kreuzwerker/docker Terraform provider expected by @cdktf/provider-docker 12.0.3.
PROVIDER_DOCKER_VERSION="3.6.2"
# Commit of the provider's tag v3.6.2. Where the Terraform registry answers, 3.6.2 comes from there.
PROVIDER_DOCKER_COMMIT="2f20f8c3ce8290fcd03d96e69c7bc6338897a479"
# Offline, the provider is built from Go module source. The Go module proxy reachable here refuses every
# route to v3.6.2's commit (commit queries, and even pseudo-versions known to exist upstream, answer 403
# "not available"); the one version of github.com/kreuzwerker/terraform-provider-docker it serves is the
# newest commit below, which is v4.6.0 plus later commits. That build is labelled for what it is, in Go's
# own pseudo-version convention (next patch, pre-release 0.<commit time>-<commit>), and the stack pins the
# label setup installed (WSFLEET_DOCKER_PROVIDER_VERSION, exported by env.sh). The ws-fleet stack only uses
# docker_network/volume/image/container attributes that 3.6.2 and 4.6 share; tests/e2e deploys with it.
PROVIDER_DOCKER_SOURCE_PSEUDO="v0.0.0-20260916201441-96d331c98ff4"
PROVIDER_DOCKER_SOURCE_VERSION="4.6.1-0.20260916201441-96d331c98ff4"

# Minimum Terraform CLI.
TERRAFORM_MIN_VERSION="1.5.0"

# Debian release and mirror for the stand-in image base (debootstrap).
STANDIN_SUITE="bookworm"
STANDIN_MIRROR="${WSFLEET_DEBIAN_MIRROR:-http://deb.debian.org/debian}"
# Bump when the rootfs recipe in scripts/lib/images.sh changes: forces a new base image.
STANDIN_BASE_RECIPE="1"
