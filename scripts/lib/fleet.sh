# Functions shared by scripts/up.sh, down.sh, scale.sh and lb.sh. Source after scripts/lib/env.sh.
# shellcheck shell=bash
#
# Deployment selection: WSFLEET_PREFIX (default wsfleet). Each prefix has its own settings file
# (.ws-fleet/settings/<prefix>.json), secrets (.ws-fleet/secrets/<prefix>.env), Terraform state
# (.ws-fleet/state/<prefix>.tfstate), synth output dir and outputs file, so several deployments
# (e.g. the e2e tests' wsfleet-e2e) never touch each other.

export WSFLEET_PREFIX="${WSFLEET_PREFIX:-wsfleet}"
# cdktf must not phone home: no telemetry, no version check.
export CHECKPOINT_DISABLE=1 DISABLE_VERSION_CHECK=true CDKTF_DISABLE_TELEMETRY=true
export TF_IN_AUTOMATION=1

fleet_log() { printf 'ws-fleet: %s\n' "$*" >&2; }
fleet_die() { printf 'ws-fleet: error: %s\n' "$*" >&2; exit 1; }

# Synth output dir: cdktf.out for the default deployment, a private one under .ws-fleet for others.
fleet_outdir() {
  if [ -n "${WSFLEET_CDKTF_OUT:-}" ]; then
    printf '%s\n' "$WSFLEET_CDKTF_OUT"
  elif [ "$WSFLEET_PREFIX" = wsfleet ]; then
    printf '%s\n' "$WS_FLEET_ROOT/cdktf.out"
  else
    printf '%s\n' "$WS_FLEET_STATE/cdktf/$WSFLEET_PREFIX"
  fi
}
fleet_stack_dir() { printf '%s/stacks/%s\n' "$(fleet_outdir)" "$WSFLEET_PREFIX"; }
fleet_outputs_file() { printf '%s/outputs/%s.json\n' "$WS_FLEET_STATE" "$WSFLEET_PREFIX"; }

fleet_tsx() { (cd "$WS_FLEET_ROOT" && node --import tsx "$@"); }

# Creates the secrets file once (adding secrets a newer version introduced) and exports every secret as
# TF_VAR_<lower-case key> for Terraform (never printed): AUTH_SECRET -> TF_VAR_auth_secret (infra/secrets.ts).
fleet_export_secrets() {
  local file key value
  file="$(fleet_tsx infra/cli/secrets.ts ensure)" || fleet_die "could not create the deployment's secrets"
  while IFS='=' read -r key value; do
    case "$key" in
      [A-Z]*) export "TF_VAR_${key,,}=$value" ;;
    esac
  done <"$file"
  [ -n "${TF_VAR_auth_secret:-}" ] && [ -n "${TF_VAR_nats_user:-}" ] && [ -n "${TF_VAR_nats_password:-}" ] ||
    fleet_die "$file lacks AUTH_SECRET, NATS_USER or NATS_PASSWORD; delete it to regenerate (then redeploy)"
}

fleet_check_docker() {
  docker info >/dev/null 2>&1 || fleet_die "docker does not answer: run scripts/setup.sh (it starts dockerd) or start Docker"
}

fleet_cdktf() {
  (cd "$WS_FLEET_ROOT" && npx --no-install cdktf "$@")
}

# Applies the current settings: synth + plan + apply through `cdktf deploy`.
# WSFLEET_DEPLOY_ENGINE=terraform uses `cdktf synth` + plain `terraform` instead (same stack, same state).
fleet_apply() {
  local out outputs stack_dir
  out="$(fleet_outdir)"
  mkdir -p "$(dirname "$out")"
  outputs="$(fleet_outputs_file)"
  stack_dir="$(fleet_stack_dir)"
  mkdir -p "$(dirname "$outputs")" "$WS_FLEET_STATE/state"
  fleet_export_secrets
  if [ "${WSFLEET_DEPLOY_ENGINE:-cdktf}" = terraform ]; then
    fleet_cdktf synth --output "$out" >&2
    terraform -chdir="$stack_dir" init -input=false >&2
    terraform -chdir="$stack_dir" apply -input=false -auto-approve >&2
    terraform -chdir="$stack_dir" output -json >"$outputs.tf"
  else
    # --skip-provider-lock: cdktf would otherwise run `terraform providers lock`, which asks the registry
    # for every platform's checksums; the mirror (TF_CLI_CONFIG_FILE) is the only source for the provider.
    fleet_cdktf deploy "$WSFLEET_PREFIX" --auto-approve --skip-provider-lock --output "$out" --outputs-file "$outputs" >&2
  fi
}

fleet_destroy() {
  local out stack_dir
  out="$(fleet_outdir)"
  mkdir -p "$(dirname "$out")"
  stack_dir="$(fleet_stack_dir)"
  fleet_export_secrets
  export WSFLEET_SYNTH_FOR_DESTROY=1
  if [ "${WSFLEET_DEPLOY_ENGINE:-cdktf}" = terraform ]; then
    fleet_cdktf synth --output "$out" >&2
    terraform -chdir="$stack_dir" init -input=false >&2
    terraform -chdir="$stack_dir" destroy -input=false -auto-approve >&2
  else
    fleet_cdktf destroy "$WSFLEET_PREFIX" --auto-approve --skip-provider-lock --output "$out" >&2
  fi
}

# Seconds since $1 (from `date +%s.%N`), one decimal.
fleet_elapsed() { awk -v s="$1" -v e="$(date +%s.%N)" 'BEGIN { printf "%.1f", e - s }'; }

# Synthesizes the current settings and prints `terraform plan -json` (machine-readable, one JSON
# object per line) without applying anything. Used by the e2e tests to check what a change plans.
fleet_plan_json() {
  local out stack_dir
  out="$(fleet_outdir)"
  mkdir -p "$(dirname "$out")"
  stack_dir="$(fleet_stack_dir)"
  fleet_export_secrets
  fleet_cdktf synth --output "$out" >&2
  terraform -chdir="$stack_dir" init -input=false >&2
  terraform -chdir="$stack_dir" plan -json -input=false -lock-timeout=60s
}
