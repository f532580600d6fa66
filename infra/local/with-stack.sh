#!/usr/bin/env bash
# Runs a command against a fresh local stack: starts `pregon-local up` in the
# background, waits until it is ready, runs "$@", then stops the stack.
# The command's exit status is this script's.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
profile="${PREGON_PROFILE:-debug}"
# The binaries cargo built: CARGO_TARGET_DIR when set, as cargo does, else target/.
bin="${CARGO_TARGET_DIR:-$root/target}/$profile/pregon-local"
state="$root/.cache/local"
mkdir -p "$state"
rm -f "$state/stack.json"
"$bin" up --api-port "${PREGON_API_PORT:-0}" > "$state/stack.out" 2>&1 &
stack_pid=$!
stop() {
  kill -TERM "$stack_pid" 2>/dev/null || true
  for _ in $(seq 1 50); do kill -0 "$stack_pid" 2>/dev/null || return 0; sleep 0.1; done
  kill -KILL "$stack_pid" 2>/dev/null || true
}
trap stop EXIT
for _ in $(seq 1 1200); do
  [ -f "$state/stack.json" ] && break
  if ! kill -0 "$stack_pid" 2>/dev/null; then
    echo "the local stack failed to start:" >&2; cat "$state/stack.out" >&2; exit 1
  fi
  sleep 0.1
done
[ -f "$state/stack.json" ] || { echo "the local stack did not start in 120 s" >&2; cat "$state/stack.out" >&2; exit 1; }
export PREGON_STACK_FILE="$state/stack.json"
"$@"
