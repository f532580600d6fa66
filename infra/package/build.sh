#!/usr/bin/env bash
# `make package`: builds every function of template.yaml for arm64 the way a deploy
# does (`sam build --beta-features`, BuildMethod rust-cargolambda: cargo-lambda
# cross-compiles and zig links, no Docker), then prints each function's binary and
# bootstrap size and the build time. Output in .aws-sam/ (ignored by git).
#   - cargo-lambda, ziglang and aws-sam-cli at pinned versions in their own venv,
#     .cache/package-venv, skipped when its stamp says requirements.txt is installed
#   - the Rust target aarch64-unknown-linux-gnu, added with rustup when missing
# Not part of `make test`: a clean build of all the binaries takes tens of minutes.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$root"
mkdir -p .cache

req="$root/infra/package/requirements.txt"
venv="$root/.cache/package-venv"
stamp="$venv/.installed-$(sha256sum "$req" | cut -c1-16)"
if [ ! -f "$stamp" ]; then
  echo "package: installing cargo-lambda, ziglang and aws-sam-cli into $venv" >&2
  rm -rf "$venv"
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet -r "$req"
  touch "$stamp"
fi

target="aarch64-unknown-linux-gnu"
if command -v rustup >/dev/null && ! rustup target list --installed | grep -qx "$target"; then
  echo "package: adding the Rust target $target" >&2
  rustup target add "$target"
fi

# sam finds cargo and cargo-lambda on PATH; cargo-lambda finds zig through the venv's
# python (`python -m ziglang`). sam runs, per distinct build, `cargo lambda build
# --release --arm64 --bin <BuildProperties.Binary>` at the workspace root (target/,
# binaries in target/lambda/<bin>/bootstrap); cargo-lambda adds panic=abort (the
# release profile does not set panic) and target-cpu=neoverse-n1 (Graviton2).
export PATH="$venv/bin:$PATH"
export SAM_CLI_TELEMETRY=0

# cfn-lint through sam (offline).
if "$venv/bin/sam" validate --lint --template template.yaml >.cache/sam-validate.log 2>&1; then
  echo "package: sam validate --lint: template.yaml is valid" >&2
else
  cat .cache/sam-validate.log >&2
  echo "package: sam validate --lint failed" >&2
  exit 1
fi

start=$(date +%s)
"$venv/bin/sam" build --beta-features --template template.yaml --build-dir .aws-sam/build
seconds=$(( $(date +%s) - start ))

# Logical id, the binary its BuildProperties name, the bootstrap's size and machine.
# The built template says where each function's bootstrap is: functions with the same
# build (the four senders: one binary, same metadata) share one folder.
"$venv/bin/python" - "$seconds" <<'PY'
import os, struct, sys
from samcli.yamlhelper import yaml_parse

seconds = int(sys.argv[1])
build = os.path.join(".aws-sam", "build")
with open(os.path.join(build, "template.yaml"), encoding="utf-8") as f:
    template = yaml_parse(f.read())
machines = {0xB7: "arm64", 0x3E: "x86_64"}
rows = []
for logical_id, res in template["Resources"].items():
    if res.get("Type") != "AWS::Serverless::Function":
        continue
    binary = res.get("Metadata", {}).get("BuildProperties", {}).get("Binary", "?")
    path = os.path.join(build, res["Properties"]["CodeUri"], "bootstrap")
    with open(path, "rb") as f:
        head = f.read(20)
    machine = machines.get(struct.unpack_from("<H", head, 18)[0], "other")
    rows.append((logical_id, binary, os.path.getsize(path), machine))

print()
print(f"{'function':<24} {'binary':<16} {'bootstrap':>10}  arch")
for logical_id, binary, size, machine in rows:
    print(f"{logical_id:<24} {binary:<16} {size / 1e6:>7.1f} MB  {machine}")
distinct = {b: s for _, b, s, _ in rows}
took = f"{seconds // 60} min {seconds % 60} s" if seconds >= 60 else f"{seconds} s"
print(f"{len(rows)} functions, {len(distinct)} binaries, "
      f"{sum(distinct.values()) / 1e6:.1f} MB in all; sam build took {took}")
if any(m != "arm64" for *_, m in rows):
    sys.exit("package: a bootstrap is not an arm64 binary")
PY
