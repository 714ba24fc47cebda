# Step terraform: a Terraform CLI >= TERRAFORM_MIN_VERSION, or OpenTofu through cdktf's TERRAFORM_BINARY_NAME.
# shellcheck shell=bash

# terraform_bin: the binary cdktf will run.
terraform_bin() {
  printf '%s' "${TERRAFORM_BINARY_NAME:-terraform}"
}

terraform_cli_version() {
  # `version -json` needs no CLI config; the env's TF_CLI_CONFIG_FILE may point at a missing file.
  TF_CLI_CONFIG_FILE=/dev/null "$1" version -json 2>/dev/null |
    node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>{try{process.stdout.write(JSON.parse(s).terraform_version)}catch{process.exit(1)}})'
}

setup_terraform_cli() {
  local bin version
  bin="$(terraform_bin)"
  if ! command -v "$bin" >/dev/null 2>&1; then
    step_fail "neither 'terraform' nor 'tofu' is on PATH: install Terraform >= ${TERRAFORM_MIN_VERSION} (https://developer.hashicorp.com/terraform/install) or OpenTofu (https://opentofu.org/docs/intro/install/; cdktf then uses it via TERRAFORM_BINARY_NAME=tofu, which scripts/lib/env.sh sets)"
  fi
  if ! version="$(terraform_cli_version "$bin")" || [ -z "$version" ]; then
    step_fail "'$bin version -json' failed: reinstall Terraform >= ${TERRAFORM_MIN_VERSION}"
  fi
  if ! version_ge "$version" "$TERRAFORM_MIN_VERSION"; then
    step_fail "$bin $version is older than ${TERRAFORM_MIN_VERSION}: upgrade it (https://developer.hashicorp.com/terraform/install)"
  fi
  step_done "already present" "$bin $version"
}
