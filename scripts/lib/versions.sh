# Pinned toolchain versions (image tags live in images/versions.json).
# shellcheck shell=bash

# k6 (Go module go.k6.io/k6), built into .ws-fleet/bin/k6 when no k6 v1.x is on PATH.
K6_VERSION="v1.8.1"

# kreuzwerker/docker Terraform provider expected by @cdktf/provider-docker 12.0.3.
PROVIDER_DOCKER_VERSION="3.6.2"
# Commit of the provider's tag v3.6.2 (built from source when the Terraform registry is unreachable).
PROVIDER_DOCKER_COMMIT="2f20f8c3ce8290fcd03d96e69c7bc6338897a479"

# Minimum Terraform CLI.
TERRAFORM_MIN_VERSION="1.5.0"

# Debian release and mirror for the stand-in image base (debootstrap).
STANDIN_SUITE="bookworm"
STANDIN_MIRROR="${WS_FLEET_DEBIAN_MIRROR:-http://deb.debian.org/debian}"
# Bump when the rootfs recipe in scripts/lib/images.sh changes: forces a new base image.
STANDIN_BASE_RECIPE="1"
