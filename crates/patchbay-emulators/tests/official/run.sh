#!/usr/bin/env bash
# Checks the Gmail emulator against Google's official Python client: builds and starts the
# emulator with the demo mailbox, runs gmail_client.py against it, stops it, and exits with
# the check's status. Needs `python3 -m pip install google-api-python-client==2.*`.
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../../../.." && pwd)"
port="${PORT:-18085}"
token="${GMAIL_TOKEN:-official-client-check-token}"

cd "$root"
cargo build -p patchbay-emulators --example gmail_serve
PORT="$port" GMAIL_TOKEN="$token" target/debug/examples/gmail_serve &
server=$!
trap 'kill "$server" 2>/dev/null || true; wait "$server" 2>/dev/null || true' EXIT

for _ in $(seq 1 100); do
    if curl -s -o /dev/null "http://127.0.0.1:$port/gmail/v1/users/me/profile"; then
        break
    fi
    sleep 0.1
done

status=0
GMAIL_BASE_URL="http://127.0.0.1:$port/" GMAIL_TOKEN="$token" \
    python3 "$here/gmail_client.py" || status=$?
exit "$status"
